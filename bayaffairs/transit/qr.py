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
import multiprocessing
import os
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.pil import PilImage

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


def _lower_priority() -> None:
    """Pool initializer: the renderer yields the CPU to the server (and PostgreSQL) under load."""
    os.nice(RENDER_NICENESS)


class QrRenderer:
    def __init__(self, cache_size: int = 512) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        # A fresh interpreter, not a fork of this one with its event loop and threads.
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_lower_priority
        )

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def render(self, kind: str, payload: str) -> bytes:
        key = (kind, payload)
        image = self._cache.get(key)
        if image is not None:
            return image
        if self._pool is None:
            raise RuntimeError("QrRenderer.start() has not run")
        try:
            image = await asyncio.get_running_loop().run_in_executor(self._pool, _render, kind, payload)
        except BrokenProcessPool:  # the renderer died (killed, out of memory): start a new one, once
            self.stop()
            self.start()
            image = await asyncio.get_running_loop().run_in_executor(self._pool, _render, kind, payload)
        self._cache[key] = image
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return image
