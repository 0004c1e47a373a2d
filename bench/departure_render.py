"""One page of departures rendered two ways, in process: the search's hand-built JSON with seats
spliced in (handlers/travel.py) against DepartureSchema's dump, which it replaces.

    .venv/bin/python -m bench.departure_render

20 departures of two fare classes each, in zh-Hant, best of five runs of 300 pages. The two must
give the same JSON (checked first; tests/travel/test_departure_body.py checks it for any input).
"""

from __future__ import annotations

import timeit
from datetime import UTC, datetime, timedelta

import orjson

from bayaffairs.handlers import travel as h
from bayaffairs.handlers.endpoint import dump
from bayaffairs.handlers.schemas.travel import DeparturePage
from bayaffairs.i18n import Text, localise
from bayaffairs.money import Money
from bayaffairs.travel.search import DepartureView, FareView, Listing

now = datetime(2030, 1, 1, tzinfo=UTC)
views = [
    DepartureView(
        f"hzmb_bus.hk_macao.20300101.{i:04d}",
        "hzmb_bus",
        Text("HZMB Shuttle", "港珠澳穿梭巴士", "港珠澳穿梭巴士"),
        "bridge_bus",
        "hk_macao",
        "hk_port",
        "mo_port",
        now + timedelta(minutes=15 * i),
        now + timedelta(minutes=15 * i + 45),
        (
            FareView("standard", Text("Standard"), Money(6500, "HKD"), Money(6700, "MOP")),
            FareView("night", Text("Night"), Money(7000, "HKD"), None),
        ),
    )
    for i in range(20)
]
page = [Listing(v, (40 - i, i)) for i, v in enumerate(views)]


def fast() -> bytes:
    items = b",".join(h._listing(item, "zh-Hant") for item in page)
    return b'{"items":[' + items + b'],"next_cursor":' + orjson.dumps("c") + b"}"


def schema() -> bytes:
    items = []
    for item in page:
        d = localise(item.departure, "zh-Hant")
        for fare, seats in zip(d["fares"], item.seats_remaining, strict=True):
            fare["seats_remaining"] = seats
        items.append(d)
    return orjson.dumps(dump(DeparturePage, {"items": items, "next_cursor": "c"}))


def main() -> None:
    if orjson.loads(fast()) != orjson.loads(schema()):
        raise SystemExit("the two renderings differ")
    timings = {}
    for name, fn in (("fast path", fast), ("schema dump", schema)):
        timings[name] = min(timeit.repeat(fn, number=300, repeat=5)) / 300
        print(f"{name:12} {timings[name] * 1e6:8.1f} µs per page of 20")
    print(f"schema dump / fast path: {timings['schema dump'] / timings['fast path']:.0f}x")


if __name__ == "__main__":
    main()
