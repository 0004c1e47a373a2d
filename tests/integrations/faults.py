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

`calls[verb]` counts requests; `made[verb]` is for the fake to count changes it really made;
`most_in_flight[verb]` is the most requests of `verb` it was answering at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from aiohttp import web

from tests.integrations.support import FakePartner


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
        self._faults: dict[str, deque[Fault]] = {verb: deque() for verb in self.VERBS}

    async def start(self) -> Self:
        """For use outside `async with`: start serving on a free port of 127.0.0.1."""
        return await self.__aenter__()

    async def stop(self) -> None:
        """Stop serving; stalled and delayed answers are let go first."""
        await self.__aexit__(None, None, None)

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
