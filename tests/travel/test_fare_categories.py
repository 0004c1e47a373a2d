"""Fares by passenger category (issue 10 item 13): where a carrier has child and senior fares,
each passenger pays by the age their document's date of birth gives on the travel date, never
by the booking account's category."""

from __future__ import annotations

from datetime import date, timedelta

from tests.travel.conftest import HKID, HRP, HZMB, Trip, hkid_number, hzmb_fare


def born(travel_day: date, years: int, days: int = 0) -> str:
    """A date of birth making the holder `years` old on `travel_day`, `days` later."""
    return (travel_day.replace(year=travel_day.year - years) + timedelta(days=days)).isoformat()


async def test_each_passenger_pays_by_the_age_on_their_document_not_by_the_account(trip: Trip) -> None:
    departure = await trip.departure(HZMB, "hk_macao", hours=30)
    departs = await trip.departs_at(departure)
    day = departs.date()
    adult = hzmb_fare(departs)
    # The account says child (its identity provider's category): that prices nobody.
    child_account = await trip.api.sign_in("child-account", category="child")
    status, me = await child_account.get("/v1/me")
    assert (status, me["category"]) == (200, "child")

    def doc(n: int, name: str, birth: str | None) -> dict[str, object]:
        d: dict[str, object] = {**HKID, "number": hkid_number(n), "holder_name": name}
        if birth:
            d["date_of_birth"] = birth
        return d

    family = [
        await trip.document(doc(1, "Parent", born(day, 40)), child_account),
        await trip.document(doc(2, "Child", born(day, 11, days=1)), child_account),  # 11 on the day
        await trip.document(doc(3, "Twelve today", born(day, 12)), child_account),
        await trip.document(doc(4, "Grandma", born(day, 65)), child_account),
        await trip.document(doc(5, "No birth date", None), child_account),
    ]
    status, booking = await trip.hold(departure, family, rider=child_account)
    assert status == 201, booking
    categories = [p["category"] for p in booking["passengers"]]
    assert categories == ["adult", "child", "adult", "senior", "adult"]
    fares = [p["fare"]["amount"] for p in booking["passengers"]]
    assert fares == [adult, adult // 2, adult, adult // 2, adult]
    assert booking["total"]["amount"] == sum(fares)

    # A carrier without category fares prices everyone as an adult.
    xrl = await trip.departure("xrl", "wkl_futian", hours=30)
    permit = {**HRP, "holder_name": "Child on the train", "date_of_birth": born(day, 8)}
    status, train = await trip.hold(
        xrl, [await trip.document(permit, child_account)], "second", rider=child_account
    )
    assert status == 201, train
    assert train["passengers"][0]["category"] == "adult"
