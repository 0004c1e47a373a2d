"""The desk ledger on its own: placements never put two people on one desk at once."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bayaffairs.appointments.capacity import Ledger, Occupant, overlaps
from bayaffairs.appointments.model import Centre, Counter
from tests.support import START

T0 = START
SERVICES = ("s1", "s2", "s3")


def centre(counters: list[frozenset[str]]) -> Centre:
    return Centre(
        id="c",
        agency_id="a",
        name=None,  # type: ignore[arg-type]
        address=None,  # type: ignore[arg-type]
        region="MO",
        city=None,
        time_zone="Asia/Macau",
        reference_prefix="TS",
        hours={},
        closed_days=frozenset(),
        counters=tuple(Counter(f"K{i}", s) for i, s in enumerate(counters)),
    )


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


counter_sets = st.lists(st.frozensets(st.sampled_from(SERVICES), min_size=1), min_size=1, max_size=4)
requests = st.lists(
    st.tuples(
        st.sampled_from(SERVICES), st.integers(0, 8).map(lambda q: q * 15), st.sampled_from([15, 20, 30, 45])
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(counters=counter_sets, wanted=requests, blocked=st.booleans())
def test_every_placement_keeps_one_person_per_desk_on_a_desk_able_to_serve_them(
    counters: list[frozenset[str]], wanted: list[tuple[str, int, int]], blocked: bool
) -> None:
    c = centre(counters)
    block = [Occupant("block", "K0", at(30), at(60))] if blocked else []
    ledger = Ledger(c, block)
    for i, (service, start, minutes) in enumerate(wanted):
        found = ledger.place(service, at(start), at(start + minutes), f"a{i}")
        if found is None:
            continue
        assert "block" not in found.moves
        ledger.add(Occupant(f"a{i}", found.counter, at(start), at(start + minutes), service), found.moves)
        occupants = list(ledger.occupants.values())
        assert overlaps(occupants) == []
        for o in occupants:
            if o.service_id is not None:
                assert o.service_id in c.counter(o.counter).services  # type: ignore[union-attr]


def can_all_be_seated(c: Centre, services: list[str]) -> bool:
    """Brute force: distinct desks for everyone at one instant."""
    desks = [k.id for k in c.counters]
    return any(
        all(s in c.counter(d).services for s, d in zip(services, chosen, strict=True))  # type: ignore[union-attr]
        for chosen in itertools.permutations(desks, len(services))
    )


@settings(max_examples=300, deadline=None)
@given(counters=counter_sets, wanted=st.lists(st.sampled_from(SERVICES), max_size=6))
def test_at_one_instant_a_booking_is_refused_only_when_no_seating_exists(
    counters: list[frozenset[str]], wanted: list[str]
) -> None:
    c = centre(counters)
    ledger = Ledger(c, [])
    seated: list[str] = []
    for i, service in enumerate(wanted):
        found = ledger.place(service, at(0), at(30), f"a{i}")
        assert (found is not None) == can_all_be_seated(c, [*seated, service]), (seated, service)
        if found is not None:
            ledger.add(Occupant(f"a{i}", found.counter, at(0), at(30), service), found.moves)
            seated.append(service)


def test_remaining_counts_what_could_still_start_and_changes_nothing() -> None:
    c = centre([frozenset({"s1", "s2"}), frozenset({"s1"}), frozenset({"s2"})])
    ledger = Ledger(c, [Occupant("x", "K1", at(0), at(30), "s1")])
    assert ledger.remaining("s1", at(0), at(30)) == 1  # K0; x stays on K1
    assert ledger.remaining("s2", at(0), at(30)) == 2  # K0 and K2
    assert ledger.remaining("s2", at(30), at(45)) == 2
    assert list(ledger.occupants) == ["x"] and ledger.occupants["x"].counter == "K1"


def test_a_block_is_never_moved_and_closes_its_desk() -> None:
    c = centre([frozenset({"s1"}), frozenset({"s1"})])
    ledger = Ledger(c, [Occupant("b", "K0", at(0), at(60))])
    assert ledger.remaining("s1", at(15), at(30)) == 1
    found = ledger.place("s1", at(15), at(30))
    assert found is not None and found.counter == "K1" and not found.moves


def test_a_fixed_appointment_is_never_moved_to_make_room() -> None:
    """Someone checked in or called keeps their desk: `place` and `remaining` count them as fixed
    where they are. The same appointment not fixed is the negative control: it moves."""
    c = centre([frozenset({"s1", "s2"}), frozenset({"s1"})])  # s2: only K0
    for fixed in (False, True):
        ledger = Ledger(c, [Occupant("x", "K0", at(0), at(30), "s1", fixed=fixed)])
        found = ledger.place("s2", at(0), at(30))
        if fixed:
            assert found is None and ledger.remaining("s2", at(0), at(30)) == 0
        else:
            assert found is not None and (found.counter, dict(found.moves)) == ("K0", {"x": "K1"})
            assert ledger.remaining("s2", at(0), at(30)) == 1
    ledger = Ledger(c, [Occupant("x", "K0", at(0), at(30), "s1", fixed=True)])
    found = ledger.place("s1", at(0), at(30))  # beside it, on the other desk, is fine
    assert found is not None and found.counter == "K1" and not found.moves
    ledger.add(Occupant("y", "K1", at(0), at(30), "s1"), {})
    assert ledger.occupants["x"].fixed  # recording a placement keeps it fixed
