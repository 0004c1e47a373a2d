"""A fake partner whose verbs can be made slow, failing, garbled or silent on purpose.

The fakes of the carrier, payment and notifier partners share these knobs; each names its
verbs and answers through `serve(verb, work)`, where `work()` does what the partner would do
(change its state) and returns its answer.

- `delay(verb, seconds)`: every answer to `verb` comes this late, after the work is done (the
  partner did it; the caller timed out and never heard). 0 turns it off.
- `fail_next(verb, status, after_work=False)`: the next call answers `status` with a plain-text
  body, without doing the work, or after doing it.
- `refuse_next(verb, code, status)`: the next call answers the partner's error body, without
  doing the work.
- `garble_next(verb, after_work=True)`: the next call answers 200 with a body that is not JSON.
- `answer_next(verb, body, status=200)`: the next call answers this JSON instead of the partner's
  own answer (a malformed or crossed answer), without doing the work.
- `stall_next(verb)`: the next call hangs, doing nothing, until the fake stops.
- `hold(verb)`: from now on every answer to `verb` waits, after the work is done, until the test
  lets it go: `await until_held(verb, n)` returns once `n` answers are waiting (TimeoutError
  after `timeout` if they never are), `release(verb)` lets those go and keeps holding later ones,
  `release(verb, hold_more=False)` lets them go and stops holding. For a test that must look at
  the caller's state while a call is in flight: the window stays open until the test has looked,
  however slow the machine (a `delay` is a window of fixed length). A held answer not released
  within HOLD_SAFETY_SECONDS (a test that forgot to, or failed before it did) is let go as a 503,
  counted in `held_too_long`, so nothing hangs.

`calls[verb]` counts requests; `made[verb]` is for the fake to count changes it really made;
`most_in_flight[verb]` is the most requests of `verb` it was answering at once (held ones count).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Self

from aiohttp import web

from tests.integrations.support import FakePartner

HOLD_SAFETY_SECONDS = 20.0  # only against a hang: a test releases what it holds long before


@dataclass(frozen=True)
class Fault:
    kind: str  # fail, refuse, garble, answer, stall
    status: int = 503
    code: str = ""
    after_work: bool = False
    body: Any = None


class FaultyPartner(FakePartner):
    VERBS: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.made: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.most_in_flight: Counter[str] = Counter()
        self.delays: dict[str, float] = {}
        self.held_too_long: Counter[str] = Counter()
        self._holding: set[str] = set()
        self._held: dict[str, list[asyncio.Event]] = {verb: [] for verb in self.VERBS}
        self._held_changed = asyncio.Condition()
        self._faults: dict[str, deque[Fault]] = {verb: deque() for verb in self.VERBS}

    async def start(self) -> Self:
        """For use outside `async with`: start serving on a free port of 127.0.0.1."""
        return await self.__aenter__()

    async def stop(self) -> None:
        """Stop serving; stalled, held and delayed answers are let go first."""
        await self.__aexit__(None, None, None)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for verb in self.VERBS:
            self.release(verb, hold_more=False)
        await super().__aexit__(exc_type, exc, tb)

    def hold(self, verb: str) -> None:
        self._holding.add(self._verb(verb))

    def held(self, verb: str) -> int:
        """How many answers to `verb` are waiting to be released now."""
        return len(self._held[self._verb(verb)])

    async def until_held(self, verb: str, count: int, timeout: float = 10.0) -> None:
        """Wait until `count` answers to `verb` are held (a generous `timeout`, only against a
        hang: TimeoutError then, so a test never goes on without having seen them held)."""
        verb = self._verb(verb)
        async with asyncio.timeout(timeout), self._held_changed:
            await self._held_changed.wait_for(lambda: len(self._held[verb]) >= count)

    def release(self, verb: str, *, hold_more: bool = True) -> None:
        """Let go the answers to `verb` held now; later ones are held too unless `hold_more` is
        False."""
        verb = self._verb(verb)
        if not hold_more:
            self._holding.discard(verb)
        held, self._held[verb] = self._held[verb], []
        for gate in held:
            gate.set()

    async def _held_until_released(self, verb: str, response: web.Response) -> web.Response:
        gate = asyncio.Event()
        self._held[verb].append(gate)
        async with self._held_changed:
            self._held_changed.notify_all()
        try:
            await asyncio.wait_for(gate.wait(), HOLD_SAFETY_SECONDS)
        except TimeoutError:
            if gate in self._held[verb]:
                self._held[verb].remove(gate)
            self.held_too_long[verb] += 1
            return web.Response(status=503, text="held too long: the test never released it")
        return response

    def delay(self, verb: str, seconds: float) -> None:
        self.delays[self._verb(verb)] = seconds

    def fail_next(self, verb: str, status: int = 503, *, times: int = 1, after_work: bool = False) -> None:
        for _ in range(times):
            self._faults[self._verb(verb)].append(Fault("fail", status, after_work=after_work))

    def refuse_next(self, verb: str, code: str, status: int = 422) -> None:
        self._faults[self._verb(verb)].append(Fault("refuse", status, code))

    def garble_next(self, verb: str, *, after_work: bool = True) -> None:
        self._faults[self._verb(verb)].append(Fault("garble", 200, after_work=after_work))

    def answer_next(self, verb: str, body: Any, status: int = 200) -> None:
        self._faults[self._verb(verb)].append(Fault("answer", status, body=body))

    def stall_next(self, verb: str) -> None:
        self._faults[self._verb(verb)].append(Fault("stall"))

    def error(self, status: int, code: str) -> web.Response:
        """The partner's error body; fakes of partners with another shape override this."""
        return web.json_response({"error": {"code": code, "message": code.replace("_", " ")}}, status=status)

    async def serve(self, verb: str, work: Callable[[], web.Response]) -> web.Response:
        """Count the call, apply the next fault and the delay, and do the work unless a fault
        says otherwise. `work` runs without awaiting, so it is atomic on the event loop."""
        self.calls[verb] += 1
        self.in_flight[verb] += 1
        self.most_in_flight[verb] = max(self.most_in_flight[verb], self.in_flight[verb])
        try:
            fault = self._faults[verb].popleft() if self._faults[verb] else None
            if fault is not None and not fault.after_work:
                return await self._fault(fault)
            response = work()
            if fault is not None:
                response = await self._fault(fault)
            if self.delays.get(verb):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._release.wait(), self.delays[verb])
            if verb in self._holding:
                response = await self._held_until_released(verb, response)
            return response
        finally:
            self.in_flight[verb] -= 1

    async def _fault(self, fault: Fault) -> web.Response:
        if fault.kind == "stall":
            await self.stall()
            return web.Response(status=503, text="stopping")
        if fault.kind == "refuse":
            return self.error(fault.status, fault.code)
        if fault.kind == "answer":
            return web.json_response(fault.body, status=fault.status)
        if fault.kind == "garble":
            return web.Response(text="<html>maintenance</html>", content_type="application/json")
        return web.Response(status=fault.status, text="partner error")

    def _verb(self, verb: str) -> str:
        if verb not in self.VERBS:
            raise ValueError(f"unknown verb {verb!r}; one of {', '.join(self.VERBS)}")
        return verb
