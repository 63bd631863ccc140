"""The delivery processor's loop: woken when deliveries are committed, else a short poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


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
