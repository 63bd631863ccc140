"""A periodic job runs every interval, and one failed run does not stop the next."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from shared.runtime import _every

pytestmark = pytest.mark.unit


async def test_a_job_that_fails_runs_again_at_the_next_interval():
    runs = 0
    third_run = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            third_run.set()
        if runs == 1:
            raise RuntimeError("first run fails")

    task = asyncio.create_task(_every("flaky", 0, flaky))
    await asyncio.wait_for(third_run.wait(), 5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert runs >= 3


async def test_cancelling_the_loop_ends_it_even_mid_run():
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(60)

    task = asyncio.create_task(_every("slow", 0, slow))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
