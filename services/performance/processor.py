"""The delivery processor's loop: woken when deliveries are committed, else a short poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
