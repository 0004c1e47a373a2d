"""The suite passes on any date at any hour: tests/ neither reads the wall clock nor writes a
calendar date that some later day will overtake (the convention is in tests/support.py)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from tests.support import START

TESTS = Path(__file__).parent
MARKER = "date under test"
# From a little before the tests' clock starts: a date after it is one the clock (or the wall
# clock, some day) reaches. Dates beyond FAR, decades on, are sentinels no suite will live to see.
SOON = START.date() - timedelta(days=60)
FAR = date(START.year + 30, 1, 1)

DASHED = re.compile(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?!\d)")
COMPACT = re.compile(r"(?<![\dA-Za-z])(20\d{2})(\d{2})(\d{2})(?=[T.]|\b)")
CONSTRUCTED = re.compile(r"\bdate(?:time)?\(\s*(\d{4})\s*,\s*(\d{1,2})\s*,\s*(\d{1,2})")
WALL_CLOCK = re.compile(
    r"\b(?:datetime\.now|datetime\.utcnow|datetime\.today|date\.today|time\.time)\(|SystemClock\("
)


def _dates(line: str) -> list[date]:
    found = []
    for pattern in (DASHED, COMPACT, CONSTRUCTED):
        for match in pattern.finditer(line):
            try:
                found.append(date(*map(int, match.groups())))
            except ValueError:
                continue
    return found


def _sources() -> list[tuple[str, int, str]]:
    return [
        (str(path.relative_to(TESTS.parent)), number, line)
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text().splitlines(), 1)
    ]


def near_dates(lines: list[tuple[str, int, str]]) -> list[str]:
    return [
        f"{where}:{number}: {line.strip()}"
        for where, number, line in lines
        if MARKER not in line and any(SOON <= d < FAR for d in _dates(line))
    ]


def wall_clock_reads(lines: list[tuple[str, int, str]]) -> list[str]:
    return [
        f"{where}:{number}: {line.strip()}"
        for where, number, line in lines
        if WALL_CLOCK.search(line) and not line.lstrip().startswith("#")
    ]


def test_no_test_writes_a_calendar_date_the_clock_will_reach() -> None:
    found = near_dates(_sources())
    assert not found, (
        "write these dates relative to the test clock (tests/support.py), or mark a date that is "
        f"the subject of its test with '# {MARKER}':\n" + "\n".join(found)
    )


def test_no_test_reads_the_wall_clock() -> None:
    found = wall_clock_reads(_sources())
    assert not found, "use the test clock (tests/support.py) instead:\n" + "\n".join(found)


def test_the_checks_see_what_they_are_meant_to_see() -> None:
    """Negative controls: each form of a near date and of a wall-clock read is caught."""
    soon = START.date() + timedelta(days=400)
    lines = [
        ("a.py", 1, f'    "expires": "{soon.isoformat()}",'),
        ("a.py", 2, f'    departure = "hzmb_bus.hk_macao.{soon:%Y%m%d}.0800"'),
        ("a.py", 3, f"    day = date({soon.year}, {soon.month}, {soon.day})"),
        ("a.py", 4, f'    at = "{soon:%Y%m%d}T010000Z"'),
        ("a.py", 5, f'    stamp = "{soon.isoformat()}"  # {MARKER}: the format of that day'),
        ("a.py", 6, '    born = "1990-04-02"; expired = "2001-01-01"; never = "2099-01-01"'),
        ("a.py", 8, f"    near = date({START.year + 29}, 12, 31)"),
        ("a.py", 7, '    phone, card = "+85291234567", "H12345678"'),
    ]
    assert [line.split(":")[1] for line in near_dates(lines)] == ["1", "2", "3", "4", "8"]
    reads = [
        ("b.py", 1, "    now = datetime.now(UTC)"),
        ("b.py", 2, "    t = int(time.time())"),
        ("b.py", 3, "    today = date.today()"),
        ("b.py", 4, "    clock = SystemClock()"),
        ("b.py", 5, "    started = time.monotonic()"),
        ("b.py", 6, "    now = clock.now()"),
    ]
    assert [line.split(":")[1] for line in wall_clock_reads(reads)] == ["1", "2", "3", "4"]
