"""The delivery processor lingers between short batches when running, never when drained."""

from __future__ import annotations

import pytest

from services.performance.processor import DeliveryProcessor

pytestmark = pytest.mark.unit


def _processor(taken: list[int], pauses: list[float]) -> DeliveryProcessor:
    """A processor whose batches take ``taken`` in turn (then none), recording its pauses."""
    batches = iter(taken)

    async def run_batch() -> int:
        return next(batches, 0)

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    return DeliveryProcessor(
        run_batch=run_batch, poll_s=1.0, full_batch=100, linger_s=0.1, sleep=sleep
    )


async def test_a_running_processor_pauses_after_each_short_batch_only():
    """Full batches follow each other at once; a short one means caught up: gather a while."""
    pauses: list[float] = []
    taken = await _processor([100, 100, 3, 2], pauses).drain(linger=True)
    assert taken == 205
    assert pauses == [0, 0, 0.1, 0.1]


async def test_draining_on_demand_never_lingers():
    """Tests and shutdown drain everything due without waiting."""
    pauses: list[float] = []
    assert await _processor([100, 3, 2], pauses).drain() == 105
    assert pauses == [0, 0, 0]
