"""The timer of the periodic jobs (bayaffairs/wiring/jobs.py): owned jobs run only where this
process owns them; a job of every worker runs in each, asking no owner."""

from __future__ import annotations

import asyncio
import logging

from bayaffairs.wiring.jobs import Job, periodic, running


class RefusingOwners:
    """Owners that never give this process a job (another process holds every lock)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def owns(self, job: str) -> bool:
        self.asked.append(job)
        return False

    async def close(self) -> None:
        return None


async def test_a_job_of_every_worker_runs_without_an_owner_and_an_owned_job_does_not() -> None:
    ran: list[str] = []

    def work(name: str) -> Job:
        async def run() -> int:
            ran.append(name)
            return 0

        return Job(name, 0.01, run, every_worker=name == "shared")

    owners = RefusingOwners()
    async with running([work("shared"), work("owned")], logging.getLogger("test"), owners):  # type: ignore[arg-type]
        for _ in range(500):
            if "shared" in ran and "owned" in owners.asked:
                break
            await asyncio.sleep(0.01)
    assert "shared" in ran
    assert "shared" not in owners.asked
    # Control: the owned job was asked for and refused, so it never ran here.
    assert "owned" in owners.asked and "owned" not in ran


def test_the_offline_tap_drain_is_the_job_of_every_worker() -> None:
    """Verifying the uploaded taps' signatures is the drain's cost: every worker takes part."""
    jobs = {job.name: job for job in periodic(_Services())}  # type: ignore[arg-type]
    assert [name for name, job in jobs.items() if job.every_worker] == ["record offline taps"]


class _Anything:
    """Stands for the services periodic() reads bound methods from: any attribute is one."""

    def __getattr__(self, name: str) -> _Anything:
        return _Anything()

    async def __call__(self) -> int:
        return 0


class _Services(_Anything):
    pass
