"""The console's camera check-in: where the browser has BarcodeDetector, the clerk points the
camera at the rider's QR and the appointment is checked in. Debian's Chromium has no
BarcodeDetector on Linux, so the page gets a stand-in detector (it reads the payload the test
gives it) and a camera made from a canvas; everything after the detector is the real page."""

from __future__ import annotations

import json

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
    await console.locator("[data-action=scan]").click()
    await expect(console.locator(".checked-in")).to_have_attribute("data-queue-number", "1")
    await expect(row).to_have_attribute("data-status", "checked_in")
    assert await console.evaluate("window.detectorFormats") == ["qr_code"]
    await expect(console.locator("video.camera")).to_be_hidden()  # the camera is let go
