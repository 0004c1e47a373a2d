"""Through journeys: one journey over several operators' joined networks, one fare, split by share.

A through-fare rule (`[through_fares.<id>]` in a city file: config/cities/*.toml) names
distance-band operators whose networks meet at shared stations (two metros), or whose lines make
one network though different companies run them (a line run under concession). A journey that
enters at a gate of one member and leaves at a gate of any member is one journey: priced once,
over the joined network (the shortest path; the bands of `fares_of` or the rule's own `fares`;
the entry operator's concessions and transfer discounts), and its revenue split by the rule's
`shares`: "distance" gives each operator its metres on the path, "fixed" the configured weight of
each operator whose lines the path uses. The domain knows no particular city: which operators,
which bands and which shares are all config.

Shares are whole minor units that add up exactly to the fare (`split`): each operator gets
floor(fare x weight / total weight); the few units left over (fewer than the operators) go one
each to the operators with the largest weights, ties to the lower operator id. Journeys store the
weights, not the amounts (`journeys.share_weights`), so a fare that changes later (a late tap-out,
a fare product) is split by the same rule; settlement applies it in SQL (journey_share(), in
db/migrations/0040_through_journeys.sql), and tests check both agree.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bayaffairs.memo import ProcessMemo
from bayaffairs.transit.fares.base import PairEngine
from bayaffairs.transit.fares.concessions import InvalidFareSettings
from bayaffairs.transit.fares.distance_bands import Bands, DistanceBands
from bayaffairs.transit.model import FareEngine, FareQuote, Trip


def split(fare: int, weights: Mapping[str, int]) -> dict[str, int]:
    """`fare` (minor units, >= 0) split by `weights` (positive): the parts add up to `fare`."""
    total = sum(weights.values())
    if fare < 0 or total <= 0 or any(w <= 0 for w in weights.values()):
        raise ValueError("split needs a fare of zero or more and positive weights")
    parts = {operator: fare * weight // total for operator, weight in weights.items()}
    left = fare - sum(parts.values())
    for operator in sorted(weights, key=lambda o: (-weights[o], o))[:left]:
        parts[operator] += 1
    return parts


class ThroughEngine(PairEngine):
    model = "through_fare"


@dataclass(frozen=True)
class Path:
    metres: int
    by_operator: tuple[tuple[str, int], ...]  # metres on each operator's lines, by operator id


class ThroughFares:
    """One rule: prices journeys between its members and tells whose lines each one used."""

    def __init__(self, rule_id: str, settings: Mapping[str, Any], engines: Mapping[str, FareEngine]) -> None:
        self.id = rule_id
        self.operators: tuple[str, ...] = tuple(settings["operators"])
        self.shares: str = settings.get("shares", "distance")
        self.weights: dict[str, int] = dict(settings.get("weights") or {})
        members: dict[str, DistanceBands] = {}
        for operator in self.operators:
            engine = engines.get(operator)
            if engine is None:
                raise InvalidFareSettings("operators", f"{operator!r} is not an enabled transit operator")
            if not isinstance(engine, DistanceBands):
                raise InvalidFareSettings("operators", f"{operator!r} is not priced by distance bands")
            members[operator] = engine
        fares_of = settings.get("fares_of")
        bands = members[fares_of].bands if fares_of else Bands.from_settings(settings["fares"])
        stops: list[str] = []
        for engine in members.values():
            stops.extend(s for s in sorted(engine.stops) if s not in stops)
        owned: list[tuple[str, str, int, str]] = []
        for operator, engine in members.items():
            owned.extend((a, b, metres, operator) for a, b, metres in engine.segments)
        self.paths = shortest_paths(stops, owned)
        fares = {
            pair: (bands.price(path.metres)[0], f"through fare {rule_id}: {bands.rule(path.metres)}")
            for pair, path in self.paths.items()
        }
        self._engines = {
            operator: ThroughEngine(engine.pricing, stops, fares) for operator, engine in members.items()
        }

    @classmethod
    def shared(
        cls, rule_id: str, settings: Mapping[str, Any], engines: Mapping[str, FareEngine]
    ) -> ThroughFares:
        """The rule, built once per process for the same settings and the same member engines.

        Building prices every pair of the joined network (~0.15 s for the two metros): a process
        that starts several apps from one config (the tests, one app or more a test) builds it
        once, as it loads each adapter's settings (and so its engine) once
        (`bayaffairs.adapters.registry.validate_settings`). A rule is read-only once built."""
        members = tuple(engines.get(o) for o in settings["operators"])
        key = (rule_id, json.dumps(settings, sort_keys=True, default=str), tuple(map(id, members)))
        # the entry holds its engines: an id in the key is still theirs
        return _SHARED.get(key, lambda: (members, cls(rule_id, settings, engines)))[1]

    def covers(self, entry_operator: str, exit_operator: str) -> bool:
        return entry_operator in self._engines and exit_operator in self._engines

    def fare(self, entry_operator: str, trip: Trip) -> FareQuote:
        """The through fare of `trip`, with the concessions and transfers of the entry operator."""
        return self._engines[entry_operator].fare(trip)

    def share_weights(self, entry_stop: str, exit_stop: str) -> dict[str, int]:
        """Each operator's weight in the revenue of a journey between two stops ({} when it went
        nowhere: it settles to the operator it entered)."""
        path = self.paths.get((entry_stop, exit_stop))
        if path is None:
            raise InvalidFareSettings("stops", f"no path from {entry_stop!r} to {exit_stop!r}")
        used = {operator: metres for operator, metres in path.by_operator if metres > 0}
        if self.shares == "fixed":
            return {operator: self.weights[operator] for operator in used}
        return used


_SHARED: ProcessMemo[tuple[str, str, tuple[int, ...]], tuple[tuple[FareEngine | None, ...], ThroughFares]] = (
    ProcessMemo(64)
)


def shortest_paths(
    stops: Sequence[str], segments: Sequence[tuple[str, str, int, str]]
) -> dict[tuple[str, str], Path]:
    """The shortest path between every two stops over segments (a, b, metres, operator), with
    the metres on each operator's lines. Ties keep the path found first (segments in config
    order), so the same config always gives the same shares. A segment two operators both list
    belongs to the first of the rule's operators."""
    known = set(stops)
    adjacency: dict[str, dict[str, tuple[int, str]]] = {stop: {} for stop in stops}
    for index, (a, b, metres, operator) in enumerate(segments):
        if a not in known or b not in known:
            raise InvalidFareSettings(f"segments.{index}", f"unknown stop {(b if a in known else a)!r}")
        if b not in adjacency[a] or metres < adjacency[a][b][0]:
            adjacency[a][b] = adjacency[b][a] = (metres, operator)
    out: dict[tuple[str, str], Path] = {}
    for source in stops:
        best = {source: 0}
        previous: dict[str, tuple[str, int, str]] = {}
        heap = [(0, source)]
        while heap:
            length, stop = heapq.heappop(heap)
            if length > best[stop]:
                continue
            for neighbour, (metres, operator) in adjacency[stop].items():
                candidate = length + metres
                if candidate < best.get(neighbour, candidate + 1):
                    best[neighbour] = candidate
                    previous[neighbour] = (stop, metres, operator)
                    heapq.heappush(heap, (candidate, neighbour))
        unreachable = [stop for stop in stops if stop not in best]
        if unreachable:
            raise InvalidFareSettings("segments", f"{unreachable[0]!r} is not connected to {source!r}")
        for target, length in best.items():
            by_operator: dict[str, int] = {}
            stop = target
            while stop != source:
                stop, metres, operator = previous[stop]
                by_operator[operator] = by_operator.get(operator, 0) + metres
            out[source, target] = Path(length, tuple(sorted(by_operator.items())))
    return out
