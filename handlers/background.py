"""Jobs on a timer for an app's lifetime: started in a cleanup context, cancelled at its end.

A job returns how much it did (logged when non-zero); one that raises is logged and tried again
at its next period, so a database down for a while stops no job for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

Job = tuple[str, float, Callable[[], Awaitable[int]]]  # name, period in seconds, the work


@contextlib.asynccontextmanager
async def running(jobs: Iterable[Job], log: logging.Logger) -> AsyncIterator[None]:
    """Each job every `period` seconds until the block ends; then all are cancelled and awaited."""
    tasks = [asyncio.create_task(every(name, period, job, log)) for name, period, job in jobs]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def every(name: str, period: float, job: Callable[[], Awaitable[int]], log: logging.Logger) -> None:
    while True:
        await asyncio.sleep(period)
        try:
            done = await job()
            if done:
                log.info("%s: %d", name, done)
        except Exception:
            log.exception("background job failed: %s", name)
