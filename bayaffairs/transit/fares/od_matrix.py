"""Origin-destination fare tables (MTR): a fare per station pair and rider category.

The table has the MTR open-data shape: from, to, and the adult, child, student and elderly fares
in minor units. A pair given one way only is taken to cost the same the other way; a pair given
both ways keeps both. A pair the table lacks has no fare (UnknownStop), except a trip that ends
where it started, which costs the cheapest fare from that station. The category columns are the
fares the tariff publishes; a concession configured for a category replaces its column (MTR
elderly riders pay by the HK $2 scheme, computed from the adult fare).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bayaffairs.adapters.protocols import RIDER_CATEGORIES
from bayaffairs.transit.fares.base import PairEngine
from bayaffairs.transit.fares.concessions import InvalidFareSettings, Pricing

CONCESSION_COLUMNS = tuple(c for c in RIDER_CATEGORIES if c != "adult")


class OdMatrix(PairEngine):
    model = "od_matrix"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], pricing: Pricing, time_zone: str) -> OdMatrix:
        """Keys: `stops` and `table`, rows {from, to, adult, child, student, elderly}."""
        stops: Sequence[str] = settings["stops"]
        known = set(stops)
        given: dict[tuple[str, str], Mapping[str, Any]] = {}
        for index, row in enumerate(settings["table"]):
            key = f"fares.table.{index}"
            pair = (row["from"], row["to"])
            for stop in pair:
                if stop not in known:
                    raise InvalidFareSettings(key, f"unknown station {stop!r}")
            if pair in given:
                raise InvalidFareSettings(key, f"{pair[0]} to {pair[1]} is given twice")
            if any(row[c] < 0 for c in RIDER_CATEGORIES):
                raise InvalidFareSettings(key, "fares cannot be negative")
            if any(row[c] > row["adult"] for c in CONCESSION_COLUMNS):
                raise InvalidFareSettings(key, "a concession fare is above the adult fare")
            given[pair] = row
        rows = dict(given)
        for (a, b), row in given.items():
            rows.setdefault((b, a), row)
        cheapest: dict[str, Mapping[str, Any]] = {}
        for (a, _), row in rows.items():
            if a not in cheapest or row["adult"] < cheapest[a]["adult"]:
                cheapest[a] = row
        for stop in stops:
            if stop not in cheapest:
                raise InvalidFareSettings("fares.table", f"station {stop!r} has no fares")
            rows.setdefault((stop, stop), cheapest[stop])
        fares = {(a, b): (row["adult"], f"{a} to {b} fare table") for (a, b), row in rows.items()}
        published = {(a, b, c): row[c] for (a, b), row in rows.items() for c in CONCESSION_COLUMNS}
        return cls(pricing, stops, fares, published)
