"""The registry of scenarios: one entry per hot path, measured in the order listed.

Adding a path (ride-code scans, holds, searches) is one `Scenario` appended to SCENARIOS; a
credential or record it needs becomes a method of `Fixtures` in bench/service.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bench.service import PLAIN, Fixtures, Variant
from bench.wrk import Request

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
# The access log on, at INFO (the test profile's WARNING level would drop every line unwritten).
ACCESS_LOG = Variant(
    "access-log", {"BAYAFFAIRS_LOGGING_ACCESS_LOG": "true", "BAYAFFAIRS_LOGGING_LEVEL": "INFO"}
)


@dataclass(frozen=True)
class Scenario:
    """One row of the report.

    `request` builds what wrk sends, from the fixtures of the server it runs against. Rows with
    `separate` set are printed in their own section, as they measure a setting rather than a
    path; `compare_to` names the row whose per-request cost they add to. `probe_ok` are the
    statuses a single request must answer before load is sent, so a broken setup fails fast
    instead of measuring error pages.
    """

    name: str
    what: str
    request: Callable[[Fixtures], Request]
    target: Literal["baseline", "service"] = "service"
    variant: Variant = PLAIN
    separate: bool = False
    compare_to: str | None = None
    probe_ok: tuple[int, ...] = (200,)
    note: str = ""


def _rider(fx: Fixtures) -> dict[str, str]:
    return {"Authorization": f"Bearer {fx.rider_token}"}


def _me(fx: Fixtures) -> Request:
    return Request("GET", "/v1/me", _rider(fx))


def _consent(fx: Fixtures) -> Request:
    body = json.dumps({"destination": "HK", "purpose": "travel_booking"}).encode()
    headers = {**_rider(fx), "Content-Type": "application/json"}
    return Request("POST", "/v1/me/consents", headers, body, unique_header="Idempotency-Key")


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
