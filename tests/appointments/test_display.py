"""The hall display: numbers called recently and to which desk, for a screen in the hall."""

from __future__ import annotations

from typing import Any

from tests.appointments.conftest import DAY_AFTER, HENGQIN, SOCIAL, TOMORROW, Desk, at
from tests.appointments.test_counter import booked_for_today
from tests.support import Api


async def display_api(desk: Desk, centre: str = HENGQIN) -> Api:
    return desk.api.as_((await desk.services.credentials.issue("display", centre)).token)


async def checked_in(desk: Desk, counter: Api, n: int) -> list[dict[str, Any]]:
    people = await booked_for_today(desk, n, SOCIAL)
    for person in people:
        status, _ = await counter.post(
            f"/v1/counter/appointments/{person['id']}/check-in", {"payload": person["qr"]["payload"]}
        )
        assert status == 200
    return people


async def pull(api: Api, headers: dict[str, str] | None = None) -> tuple[int, str, Any]:
    async with api.client.get(
        "/v1/counter/display", headers={"Authorization": f"Bearer {api.token}", **(headers or {})}
    ) as resp:
        body = await resp.json() if resp.status == 200 else None
        return resp.status, resp.headers.get("ETag", ""), body


async def test_the_display_shows_called_numbers_and_desks_newest_first_without_names(desk: Desk) -> None:
    counter = await desk.counter()
    people = await checked_in(desk, counter, 3)
    screen = await display_api(desk)
    status, _, empty = await pull(screen)
    assert status == 200, empty
    assert (empty["centre_id"], empty["date"], empty["recent"], empty["waiting"]) == (
        HENGQIN,
        TOMORROW.isoformat(),
        [],
        3,
    )
    assert [d["counter"] for d in empty["desks"]] == ["A1", "A2", "A3", "A4"]
    assert all(d["queue_number"] is None for d in empty["desks"])

    _, first = await counter.post("/v1/counter/queue/next", {"counter": "A3"})
    desk.clock.advance(minutes=1)
    _, second = await counter.post("/v1/counter/queue/next", {"counter": "A4"})
    status, _, shown = await pull(screen)
    assert status == 200
    assert [(r["queue_number"], r["counter"]) for r in shown["recent"]] == [
        (second["appointment"]["queue_number"], "A4"),
        (first["appointment"]["queue_number"], "A3"),
    ]
    assert shown["recent"][0]["called_at"].endswith("+08:00")  # the centre's local time
    by_desk = {d["counter"]: d["queue_number"] for d in shown["desks"]}
    assert by_desk == {
        "A1": None,
        "A2": None,
        "A3": first["appointment"]["queue_number"],
        "A4": second["appointment"]["queue_number"],
    }
    assert shown["waiting"] == 1
    text = str(shown)
    for person in people:
        assert person["holder_name"] not in text and person["reference"] not in text
        assert person["id"] not in text


async def test_the_display_answers_304_until_a_number_is_called(desk: Desk) -> None:
    counter = await desk.counter()
    await checked_in(desk, counter, 2)
    screen = await display_api(desk)
    status, etag, _ = await pull(screen)
    assert status == 200 and etag
    status, again, body = await pull(screen, {"If-None-Match": etag})
    assert (status, again, body) == (304, etag, None)
    await counter.post("/v1/counter/queue/next", {"counter": "A3"})
    status, changed, body = await pull(screen, {"If-None-Match": etag})
    assert status == 200 and changed != etag and len(body["recent"]) == 1


async def test_a_counter_credential_sees_the_same_display(desk: Desk) -> None:
    counter = await desk.counter()
    await checked_in(desk, counter, 1)
    await counter.post("/v1/counter/queue/next", {"counter": "A4"})
    _, _, by_counter = await pull(counter)
    _, _, by_screen = await pull(await display_api(desk))
    assert by_counter == by_screen and by_counter["recent"][0]["counter"] == "A4"


async def test_a_display_token_shows_only_its_own_centre_and_does_nothing_else(desk: Desk) -> None:
    counter = await desk.counter()
    people = await checked_in(desk, counter, 1)
    await counter.post("/v1/counter/queue/next", {"counter": "A3"})
    elsewhere = await display_api(desk, "macao_video_counters")
    status, _, other = await pull(elsewhere)
    assert status == 200 and other["centre_id"] == "macao_video_counters" and other["recent"] == []
    screen = await display_api(desk)
    for method, path, body in (
        ("GET", f"/v1/counter/appointments?date={TOMORROW}", None),
        ("POST", "/v1/counter/queue/next", {"counter": "A3"}),
        ("POST", f"/v1/counter/appointments/{people[0]['id']}/check-in", {}),
        ("POST", f"/v1/counter/appointments/{people[0]['id']}/outcome", {"outcome": "served"}),
    ):
        status, err = await screen.call(method, path, json=body)
        assert (status, err["error"]["code"]) == (403, "wrong_credential_kind"), path


async def test_a_booking_for_another_day_leaves_the_screen_as_it_was(desk: Desk) -> None:
    """Bookings for another day change the centre's change number but not today's screen."""
    counter = await desk.counter()
    await checked_in(desk, counter, 1)
    screen = await display_api(desk)
    _, _, before = await pull(screen)
    await desk.booked(at(DAY_AFTER, "09:00"), SOCIAL)
    _, _, after = await pull(screen)
    assert after == before
