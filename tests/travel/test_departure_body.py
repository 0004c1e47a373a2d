"""Departure searches skip marshmallow when they answer (it cost fifty times the hand-built JSON
for a page of 20 on this machine): each departure's JSON is rendered once per language with a
placeholder for its seat counts, which are spliced in per request. That answer must be what
DepartureSchema dumps, for any departure, any seats and any language."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from bayaffairs.handlers.endpoint import dump
from bayaffairs.handlers.schemas.travel import DepartureSchema
from bayaffairs.handlers.travel import _SEATS, _listing
from bayaffairs.i18n import LANGUAGES, Text, localise
from bayaffairs.money import MINOR_UNITS, Money
from bayaffairs.travel.search import DepartureView, FareView, Listing

# Any text, and text that holds the placeholder the seat counts are spliced in at.
placeholder = str(_SEATS)
texts = st.one_of(
    st.text(max_size=30),
    st.just(placeholder),
    st.text(max_size=5).map(lambda t: f'{t}"seats_remaining":{placeholder}'),
)
moneys = st.builds(Money, st.integers(0, 10**9), st.sampled_from(sorted(MINOR_UNITS)))
names = st.builds(Text, texts, st.none() | texts, st.none() | texts)
instants = st.datetimes(timezones=st.just(UTC))
fares = st.builds(FareView, texts, names, moneys, st.none() | moneys)
views = st.builds(
    DepartureView,
    texts,
    texts,
    names,
    texts,
    texts,
    texts,
    texts,
    instants,
    instants,
    st.lists(fares, max_size=4).map(tuple),
)


@st.composite
def listings(draw: st.DrawFn) -> Listing:
    view = draw(views)
    seats = draw(st.lists(st.integers(0, 10_000), min_size=len(view.fares), max_size=len(view.fares)))
    return Listing(view, tuple(seats))


def schema_dump(item: Listing, language: str) -> Any:
    body = localise(item.departure, language)
    for fare, seats in zip(body["fares"], item.seats_remaining, strict=True):
        fare["seats_remaining"] = seats
    return dump(DepartureSchema, body)


@settings(max_examples=300, deadline=None)
@given(listings(), st.sampled_from(LANGUAGES))
def test_a_departure_answers_what_the_schema_dumps(item: Listing, language: str) -> None:
    assert orjson.loads(_listing(item, language)) == schema_dump(item, language)


@settings(max_examples=100, deadline=None)
@given(views, st.lists(st.integers(0, 10_000), min_size=8, max_size=8), st.sampled_from(LANGUAGES))
def test_the_same_departure_with_other_seats_left_answers_the_new_seats(
    view: DepartureView, seats: list[int], language: str
) -> None:
    first = Listing(view, tuple(seats[: len(view.fares)]))
    later = Listing(view, tuple(reversed(seats))[: len(view.fares)])
    assert orjson.loads(_listing(first, language)) == schema_dump(first, language)
    assert orjson.loads(_listing(later, language)) == schema_dump(later, language)
