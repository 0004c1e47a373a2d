"""The counter console's tools beside the day list: a queue number for someone without an
appointment (a walk-in), and closing a desk for a time (a block) and opening it again."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.frontends.conftest import DESKTOP, PHONE, TODAY, Site

SERVICE = {"en": "Social insurance", "zh-Hans": "社保"}
CLOSED = {"en": "Staff training", "zh-Hans": "员工培训"}


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
async def test_a_walk_in_gets_a_queue_number_and_joins_the_day(site: Site, language: str) -> None:
    counter = await site.device("counter", "hengqin_gasc")
    console = await site.page(language, viewport=DESKTOP if language == "en" else PHONE)
    await console.goto(site.url(f"/console/?lang={language}#token={counter.token}"))

    panel = console.locator("section.walk-in")
    service = panel.locator("select[name=walk_in_service]")
    await expect(service.locator("option[value=mo_social_insurance]")).to_have_text(SERVICE[language])
    await service.select_option("mo_social_insurance")
    await panel.locator("[data-action=walk-in]").click()
    issued = panel.locator(".walk-in-issued")
    await expect(issued).to_have_attribute("data-queue-number", "1")

    _, day = await counter.get("/v1/counter/appointments")
    (walk_in,) = [a for a in day["items"] if a["queue_number"] == 1]
    assert walk_in["service_id"] == "mo_social_insurance"
    await expect(issued).to_contain_text(walk_in["reference"])
    row = console.locator(f"tr[data-reference='{walk_in['reference']}']")
    await expect(row).to_have_attribute("data-status", walk_in["status"])  # in the day list at once
    await panel.scroll_into_view_if_needed()
    await site.shot(console, f"console-walk-in-{language}")


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
async def test_a_desk_is_closed_for_an_afternoon_and_opened_again(site: Site, language: str) -> None:
    counter = await site.device("counter", "hengqin_gasc")
    console = await site.page(language, viewport=DESKTOP if language == "en" else PHONE)
    await console.goto(site.url(f"/console/?lang={language}#token={counter.token}"))

    panel = console.locator("section.blocks")
    form = panel.locator("form.block-form")
    await form.locator("select[name=block_counter]").select_option("A3")
    await form.locator("input[name=block_start]").fill(f"{TODAY.isoformat()}T14:00")
    await form.locator("input[name=block_end]").fill(f"{TODAY.isoformat()}T15:30")
    await form.locator("input[name=block_reason]").fill(CLOSED[language])
    await form.locator("button[type=submit]").click()

    listed = panel.locator("li.block")
    await expect(listed).to_have_count(1)
    _, blocks = await counter.get("/v1/counter/blocks")
    (block,) = blocks["items"]
    # The times typed are the centre's wall times (Asia/Shanghai).
    assert (block["counter"], block["reason"]) == ("A3", CLOSED[language])
    assert (block["start"], block["end"]) == (f"{TODAY}T14:00:00+08:00", f"{TODAY}T15:30:00+08:00")
    await expect(listed).to_have_attribute("data-block-id", block["id"])
    await expect(listed).to_contain_text("14:00")
    await expect(listed).to_contain_text("15:30")
    await expect(listed).to_contain_text("A3")
    await expect(listed).to_contain_text(CLOSED[language])
    await panel.scroll_into_view_if_needed()
    await site.shot(console, f"console-blocks-{language}")

    await listed.locator("[data-action=unblock]").click()
    await expect(panel.locator("li.block")).to_have_count(0)
    _, after = await counter.get("/v1/counter/blocks")
    assert after["items"] == []
