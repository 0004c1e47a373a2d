"""A connection of its own that LISTENs on one channel, for as long as the app serves.

PostgreSQL sends a NOTIFY to the sessions listening when its transaction commits, in commit order,
and drops it when the transaction rolls back. What the listener hears is handed to `heard`; when
the session is up (LISTEN registered) `up` runs, when it is lost `down` runs before anything is
heard again, since whatever was sent meanwhile is gone. A lost session is opened again after
`retry_seconds`; a session that stops answering (a half-open socket) is caught by a ping every
`ping_seconds` and counts as lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from bayaffairs.db.database import UNAVAILABLE_ERRORS, Database

log = logging.getLogger("bayaffairs.db")
_LOST: tuple[type[BaseException], ...] = (TimeoutError, ConnectionError, *UNAVAILABLE_ERRORS)


class Listener:
    def __init__(
        self,
        db: Database,
        channel: str,
        *,
        heard: Callable[[str], None],
        up: Callable[[], None],
        down: Callable[[], None],
        retry_seconds: float = 1.0,
        ping_seconds: float = 10.0,
    ) -> None:
        self.db = db
        self.channel = channel
        self.heard = heard
        self.up = up
        self.down = down
        self.retry_seconds = retry_seconds
        self.ping_seconds = ping_seconds
        self.sessions = 0  # how often LISTEN was registered (tests wait for a reconnection)

    async def run(self) -> None:
        """Listen until cancelled, opening the session again after each loss."""
        failing = False
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except _LOST as exc:
                if not failing:
                    log.warning("LISTEN %s: session lost or not opened (%r); retrying", self.channel, exc)
                failing = True
            except Exception:
                log.exception("LISTEN %s failed; retrying", self.channel)
                failing = True
            else:
                failing = False
            await asyncio.sleep(self.retry_seconds)

    async def _session(self) -> None:
        conn = await self.db.connect_alone(f"listen {self.channel}")
        lost = asyncio.Event()

        def on_notify(_conn: Any, _pid: int, _channel: str, payload: object) -> None:
            self.heard(str(payload))

        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(self.channel, on_notify)
            self.sessions += 1
            self.up()
            log.info("LISTEN %s: session up", self.channel)
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), timeout=self.ping_seconds)
                if not lost.is_set():
                    await conn.fetchval("SELECT 1", timeout=self.ping_seconds)
            raise ConnectionError("the LISTEN session was closed")
        finally:
            self.down()
            if not conn.is_closed():
                conn.terminate()


@contextlib.asynccontextmanager
async def listening(listener: Listener) -> AsyncIterator[Listener]:
    """`listener` runs in a task while the block runs."""
    task = asyncio.create_task(listener.run(), name=f"listen {listener.channel}")
    try:
        yield listener
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
