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
        if raw.driver_connection is None:
            raise RuntimeError("the connection has no driver connection")
        await raw.driver_connection.add_listener(DELIVERY_CHANNEL, lambda *_: wake())
    except Exception as exc:  # polling still works; only latency suffers
        log.warning("cannot LISTEN for stored deliveries, polling only: %s", exc)
        await conn.close()
        return None
    return conn


class DeliveryProcessor:
    """Runs batches until none is left, then waits for a wake-up or the poll interval."""

    def __init__(
        self,
        *,
        run_batch: Callable[[], Awaitable[int]],
        poll_s: float,
        full_batch: int = 1,
        linger_s: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._run_batch = run_batch
        self._poll_s = poll_s
        self._full_batch = full_batch
        self._linger_s = linger_s
        self._sleep = sleep
        self._wake = asyncio.Event()
        self._stopping = False
        self._batch_lock = asyncio.Lock()

    def wake(self) -> None:
        """Tell the processor deliveries were stored (or queued again)."""
        self._wake.set()

    async def drain(self, *, linger: bool = False) -> int:
        """Apply batches until none is due; return how many deliveries were taken.

        With ``linger``, a batch short of full (the backlog is worked off) is followed by a
        pause of ``linger_s``: a trickle of deliveries is then gathered into one batch, rather
        than each group commit waking a batch whose fixed cost holds SQLite's only writer, so
        that intake queued behind the processor nearly all the time.
        """
        total = 0
        while not self._stopping:
            # One batch at a time per process: a batch must not overtake an earlier one.
            async with self._batch_lock:
                taken = await self._run_batch()
            if not taken:
                return total
            total += taken
            short = linger and taken < self._full_batch
            # Either way, requests that queued behind the batch run before the next one.
            await self._sleep(self._linger_s if short else 0)
        return total

    async def run(self) -> None:
        """Process until stopped; an error backs off for one poll interval and tries again."""
        while not self._stopping:
            self._wake.clear()
            try:
                await self.drain(linger=True)
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
