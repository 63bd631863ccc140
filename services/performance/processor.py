"""The delivery processor's loop: woken when deliveries are committed, else a short poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

#: NOTIFY'd by the transaction that stores deliveries (PostgreSQL), heard by every processor.
DELIVERY_CHANNEL = "attain_webhook_deliveries"


def notify_statement(engine: AsyncEngine) -> sa.TextClause | None:
    """What the storing transaction runs to wake processors in other processes (PostgreSQL)."""
    return sa.text(f"NOTIFY {DELIVERY_CHANNEL}") if engine.dialect.name == "postgresql" else None


async def listen(engine: AsyncEngine, wake: Callable[[], None]) -> AsyncConnection | None:
    """Hold a connection that wakes this process's processor on every NOTIFY; None on SQLite.

    An API process beside a worker then has its deliveries applied at once, not at the poll.
    """
    if engine.dialect.name != "postgresql":
        return None
    conn = await engine.connect()
    try:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.add_listener(DELIVERY_CHANNEL, lambda *_: wake())
    except Exception as exc:  # polling still works; only latency suffers
        log.warning("cannot LISTEN for stored deliveries, polling only: %s", exc)
        await conn.close()
        return None
    return conn


class BatchBudget:
    """Sizes batches so one takes about ``budget_s``: it holds SQLite's only writer, and its
    planning holds the event loop, so requests wait for at most one batch, not a fixed 100.

    After each batch the next size is what the measured rate does in the budget, between
    ``min_items`` and ``max_items``, and at most double the last (one quick batch is not a
    trend). The floor matters: a batch has a fixed cost too, and were it above the budget the
    size would shrink to one and the backlog would never be worked off.
    """

    def __init__(
        self,
        *,
        max_items: int,
        budget_s: float,
        min_items: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_items = max_items
        self._min_items = min(min_items, max_items)
        self._budget_s = budget_s
        self._clock = clock
        self._size = max_items

    def size(self) -> int:
        """How many items the next batch may take."""
        return self._size

    async def run(self, batch: Callable[[int], Awaitable[int]]) -> int:
        """Run ``batch(limit)`` at the current size, learn from its pace; how many it took."""
        started = self._clock()
        size = self._size
        taken = await batch(size)
        self._learn(size, taken, self._clock() - started)
        return taken

    def _learn(self, size: int, taken: int, elapsed_s: float) -> None:
        if taken <= 0:
            return  # an empty poll says nothing about the pace
        fits = taken * self._budget_s / elapsed_s if elapsed_s > 0 else self._max_items
        self._size = max(self._min_items, min(self._max_items, 2 * size, int(fits)))


class DeliveryProcessor:
    """Runs batches until none is left, then waits for a wake-up or the poll interval."""

    def __init__(self, *, run_batch: Callable[[], Awaitable[int]], poll_s: float) -> None:
        self._run_batch = run_batch
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._stopping = False
        self._batch_lock = asyncio.Lock()

    def wake(self) -> None:
        """Tell the processor deliveries were stored (or queued again)."""
        self._wake.set()

    async def drain(self) -> int:
        """Apply batches until none is due; return how many deliveries were taken."""
        total = 0
        while not self._stopping:
            # One batch at a time per process: a batch must not overtake an earlier one.
            async with self._batch_lock:
                taken = await self._run_batch()
            if not taken:
                return total
            total += taken
            # Let requests that queued behind the batch run before the next one starts.
            await asyncio.sleep(0)
        return total

    async def run(self) -> None:
        """Process until stopped; an error backs off for one poll interval and tries again."""
        while not self._stopping:
            self._wake.clear()
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook delivery batch failed; retrying after the poll interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)

    def stop(self) -> None:
        """Take no further batch; the one in flight commits or rolls back."""
        self._stopping = True
        self._wake.set()
