"""The TurboJET adapter, built from its shipped config block, against a local fake carrier."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from functools import cache
from typing import Any

import aiohttp
import pytest

from bayaffairs.adapters.protocols import CarrierHoldRequest, CarrierPassenger, CarrierRefused
from bayaffairs.config import load_config
from bayaffairs.errors import PartnerError
from tests.integrations.support import (
    PATIENT_TIMEOUT,
    SHORT_TIMEOUT,
    build_adapter,
    gives_up_in_time,
    unused_url,
)
from tests.integrations.turbojet.fake_carrier import FakeCarrier
from tests.support import START, MovableClock, next_weekday

FRIDAY = next_weekday(START.date(), "fri")
SATURDAY = FRIDAY + timedelta(days=1)
LATER = START + timedelta(hours=1)
SAILING = f"turbojet.sheung_wan_macao.{FRIDAY:%Y%m%d}.0800"


@cache
def shipped_settings() -> dict[str, Any]:
    """The `[adapters.turbojet]` block of config/cities/hong_kong.toml, as the test profile loads it."""
    config = load_config(profile="test", environ={})
    (block,) = [b for b in config.adapter_blocks if b.instance == "turbojet"]
    return dict(block.settings)


def make(http: aiohttp.ClientSession, base_url: str, **overrides: Any) -> Any:
    settings = shipped_settings() | {"base_url": base_url, "api_key": "tj-test-key"}
    return build_adapter("turbojet", settings | {"timeout_seconds": PATIENT_TIMEOUT} | overrides, http=http)


@pytest.fixture
async def carrier(clock: MovableClock) -> AsyncIterator[FakeCarrier]:
    async with FakeCarrier(clock) as fake:
        yield fake


def hold_request(reference: str = "bkg_1", seats: int = 2, sailing: str = SAILING) -> CarrierHoldRequest:
    """A hold until 10 minutes after START: the adapters and the fake here stay on START."""
    expires = START + timedelta(minutes=10)
    return CarrierHoldRequest(reference, sailing, "economy", seats, expires)


def passenger(n: int, **extra: str) -> CarrierPassenger:
    fields = {"holder_name": f"CHAN Tai Man {n}", "document_type": "hkid", "document_number": f"A12345{n}"}
    return CarrierPassenger(f"pax_{n}", fields | extra)


async def test_a_hold_takes_seats_at_the_carrier_and_answers_its_hold_id(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    request = hold_request()
    hold = await make(http, carrier.url).hold(request)
    assert hold.carrier_reference == carrier.holds["bkg_1"].hold_id
    assert abs(hold.expires_at - request.expires_at) < timedelta(seconds=1)
    assert carrier.seats_held(SAILING) == 2


async def test_every_call_sends_the_api_key_and_the_reference_as_header_and_body(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    turbojet = make(http, carrier.url)
    await turbojet.hold(hold_request())
    await turbojet.confirm("bkg_1", [passenger(1), passenger(2)])
    await turbojet.cancel("bkg_1")
    assert [r.verb for r in carrier.requests] == ["hold", "confirm", "cancel"]
    assert {r.api_key for r in carrier.requests} == {"tj-test-key"}
    assert {(r.idempotency_key, r.body["reference"]) for r in carrier.requests} == {("bkg_1", "bkg_1")}


async def test_the_carrier_may_keep_a_hold_shorter_than_asked(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    carrier.max_hold_seconds = 60
    hold = await make(http, carrier.url).hold(hold_request())
    assert hold.expires_at < START + timedelta(seconds=61)


async def test_retrying_a_hold_with_the_same_reference_returns_the_same_hold(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    turbojet = make(http, carrier.url)
    first = await turbojet.hold(hold_request())
    again = await turbojet.hold(hold_request())
    assert again.carrier_reference == first.carrier_reference
    assert (carrier.calls["hold"], carrier.made["hold"], carrier.seats_held(SAILING)) == (2, 1, 2)


async def test_a_hold_answered_too_late_is_a_partner_error_and_the_retry_finds_it(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    turbojet = make(http, carrier.url, timeout_seconds=SHORT_TIMEOUT)
    carrier.hold("hold")
    with pytest.raises(PartnerError) as caught:
        await turbojet.hold(hold_request())
    assert caught.value.details == {"partner": "turbojet"}
    assert carrier.held("hold") == 1  # still unanswered: we gave up on our own timeout
    assert carrier.seats_held(SAILING) == 2  # the carrier held them; we never heard
    carrier.release("hold", hold_more=False)
    hold = await turbojet.hold(hold_request())
    assert hold.carrier_reference == carrier.holds["bkg_1"].hold_id
    assert carrier.made["hold"] == 1


async def test_releasing_a_hold_whose_answer_was_lost_leaves_no_phantom_seat(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    turbojet = make(http, carrier.url)
    carrier.garble_next("hold")
    with pytest.raises(PartnerError):
        await turbojet.hold(hold_request())
    await turbojet.release("bkg_1")
    assert carrier.seats_taken(SAILING) == 0
    assert carrier.made["release"] == 1


async def test_a_carrier_that_never_answers_does_not_hang_the_caller(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    carrier.stall_next("confirm")
    async with gives_up_in_time():
        with pytest.raises(PartnerError):
            await make(http, carrier.url, timeout_seconds=SHORT_TIMEOUT).confirm("bkg_1", [passenger(1)])
    assert carrier.in_flight["confirm"] == 1  # still stalled: we gave up on our own timeout


@pytest.mark.parametrize("status", [500, 502, 503, 401, 429])
async def test_a_failing_carrier_is_a_partner_error_and_holds_nothing(
    http: aiohttp.ClientSession, carrier: FakeCarrier, status: int
) -> None:
    carrier.fail_next("hold", status)
    with pytest.raises(PartnerError):
        await make(http, carrier.url).hold(hold_request())
    assert carrier.seats_taken(SAILING) == 0


async def test_a_wrong_api_key_is_a_partner_error(http: aiohttp.ClientSession, carrier: FakeCarrier) -> None:
    with pytest.raises(PartnerError):
        await make(http, carrier.url, api_key="wrong").hold(hold_request())
    assert carrier.made["hold"] == 0


async def test_an_unreachable_carrier_is_a_partner_error(http: aiohttp.ClientSession) -> None:
    with pytest.raises(PartnerError):
        await make(http, unused_url()).hold(hold_request())


async def test_a_bare_404_is_a_wrong_url_not_the_carriers_refusal(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    with pytest.raises(PartnerError):
        await make(http, carrier.url + "elsewhere/").confirm("bkg_1", [passenger(1)])


async def test_more_seats_than_are_left_is_refused_as_sold_out(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    carrier.set_capacity(SAILING, economy=3)
    turbojet = make(http, carrier.url)
    await turbojet.hold(hold_request("bkg_1", seats=2))
    with pytest.raises(CarrierRefused) as caught:
        await turbojet.hold(hold_request("bkg_2", seats=2))
    assert caught.value.code == "sold_out"
    assert carrier.seats_held(SAILING) == 2


async def test_concurrent_holds_never_oversell_the_carrier(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    carrier.set_capacity(SAILING, economy=5)
    turbojet = make(http, carrier.url)
    results = await asyncio.gather(
        *(turbojet.hold(hold_request(f"bkg_{n}", seats=1)) for n in range(20)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, CarrierRefused)]
    assert len(refused) == 15 and {r.code for r in refused} == {"sold_out"}
    assert carrier.seats_held(SAILING) == 5


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("sold_out", None, "sold_out"),
        ("departed", 422, "departed"),
        ("hold_released", None, "hold_released"),
        ("something_new", 409, "sold_out"),
        ("something_new", 410, "hold_expired"),
        ("Not A Code", 422, "rejected"),
    ],
)
async def test_a_refusal_keeps_a_known_code_and_otherwise_says_what_the_status_means(
    http: aiohttp.ClientSession, carrier: FakeCarrier, code: str, status: int | None, expected: str
) -> None:
    carrier.refuse_next("hold", code, status)
    with pytest.raises(CarrierRefused) as caught:
        await make(http, carrier.url).hold(hold_request())
    assert caught.value.code == expected
    assert carrier.made["hold"] == 0


async def test_confirm_sells_the_held_seats_and_answers_the_booking_id(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    turbojet = make(http, carrier.url)
    await turbojet.hold(hold_request())
    confirmation = await turbojet.confirm("bkg_1", [passenger(1), passenger(2)])
    assert confirmation.carrier_reference == carrier.holds["bkg_1"].booking_id
    assert (carrier.seats_held(SAILING), carrier.seats_sold(SAILING)) == (0, 2)


async def test_confirm_sends_only_the_fields_the_manifest_declares(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    turbojet = make(http, carrier.url)
    await turbojet.hold(hold_request(seats=1))
    await turbojet.confirm("bkg_1", [passenger(1, date_of_birth="1990-01-01", phone="+85291234567")])
    (sent,) = carrier.holds["bkg_1"].passengers
    assert set(sent) == {"passenger_id", "holder_name", "document_type", "document_number", "date_of_birth"}
    assert set(sent) - {"passenger_id"} <= set(turbojet.manifest.personal_data)


async def test_a_confirm_whose_answer_failed_is_finished_by_the_retry_without_a_second_sale(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    turbojet = make(http, carrier.url)
    await turbojet.hold(hold_request())
    carrier.fail_next("confirm", 503, after_work=True)
    with pytest.raises(PartnerError):
        await turbojet.confirm("bkg_1", [passenger(1), passenger(2)])
    confirmation = await turbojet.confirm("bkg_1", [passenger(1), passenger(2)])
    assert confirmation.carrier_reference == carrier.holds["bkg_1"].booking_id
    assert (carrier.made["confirm"], carrier.seats_sold(SAILING)) == (1, 2)


async def test_confirming_an_expired_hold_is_refused_and_frees_the_seats(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    turbojet = make(http, carrier.url)
    await turbojet.hold(hold_request())
    carrier.expire("bkg_1")
    with pytest.raises(CarrierRefused) as caught:
        await turbojet.confirm("bkg_1", [passenger(1), passenger(2)])
    assert caught.value.code == "hold_expired"
    assert carrier.seats_taken(SAILING) == 0


async def test_holding_again_after_expiry_is_refused_rather_than_replayed(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    turbojet = make(http, carrier.url)
    await turbojet.hold(hold_request())
    carrier.expire("bkg_1")
    with pytest.raises(CarrierRefused) as caught:
        await turbojet.hold(hold_request())
    assert caught.value.code == "hold_expired"


async def test_confirming_a_hold_the_carrier_does_not_know_is_refused(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    with pytest.raises(CarrierRefused) as caught:
        await make(http, carrier.url).confirm("bkg_nowhere", [passenger(1)])
    assert caught.value.code == "unknown_hold"


async def test_the_wrong_number_of_passengers_is_refused(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    turbojet = make(http, carrier.url)
    await turbojet.hold(hold_request(seats=2))
    with pytest.raises(CarrierRefused) as caught:
        await turbojet.confirm("bkg_1", [passenger(1)])
    assert caught.value.code == "invalid_passengers"


async def test_release_gives_the_seats_back_and_is_idempotent(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    turbojet = make(http, carrier.url)
    await turbojet.hold(hold_request())
    await turbojet.release("bkg_1")
    await turbojet.release("bkg_1")
    await turbojet.release("bkg_never_held")
    assert (carrier.seats_taken(SAILING), carrier.made["release"]) == (0, 1)


async def test_a_confirmed_booking_cannot_be_released(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    turbojet = make(http, carrier.url)
    await turbojet.hold(hold_request(seats=1))
    await turbojet.confirm("bkg_1", [passenger(1)])
    with pytest.raises(CarrierRefused) as caught:
        await turbojet.release("bkg_1")
    assert caught.value.code == "already_confirmed"


async def test_cancel_puts_sold_seats_back_on_sale_once(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    turbojet = make(http, carrier.url)
    await turbojet.hold(hold_request(seats=1))
    await turbojet.confirm("bkg_1", [passenger(1)])
    await turbojet.cancel("bkg_1")
    await turbojet.cancel("bkg_1")
    assert (carrier.seats_taken(SAILING), carrier.made["cancel"]) == (0, 1)


async def test_cancelling_what_was_never_sold_is_refused(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    turbojet = make(http, carrier.url)
    with pytest.raises(CarrierRefused) as unknown:
        await turbojet.cancel("bkg_nowhere")
    await turbojet.hold(hold_request(seats=1))
    with pytest.raises(CarrierRefused) as unpaid:
        await turbojet.cancel("bkg_1")
    assert (unknown.value.code, unpaid.value.code) == ("unknown_booking", "not_confirmed")


async def test_availability_counts_what_is_held_and_sold(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    carrier.set_capacity(SAILING, economy=10)
    turbojet = make(http, carrier.url)
    await turbojet.hold(hold_request(seats=3))
    assert await turbojet.availability(SAILING) == {"economy": 7}


async def test_availability_of_a_sailing_the_carrier_lacks_is_refused(
    http: aiohttp.ClientSession, carrier: FakeCarrier
) -> None:
    carrier.default_capacity = None
    with pytest.raises(CarrierRefused) as caught:
        await make(http, carrier.url).availability(SAILING)
    assert caught.value.code == "unknown_sailing"


@pytest.mark.parametrize("verb", ["hold", "confirm", "availability"])
async def test_an_answer_that_is_not_json_is_a_partner_error(
    http: aiohttp.ClientSession, carrier: FakeCarrier, verb: str
) -> None:
    turbojet = make(http, carrier.url)
    await turbojet.hold(hold_request("bkg_0", seats=1))
    carrier.garble_next(verb)
    with pytest.raises(PartnerError):
        if verb == "hold":
            await turbojet.hold(hold_request())
        elif verb == "confirm":
            await turbojet.confirm("bkg_0", [passenger(1)])
        else:
            await turbojet.availability(SAILING)


@pytest.mark.parametrize(
    "answer",
    [
        [],
        {"hold_id": "TJH1", "reference": "bkg_other", "expires_at": LATER.isoformat()},
        {"hold_id": "", "reference": "bkg_1", "expires_at": LATER.isoformat()},
        {"hold_id": "TJH1", "reference": "bkg_1", "expires_at": LATER.replace(tzinfo=None).isoformat()},
        {"hold_id": "TJH1", "reference": "bkg_1", "expires_at": "soon"},
        {"hold_id": "TJH1", "reference": "bkg_1"},
    ],
)
async def test_a_hold_answer_that_is_not_about_this_hold_is_a_partner_error(
    http: aiohttp.ClientSession, carrier: FakeCarrier, answer: Any
) -> None:
    carrier.answer_next("hold", answer, status=201)
    with pytest.raises(PartnerError):
        await make(http, carrier.url).hold(hold_request())


@pytest.mark.parametrize(
    ("verb", "answer"),
    [
        ("confirm", {"booking_id": "TJB1", "reference": "bkg_other"}),
        ("confirm", {"reference": "bkg_1"}),
        ("cancel", {"reference": "bkg_other", "status": "cancelled"}),
        ("availability", {"sailing": SAILING, "seats": {"economy": -1}}),
        ("availability", {"sailing": "another", "seats": {"economy": 1}}),
    ],
)
async def test_other_answers_not_about_this_request_are_partner_errors(
    http: aiohttp.ClientSession, carrier: FakeCarrier, verb: str, answer: Any
) -> None:
    turbojet = make(http, carrier.url)
    carrier.answer_next(verb, answer)
    with pytest.raises(PartnerError):
        if verb == "confirm":
            await turbojet.confirm("bkg_1", [passenger(1)])
        elif verb == "cancel":
            await turbojet.cancel("bkg_1")
        else:
            await turbojet.availability(SAILING)


def test_the_shipped_timetable_runs_half_hourly_by_day_and_hourly_at_night() -> None:
    timetable = make(None, "http://127.0.0.1:1").timetable()  # type: ignore[arg-type]
    friday = [d for d in timetable.materialise(FRIDAY, 1) if d.route == "sheung_wan_macao"]
    local = [d.departs_at.strftime("%H:%M") for d in friday]
    assert local[:3] == ["07:00", "07:30", "08:00"]
    assert local[-8:] == ["22:30", "23:30", "00:30", "01:30", "02:30", "03:30", "04:30", "05:30"]
    assert all(d.arrives_at - d.departs_at == timedelta(hours=1) for d in friday)


@pytest.mark.parametrize(
    ("day", "minute", "fare"),
    [
        (FRIDAY, 8 * 60, 17500),  # Friday morning: weekday
        (SATURDAY, 8 * 60, 19000),  # Saturday morning: weekend
        (FRIDAY, 23 * 60 + 30, 22000),  # Friday night
        (SATURDAY, 24 * 60 + 30, 22000),  # Saturday's service at 00:30 Sunday: night wins
    ],
)
def test_the_shipped_fares_are_weekday_weekend_and_night(day: date, minute: int, fare: int) -> None:
    timetable = make(None, "http://127.0.0.1:1").timetable()  # type: ignore[arg-type]
    departure = timetable.departure("sheung_wan_macao", day, minute)
    assert departure is not None
    assert (departure.fares["economy"].amount, departure.fares["economy"].currency) == (fare, "MOP")


def test_describe_names_the_ferry_routes_and_says_it_is_remote() -> None:
    description = make(None, "http://127.0.0.1:1").describe()  # type: ignore[arg-type]
    assert description["mode"] == "ferry" and description["remote"] is True
    assert {r["id"] for r in description["routes"]} == {"sheung_wan_macao", "macao_sheung_wan"}
