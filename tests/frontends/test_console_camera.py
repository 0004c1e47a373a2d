"""The console's camera check-in: where the browser has BarcodeDetector, the clerk points the
camera at the rider's QR and the appointment is checked in. Debian's Chromium has no
BarcodeDetector on Linux, so the page gets a stand-in detector (it reads the payload the test
gives it) and a camera made from a canvas; everything after the detector is the real page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import expect

from tests.frontends.conftest import DESKTOP, TOMORROW, Site
from tests.privacy.conftest import MACAO_ID

CAMERA = """
(() => {
  const payload = %s;
  window.BarcodeDetector = class {
    constructor(options) { window.detectorFormats = options.formats; }
    async detect(source) { return source instanceof HTMLVideoElement ? [{ rawValue: payload }] : []; }
  };
  navigator.mediaDevices.getUserMedia = async () => {
    const canvas = document.createElement('canvas');
    canvas.getContext('2d').fillRect(0, 0, 10, 10);
    return canvas.captureStream();
  };
})();
"""


async def test_the_camera_reads_the_qr_and_checks_the_appointment_in(site: Site) -> None:
    rider = await site.rider("camera-applicant", wallet=None)
    status, _ = await rider.post("/v1/me/consents", {"destination": "CN", "purpose": "appointment"})
    assert status in (200, 201)
    status, doc = await rider.post("/v1/me/documents", MACAO_ID)
    assert status == 201, doc
    status, booked = await rider.post(
        "/v1/appointments",
        {
            "centre_id": "hengqin_gasc",
            "service_id": "mo_commercial_registration",
            "start": f"{TOMORROW.isoformat()}T10:00:00+08:00",
            "document_id": doc["id"],
        },
    )
    assert status == 201, booked
    await site.jump(24 * 3600)

    counter = await site.device("counter", "hengqin_gasc")
    console = await site.page("zh-Hant", viewport=DESKTOP)
    await console.add_init_script(CAMERA % json.dumps(booked["qr"]["payload"]))
    await console.goto(site.url(f"/console/?lang=zh-Hant#token={counter.token}"))
    row = console.locator(f"tr[data-reference='{booked['reference']}']")
    await expect(row).to_have_attribute("data-status", "booked")
    await console.locator("input[name=document_number]").fill(MACAO_ID["number"])  # Hengqin asks
    await console.locator("[data-action=scan]").click()
    await expect(console.locator(".checked-in")).to_have_attribute("data-queue-number", "1")
    await expect(row).to_have_attribute("data-status", "checked_in")
    assert await console.evaluate("window.detectorFormats") == ["qr_code"]
    await expect(console.locator("video.camera")).to_be_hidden()  # the camera is let go


# The browser's own fake camera (--use-fake-device-for-media-stream), watched: every track the
# page was given is kept in window.cameraTracks. `detector` stands in for BarcodeDetector.
WATCHED = """
(() => {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  window.cameraTracks = [];
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await real(constraints);
    window.cameraTracks.push(...stream.getTracks());
    return stream;
  };
  window.BarcodeDetector = %s;
})();
"""
NEVER_FINDS = "class { async detect() { return []; } }"
BROKEN = "class { constructor() { throw new TypeError('no qr_code support'); } }"
LIVE = "window.cameraTracks.map((t) => t.readyState)"


async def camera_console(site: Site, detector: str) -> Any:
    counter = await site.device("counter", "hengqin_gasc")
    console = await site.page("en", viewport=DESKTOP)
    await console.add_init_script(WATCHED % detector)
    await console.goto(site.url(f"/console/?lang=en#token={counter.token}"))
    await expect(console.locator("[data-action=scan]")).to_be_visible()
    return console


async def test_a_detector_that_cannot_be_made_lets_the_camera_go(site: Site) -> None:
    console = await camera_console(site, BROKEN)
    await console.locator("[data-action=scan]").click()
    await expect(console.locator(".checkin .error[data-code=camera]")).to_be_visible()
    assert await console.evaluate(LIVE) == ["ended"]  # it was on, and is off again
    await expect(console.locator("video.camera")).to_be_hidden()
    await expect(console.locator("[data-action=scan]")).to_have_text("Scan with the camera")


@pytest.mark.parametrize("redraw", ["language", "sign-out"])
async def test_a_redraw_of_the_console_lets_the_camera_go(site: Site, redraw: str) -> None:
    console = await camera_console(site, NEVER_FINDS)
    await console.locator("[data-action=scan]").click()
    await expect(console.locator("video.camera")).to_be_visible()
    assert await console.evaluate(LIVE) == ["live"]  # negative control: scanning, the camera is on
    if redraw == "language":
        await console.locator("select#language").select_option("zh-Hans")
        await expect(console.locator("[data-action=scan]")).to_be_visible()
    else:
        await console.locator("header button.link").click()
        await expect(console.locator("form.signin")).to_be_visible()
    assert await console.evaluate(LIVE) == ["ended"]
