"""The processor's batch budget: a batch slower than the budget shrinks the next one."""

from __future__ import annotations

import pytest

from services.performance.processor import BatchBudget

pytestmark = pytest.mark.unit


class _Clock:
    """A clock each batch advances by the seconds it is told to take."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _budget(clock: _Clock, *, max_items: int = 100) -> BatchBudget:
    return BatchBudget(max_items=max_items, budget_s=0.05, clock=clock)


async def _batch(budget: BatchBudget, clock: _Clock, *, taken: int, seconds: float) -> int:
    """Run one batch that takes ``taken`` items (at most the limit) in ``seconds``."""
    limits: list[int] = []

    async def batch(limit: int) -> int:
        limits.append(limit)
        clock.now += seconds
        return min(taken, limit)

    await budget.run(batch)
    return limits[0]


async def test_the_first_batch_takes_the_configured_maximum():
    clock = _Clock()
    assert await _batch(_budget(clock), clock, taken=100, seconds=0.01) == 100


async def test_a_batch_over_the_budget_sizes_the_next_to_fit_it():
    """100 items in 0.2 s is 500/s: 25 of them fit in 50 ms."""
    clock = _Clock()
    budget = _budget(clock)
    await _batch(budget, clock, taken=100, seconds=0.2)
    assert budget.size() == 25


async def test_quick_batches_grow_at_most_double_until_the_maximum():
    clock = _Clock()
    budget = _budget(clock)
    await _batch(budget, clock, taken=100, seconds=1.0)  # 5 fit
    sizes = []
    for _ in range(6):
        await _batch(budget, clock, taken=1000, seconds=0.001)
        sizes.append(budget.size())
    assert sizes == [10, 20, 40, 80, 100, 100]


async def test_a_very_slow_item_still_leaves_one_per_batch():
    clock = _Clock()
    budget = _budget(clock)
    await _batch(budget, clock, taken=3, seconds=10.0)
    assert budget.size() == 1


async def test_a_batch_never_shrinks_below_the_floor():
    """A fixed cost over the budget must not shrink batches to one item each."""
    clock = _Clock()
    budget = BatchBudget(max_items=100, min_items=10, budget_s=0.05, clock=clock)
    for _ in range(3):
        await _batch(budget, clock, taken=100, seconds=10.0)
    assert budget.size() == 10


async def test_an_empty_poll_leaves_the_size_alone():
    clock = _Clock()
    budget = _budget(clock)
    await _batch(budget, clock, taken=100, seconds=0.2)
    await _batch(budget, clock, taken=0, seconds=0.0)
    assert budget.size() == 25
