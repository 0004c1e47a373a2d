"""The QR renderer's process: replaced once per request when it dies; one that keeps dying at
start (a bad install, no memory) makes images a 503 with the cause in the log, not 500s; its
stop leaves nothing behind."""

from __future__ import annotations

import logging
import os
import signal
import time

import pytest

from bayaffairs.transit.qr import QrRenderer, prepare_renderer
from tests.transit.conftest import Ride


def broken_install() -> None:
    """A renderer start-up that fails as a missing Pillow would (runs in the renderer)."""
    raise ImportError("No module named 'PIL'")


def renderer_pids(renderer: QrRenderer) -> list[int]:
    return [p.pid for p in renderer._pool._processes.values()]  # type: ignore[union-attr]


async def test_a_killed_renderer_is_replaced_for_the_request_that_found_it_dead() -> None:
    renderer = QrRenderer()
    renderer.start()
    try:
        assert (await renderer.render("png", "FIRST")).startswith(b"\x89PNG")
        (pid,) = renderer_pids(renderer)
        os.kill(pid, signal.SIGKILL)
        assert (await renderer.render("png", "SECOND")).startswith(b"\x89PNG")
        assert renderer_pids(renderer) != [pid]
    finally:
        renderer.stop()


async def test_a_renderer_that_keeps_dying_at_start_answers_503_and_logs_why(
    ride: Ride, caplog: pytest.LogCaptureFixture
) -> None:
    renderer = ride.services.transit.renderer
    renderer.stop()
    renderer.prepare = broken_install
    renderer.start()
    code = await ride.code("shenzhen")

    with caplog.at_level(logging.WARNING, logger="bayaffairs.qr"):
        status, body = await ride.rider.get(code["png_url"])
        assert (status, body["error"]["code"]) == (503, "service_unavailable")
        started = time.monotonic()
        status, _ = await ride.rider.get(code["png_url"])
        assert status == 503
        assert time.monotonic() - started < 1.0  # no new process each time: 503 at once for a while

    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert "keeps dying" in errors[0]
    assert "ImportError: No module named 'PIL'" in errors[0]

    renderer.stop()  # control: a sound start-up renders again
    renderer.prepare = prepare_renderer
    renderer._down_until = 0.0
    renderer.start()
    status, image = await ride.rider.get(code["png_url"])
    assert status == 200 and image.startswith(b"\x89PNG")


async def test_stop_waits_for_the_renderer_and_leaves_no_process() -> None:
    renderer = QrRenderer()
    renderer.start()
    await renderer.render("png", "ANY")
    (pid,) = renderer_pids(renderer)
    started = time.monotonic()
    renderer.stop()
    assert time.monotonic() - started < 3.0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(RuntimeError):
        await renderer.render("png", "AFTER")
