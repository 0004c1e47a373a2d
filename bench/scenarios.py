"""The registry of scenarios: one entry per hot path, measured in the order listed.

Adding a path (holds, searches) is one `Scenario` appended to SCENARIOS; a credential or
record it needs becomes a method of `Fixtures` in bench/service.py. Paths whose requests must
never repeat (ride codes open once) take a `feed`; a load wrk cannot make (large batch uploads)
takes a `driver`; a load that must run while another is measured names it in `alongside`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from bench import appointments, burst, fuzz, travel, uploads
from bench.service import PLAIN, Fixtures, Variant
from bench.transit import DENY, OPEN, Assessment, ScanLoad, render_rate
from bench.wrk import Follow, Request, WrkResult

BASELINE = "baseline"

# Limits on, as the code runs them (one Redis INCR per request), but set so high they never
# trip: the default read limit (600/60 per rider) would turn all but the first 600 requests of
# a run into 429s, and the row would measure the rejection path instead.
RATE_LIMITED = Variant(
    "rate-limited",
    {"BAYAFFAIRS_RATE_LIMITS_READ": "1000000000/60", "BAYAFFAIRS_RATE_LIMITS_WRITE": "1000000000/60"},
)
# The limits exactly as config/app.toml ships them.
DEFAULT_LIMITS = Variant(
    "default-limits", {"BAYAFFAIRS_RATE_LIMITS_READ": None, "BAYAFFAIRS_RATE_LIMITS_WRITE": None}
)
# A rider may hold the most unpaid bookings config allows: the hot-departure load holds a seat
# per document, many per rider, and measures the holds, not the per-rider limit's refusals.
# Its 64 riders sign in at once, from one address: sign-ins are not limited either.
MANY_HOLDS = Variant(
    "many-holds", {"BAYAFFAIRS_TRAVEL_MAX_ACTIVE_HOLDS": "1000", "BAYAFFAIRS_RATE_LIMITS_AUTH": "0/1"}
)
# The access log on, at INFO (the test profile's WARNING level would drop every line unwritten).
ACCESS_LOG = Variant(
    "access-log", {"BAYAFFAIRS_LOGGING_ACCESS_LOG": "true", "BAYAFFAIRS_LOGGING_LEVEL": "INFO"}
)


class Feed(Protocol):
    """Fresh request bodies for one wrk run, and the checks after it (see bench/transit.py)."""

    def bodies(self, count: int) -> Iterable[bytes]: ...
    def assess(self, counters: dict[str, int], requests: int, non_2xx: int, errors: int) -> Assessment: ...


# A load made by Python instead of wrk: it warms up, then measures inside `window()` (the CPU
# accounting's interval), and returns wrk-like numbers plus its own figures.
Driver = Callable[[Fixtures, uploads.Timing, uploads.Window], tuple[WrkResult, Assessment]]


@dataclass(frozen=True)
class Aim:
    """The target a row is judged against in the report: a share of the baseline and a p99."""

    min_ratio: float | None = None
    max_p99_ms: float | None = None


@dataclass(frozen=True)
class Scenario:
    """One row of the report.

    `request` builds what wrk sends, from the fixtures of the server it runs against. Rows with
    `separate` set are printed in their own section, as they measure a setting rather than a
    path; `compare_to` names the row whose per-request cost they add to. `probe_ok` are the
    statuses a single request must answer before load is sent, so a broken setup fails fast
    instead of measuring error pages; `probe_contains` must also be in its answer (a scan's deny
    is a 200).

    `feed(fixtures, label)` supplies the bodies of each wrk run (warm-up and measured, each with
    its own label) when no body may be sent twice. `assess` turns a measured result into the
    row's own figures (after the load, so in-process references run on an idle server).
    `alongside` names a scenario whose load runs at the same time, on `alongside_connections`
    connections of their own, for the whole warm-up and measurement: its result is a figure of
    this row. `driver` replaces wrk altogether.
    """

    name: str
    what: str
    request: Callable[[Fixtures], Request]
    target: Literal["baseline", "service"] = "service"
    variant: Variant = PLAIN
    separate: bool = False
    compare_to: str | None = None
    probe_ok: tuple[int, ...] = (200,)
    probe_contains: str | None = None
    note: str = ""
    feed: Callable[[Fixtures, str], Feed] | None = None
    assess: Callable[[Fixtures, WrkResult], Assessment] | None = None
    alongside: str | None = None
    alongside_connections: int = 8
    driver: Driver | None = None
    aim: Aim | None = None


def _rider(fx: Fixtures) -> dict[str, str]:
    return {"Authorization": f"Bearer {fx.rider_token}"}


def _me(fx: Fixtures) -> Request:
    return Request("GET", "/v1/me", _rider(fx))


def _consent(fx: Fixtures) -> Request:
    body = json.dumps({"destination": "HK", "purpose": "travel_booking"}).encode()
    headers = {**_rider(fx), "Content-Type": "application/json"}
    return Request("POST", "/v1/me/consents", headers, body, unique_header="Idempotency-Key")


def _scan(fx: Fixtures) -> Request:
    """POST /v1/gate/scans as a bus gate; the body (a fresh code) comes from the feed."""
    headers = {"Authorization": f"Bearer {fx.transit.gate_token}", "Content-Type": "application/json"}
    return Request("POST", "/v1/gate/scans", headers, count={"open": OPEN, "deny": DENY})


def _scan_feed(fx: Fixtures, label: str) -> Feed:
    return ScanLoad(fx.transit, label)


def _scan_history_feed(fx: Fixtures, label: str) -> Feed:
    """Codes of riders with HISTORY_JOURNEYS past journeys each (bench/transit.py)."""
    return ScanLoad(fx.transit, label, fx.transit.history_riders)


def _ride_code_png(fx: Fixtures) -> Request:
    """POST /v1/ride-codes, then GET the png_url of the answer: what an app does to show a code."""
    rider = {"Authorization": f"Bearer {fx.code_rider_token}"}
    body = json.dumps({"city": "shenzhen"}).encode()
    return Request(
        "POST",
        "/v1/ride-codes",
        {**rider, "Content-Type": "application/json"},
        body,
        count={"png": b"\x89PNG"},
        follow=Follow('"png_url":"([^"]+)"', rider),
    )


def _png_figures(fx: Fixtures, result: WrkResult) -> Assessment:
    """Codes/s (a code issued and its PNG fetched) against one core rendering PNGs in-process."""
    images = result.counters.get("png", 0)
    per_second = images / result.seconds if result.seconds else 0.0
    ceiling = render_rate(fx.transit, 2.0)
    return Assessment(
        {
            "codes_per_s": per_second,
            "render_png_per_s_in_process": ceiling,
            "ratio_to_render": per_second / ceiling,
        },
        [
            f"{per_second:,.0f} codes+PNG/s = {per_second / ceiling:.2f}x "
            f"render_png ({ceiling:,.0f}/s in-process)"
        ],
        [] if images else ["no PNG answered"],
    )


def _upload(batch: int) -> Driver:
    def drive(fx: Fixtures, timing: uploads.Timing, window: uploads.Window) -> tuple[WrkResult, Assessment]:
        return uploads.measure(fx.port, fx.transit, batch, timing, window)

    return drive


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        BASELINE,
        "bare aiohttp app, GET /json via web.json_response",
        lambda fx: Request("GET", "/json"),
        target="baseline",
    ),
    Scenario("healthz", "GET /healthz: our middleware stack, no I/O", lambda fx: Request("GET", "/healthz")),
    Scenario(
        "regions",
        "GET /v1/regions: directory JSON with ETag",
        lambda fx: Request("GET", "/v1/regions", {"Accept-Language": "en"}),
    ),
    Scenario("me", "GET /v1/me: token cache hit + 1 PostgreSQL read", _me),
    Scenario(
        "consent",
        "POST /v1/me/consents, new Idempotency-Key each: write path",
        _consent,
        probe_ok=(200, 201),
    ),
    Scenario(
        "scan",
        "POST /v1/gate/scans, bus tap-in, a fresh code each: verify + group commit",
        _scan,
        feed=_scan_feed,
        probe_contains=OPEN,
        aim=Aim(min_ratio=0.20, max_p99_ms=25.0),
    ),
    Scenario(
        "ride_code_png",
        "POST /v1/ride-codes, then GET its png_url (rendered in the process pool)",
        _ride_code_png,
        probe_ok=(201,),
        assess=_png_figures,
    ),
    Scenario(
        "scan_with_png",
        "scan while 8 more connections issue codes and fetch their PNGs",
        _scan,
        feed=_scan_feed,
        probe_contains=OPEN,
        alongside="ride_code_png",
        alongside_connections=8,
        separate=True,
        compare_to="scan",
        aim=Aim(min_ratio=0.20, max_p99_ms=25.0),
    ),
    Scenario(
        "scan_history",
        "scan by riders with 1000 past journeys each (about 16 months of commuting)",
        _scan,
        feed=_scan_history_feed,
        probe_contains=OPEN,
        separate=True,
        compare_to="scan",
        aim=Aim(min_ratio=0.20, max_p99_ms=25.0),
    ),
    Scenario(
        "taps_batch",
        "POST /v1/gate/taps:batch, 1000 fresh offline taps a batch (Python load, 4 uploaders)",
        lambda fx: Request("POST", "/v1/gate/taps:batch"),
        driver=_upload(1000),
    ),
    Scenario(
        "me_ratelimit",
        "GET /v1/me, rate limits on (never tripping): + 1 Redis round trip",
        _me,
        variant=RATE_LIMITED,
        separate=True,
        compare_to="me",
    ),
    Scenario(
        "me_ratelimit_default",
        "GET /v1/me, default limits (600/60): mostly 429, the rejection path",
        _me,
        variant=DEFAULT_LIMITS,
        separate=True,
        compare_to="me",
        note="non-2xx expected (429)",
    ),
    Scenario(
        "healthz_accesslog",
        "GET /healthz with the JSON access log on (INFO, to a file)",
        lambda fx: Request("GET", "/healthz"),
        variant=ACCESS_LOG,
        separate=True,
        compare_to="healthz",
    ),
    Scenario(
        "taps_batch_2000",
        "taps_batch with 2000 taps a batch, the most the endpoint takes (MAX_BATCH_TAPS, within 1 MiB)",
        lambda fx: Request("POST", "/v1/gate/taps:batch"),
        driver=_upload(2000),
        separate=True,
        compare_to="taps_batch",
    ),
    Scenario(
        "counter_day",
        "GET /v1/counter/appointments?date=: a centre-day of 2000 appointments, as a counter (gzip)",
        appointments.counter_day,
        assess=appointments.counter_day_figures,
    ),
    Scenario(
        "counter_day_identity",
        "counter_day without Accept-Encoding: the plain ~0.7 MB body",
        appointments.counter_day_identity,
        assess=appointments.counter_day_figures,
    ),
    Scenario(
        "counter_day_304",
        "counter_day with its ETag in If-None-Match: the kept change number, then 304",
        appointments.counter_day_304,
        probe_ok=(304,),
    ),
    Scenario(
        "hot_slot",
        "POST /v1/appointments, 64 riders at once per slot, two services sharing 4 desks (Python load)",
        lambda fx: Request("POST", "/v1/appointments"),
        driver=appointments.hot_slot,
        variant=appointments.MANY_RIDERS,
    ),
    Scenario(
        "travel_search",
        "GET /v1/travel/departures of one origin and destination, 20 a page, anonymous",
        travel.search,
    ),
    Scenario(
        "travel_holds",
        "POST /v1/travel/bookings, 64 at once on one hot departure, vs a raw UPDATE+INSERT (Python load)",
        lambda fx: Request("POST", "/v1/travel/bookings"),
        variant=MANY_HOLDS,
        driver=travel.holds,
        aim=Aim(max_p99_ms=50.0),
    ),
    Scenario(
        "burst",
        "1,000 connections at once: sign-ins, seat holds, gate scans, slot bookings in turn (Python load)",
        lambda fx: Request("POST", "/v1/auth/sessions"),
        driver=burst.burst,
        variant=burst.BURST,
    ),
    Scenario(
        "fuzz",
        "the suite's OpenAPI fuzzing (tests/fuzz) with 200 examples per operation and credential kind",
        lambda fx: Request("GET", "/openapi.json"),
        driver=fuzz.fuzz,
        note="rows are pytest items (operation x credential), not requests",
    ),
)


def by_name() -> dict[str, Scenario]:
    return {s.name: s for s in SCENARIOS}


def select(only: list[str] | None) -> list[Scenario]:
    """The scenarios to run, in registry order; the baseline always runs, the ratios need it."""
    if not only:
        return list(SCENARIOS)
    known = by_name()
    unknown = [name for name in only if name not in known]
    if unknown:
        raise SystemExit(f"bench: unknown scenario(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [s for s in SCENARIOS if s.name in only or s.name == BASELINE]
