"""Shortest paths over a small network, all pairs at once.

Metro and light-rail networks here have tens of stations, so running Dijkstra from every
station when the engine is built costs milliseconds and leaves a dict lookup per trip.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from bayaffairs.transit.fares.concessions import InvalidFareSettings


def all_pairs_shortest(
    stops: Sequence[str], segments: Iterable[tuple[str, str, int]]
) -> dict[tuple[str, str], int]:
    """Length of the shortest path between every two stops (and 0 from a stop to itself).

    Segments run both ways; weights are positive integers (metres, or stations counted).
    Raises InvalidFareSettings when a segment names an unknown stop or the network is split.
    """
    known = set(stops)
    adjacency: dict[str, dict[str, int]] = {stop: {} for stop in stops}
    for index, (a, b, weight) in enumerate(segments):
        if a not in known or b not in known:
            raise InvalidFareSettings(f"segments.{index}", f"unknown stop {(b if a in known else a)!r}")
        if a == b or weight <= 0:
            raise InvalidFareSettings(f"segments.{index}", "a segment joins two stops and has a length")
        if weight < adjacency[a].get(b, weight + 1):
            adjacency[a][b] = adjacency[b][a] = weight
    out: dict[tuple[str, str], int] = {}
    for source in stops:
        best = {source: 0}
        heap = [(0, source)]
        while heap:
            length, stop = heapq.heappop(heap)
            if length > best[stop]:
                continue
            for neighbour, weight in adjacency[stop].items():
                candidate = length + weight
                if candidate < best.get(neighbour, candidate + 1):
                    best[neighbour] = candidate
                    heapq.heappush(heap, (candidate, neighbour))
        unreachable = [stop for stop in stops if stop not in best]
        if unreachable:
            raise InvalidFareSettings("segments", f"{unreachable[0]!r} is not connected to {source!r}")
        out.update(((source, target), length) for target, length in best.items())
    return out
