"""The rider's journeys in the app show how each fare came about: the full fare, the concession,
each fare product's discount by the product's name (not its id), the fare and the charge."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from playwright.async_api import expect

from tests.frontends.conftest import NOW, Site

PRODUCT = {"en": "Guangzhou monthly metro and bus discount", "zh-Hans": "广州地铁公交月度优惠"}


async def ride(pg: asyncpg.Connection, user_id: str, n: int, fare: int) -> str:
    """A completed Guangzhou Metro journey of `fare` (fen), waiting to be charged."""
    journey_id = f"jfe{user_id[-6:]}{n:03d}"
    at = NOW - timedelta(hours=5 - n)
    await pg.execute(
        """
        INSERT INTO journeys (id, account_token, user_id, operator, category, status, entry_station, entry_at,
            exit_station, exit_at, fare_amount, fare_currency, fare_rule, charge_amount, charge_currency,
            fx_rate, fx_source, charge_status)
        VALUES ($1, $2, $3, 'guangzhou_metro', 'adult', 'completed', 'xilang', $4, 'chen_clan_academy',
            $4, $5, 'CNY', 'test', $5, 'CNY', 1, 'same', 'pending')
        """,
        journey_id,
        journey_id.encode(),
        user_id,
        at,
        fare,
    )
    return journey_id


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
async def test_a_journey_shows_its_full_fare_the_discount_by_product_name_and_the_fare(
    site: Site, pg: asyncpg.Connection, language: str
) -> None:
    rider = await site.rider(f"commuter-{language}", wallet="CNY")
    _, me = await rider.get("/v1/me")
    # RMB 90 after the third journey, RMB 120 after the fourth: 20% off what is above RMB 80.
    ids = [await ride(pg, me["id"], n, 3000) for n in range(4)]
    assert await site.services.transit.charges.charge_pending() == 4
    _, listed = await rider.get("/v1/journeys")
    last = next(j for j in listed["items"] if j["id"] == ids[3])
    assert (last["base_fare"]["amount"], last["discounts"][0]["amount"], last["fare"]["amount"]) == (
        3000,
        600,
        2400,
    )

    page = await site.page(language)
    await page.goto(site.url(f"/app/?view=ride&city=guangzhou&lang={language}#token={rider.token}"))
    journey = page.locator(f"li.journey[data-journey-id='{ids[3]}']")
    await expect(journey.locator("dd[data-part=base_fare]")).to_contain_text("30.00")
    discount = "[data-part=discount][data-product=gz_monthly_spend]"
    await expect(journey.locator(f"dt{discount}")).to_contain_text(PRODUCT[language])
    assert "gz_monthly_spend" not in await journey.inner_text()
    await expect(journey.locator(f"dd{discount}")).to_contain_text("6.00")
    await expect(journey.locator("dd[data-part=fare]")).to_contain_text("24.00")
    await expect(journey.locator("dd[data-part=charge]")).to_contain_text("24.00")
    # A journey below the first tier has nothing off: no discount line.
    first = page.locator(f"li.journey[data-journey-id='{ids[0]}']")
    await expect(first.locator("dd[data-part=fare]")).to_contain_text("30.00")
    await expect(first.locator("[data-part=discount]")).to_have_count(0)
    await journey.scroll_into_view_if_needed()
    await site.shot(page, f"journey-discount-{language}")
