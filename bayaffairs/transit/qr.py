"""QR images of ride codes and tickets, rendered off the event loop.

The payload is Base45 text, which QR alphanumeric mode stores densely, at error-correction
level M. The mask pattern is fixed: letting qrcode score all eight masks in pure Python is
about 60 % of the cost (~6 of ~10 ms here), and every mask gives a valid code. Rendering runs in
a separate process (pure Python would hold the GIL and stall gates' scans in a thread) at a
lower priority (nice 10), and recent images are kept, since an app asks for the same code's
image again.
"""

from __future__ import annotations

import asyncio
import io
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.pil import PilImage

from bayaffairs.errors import Unavailable

MASK_PATTERN = 2
BOX_SIZE = 8
BORDER = 4  # the quiet zone the standard asks for


def _code(payload: str) -> qrcode.QRCode[PilImage]:
    code = qrcode.QRCode(
        error_correction=ERROR_CORRECT_M,
        box_size=BOX_SIZE,
        border=BORDER,
        image_factory=PilImage,
        mask_pattern=MASK_PATTERN,
    )
    code.add_data(payload, optimize=0)
    code.make(fit=True)
    return code


def version_of(payload: str) -> int:
    return _code(payload).version


def render_png(payload: str) -> bytes:
    out = io.BytesIO()
    _code(payload).make_image().save(out, format="PNG")
    return out.getvalue()


def render_svg(payload: str) -> bytes:
    out = io.BytesIO()
    _code(payload).make_image(image_factory=qrcode.image.svg.SvgPathImage).save(out)
    return out.getvalue()


_RENDERERS = {"png": render_png, "svg": render_svg}


def _render(kind: str, payload: str) -> bytes:
    return _RENDERERS[kind](payload)


RENDER_NICENESS = 10  # images can wait; gates' scans in the server process cannot
RETRY_SECONDS = 10.0  # after a replacement died too, images answer 503 this long before another try
STOP_SECONDS = 0.5  # a renderer still busy (or still starting) this long after stop() is killed

log = logging.getLogger("bayaffairs.qr")


def prepare_renderer() -> None:
    """Pool initializer: the renderer yields the CPU to the server (and PostgreSQL) under load,
    leaves SIGINT and SIGTERM to the server, which stops it (a terminal's Ctrl-C or a service
    manager signals the whole process group), and ends when the server process is gone."""
    os.nice(RENDER_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _end_with(server: int) -> None:
    """A worker killed outright cannot stop its renderer, which would wait for work forever."""
    while os.getppid() == server:
        time.sleep(0.5)
    os._exit(0)


def _boot(report: Any, prepare: Callable[[], None], server: int) -> None:
    """In the new renderer: ends it when the server process `server` is gone (even one killed
    while this one was starting), then runs `prepare`; if that fails (a bad install, no
    memory), says why to the server and ends the process."""
    threading.Thread(target=_end_with, args=(server,), daemon=True).start()
    try:
        prepare()
    except BaseException as exc:  # noqa: BLE001 - whatever it was, the server must hear it
        report.put(f"{type(exc).__name__}: {exc}")
        os._exit(3)


class QrRenderer:
    """Renders in one spawned process. One that dies (killed, out of memory) is replaced once
    per request; if the replacement dies too, the request is a 503 and the log names the cause,
    and images answer 503 at once for `RETRY_SECONDS` before the next attempt."""

    def __init__(self, cache_size: int = 512, prepare: Callable[[], None] = prepare_renderer) -> None:
        self.cache_size = cache_size
        self.prepare = prepare
        self._cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._pool: ProcessPoolExecutor | None = None
        self._context = multiprocessing.get_context("spawn")
        self._report: Any = None
        self._down_until = 0.0
        self._down_cause = ""

    def start(self) -> None:
        # A fresh interpreter, not a fork of this one with its event loop and threads.
        self._report = self._context.SimpleQueue()
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=self._context,
            initializer=_boot,
            initargs=(self._report, self.prepare, os.getpid()),
        )

    def stop(self) -> None:
        """Stop the renderer and wait for it (at most `STOP_SECONDS`, then it is killed), so
        nothing of the pool is left for the interpreter's exit to trip over."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())  # to bound the wait
        pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + STOP_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        pool.shutdown(wait=True)
        if self._report is not None:
            self._report.close()
            self._report = None

    async def render(self, kind: str, payload: str) -> bytes:
        key = (kind, payload)
        image = self._cache.get(key)
        if image is not None:
            return image
        if self._pool is None:
            raise RuntimeError("QrRenderer.start() has not run")
        if time.monotonic() < self._down_until:
            raise Unavailable(details={"component": "qr_renderer"})
        try:
            image = await asyncio.get_running_loop().run_in_executor(self._pool, _render, kind, payload)
        except BrokenProcessPool:  # the renderer died (killed, out of memory): start a new one, once
            log.warning("QR renderer died (%s): starting a new one", self._cause())
            self.stop()
            self.start()
            assert self._pool is not None
            try:
                image = await asyncio.get_running_loop().run_in_executor(self._pool, _render, kind, payload)
            except BrokenProcessPool:
                cause = self._cause()
                log.error(
                    "QR renderer keeps dying (%s): images answer 503 for %.0f s, then it is tried again",
                    cause,
                    RETRY_SECONDS,
                )
                self._down_until = time.monotonic() + RETRY_SECONDS
                self.stop()
                self.start()
                raise Unavailable(details={"component": "qr_renderer"}) from None
        self._cache[key] = image
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return image

    def _cause(self) -> str:
        """Why the renderer died: what its start-up reported, else how its process ended."""
        if self._report is not None and not self._report.empty():  # written before it exited
            return str(self._report.get())
        codes = [p.exitcode for p in getattr(self._pool, "_processes", {}).values()]
        ended = [c for c in codes if c is not None]
        if ended and ended[0] < 0:
            return f"killed by {signal.Signals(-ended[0]).name}"
        if ended:
            return f"exited with code {ended[0]}"
        return "the process ended"
