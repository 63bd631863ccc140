"""Group commit of verified deliveries: many requests, one transaction, each answered after it.

A request hands its row to the writer and waits for the commit that holds it, so a 2xx still
means the delivery is durable, while a burst pays for one commit per flush rather than per
request. A flush takes up to ``max_rows`` rows or whatever arrived within ``max_wait_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

_Item = tuple[dict[str, Any], asyncio.Future[None]]


class DeliveryWriter:
    """Batches inserts of one table from concurrent callers; ``store`` returns once committed."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        table: sa.Table,
        max_rows: int,
        max_wait_s: float,
        on_commit: Callable[[], None] | None = None,
        notify: sa.Executable | None = None,
    ) -> None:
        self._engine = engine
        self._table = table
        self._max_rows = max_rows
        self._max_wait_s = max_wait_s
        self._on_commit = on_commit
        self._notify = notify
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._last_arrival = 0

    def next_arrival(self) -> int:
        """A strictly increasing arrival stamp (nanoseconds), so same-tick requests keep order."""
        self._last_arrival = max(time.time_ns(), self._last_arrival + 1)
        return self._last_arrival

    async def store(self, row: dict[str, Any]) -> None:
        """Insert a row with the next flush; return once that flush has committed."""
        if self._task is None or self._task.done():
            # Started on first use, in the loop that serves requests (tests run without workers).
            self._task = asyncio.create_task(self._run(), name="delivery-writer")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((row, done))
        await done

    async def close(self) -> None:
        """Flush what is queued, then stop."""
        if self._task is None:
            return
        if not self._task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), 5)
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        self._task = None
        while not self._queue.empty():
            _, done = self._queue.get_nowait()
            if not done.done():
                done.set_exception(RuntimeError("the delivery writer stopped"))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self._max_wait_s
            while len(batch) < self._max_rows:
                remaining = deadline - loop.time()
                if remaining <= 0 and self._queue.empty():
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), max(remaining, 0)))
                except TimeoutError:
                    break
            try:
                await self._flush(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _flush(self, batch: list[_Item]) -> None:
        try:
            await self._insert([row for row, _ in batch])
        except Exception:
            log.exception(
                "group commit of %d deliveries failed; storing them one by one", len(batch)
            )
            # One bad row must not fail the requests of the others.
            for row, done in batch:
                try:
                    await self._insert([row])
                except Exception as error:
                    _settle(done, error)
                else:
                    _settle(done, None)
            return
        for _, done in batch:
            _settle(done, None)

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(self._table.insert(), rows)
            if self._notify is not None:
                # Delivered at commit: wakes processors of other processes (a worker beside us).
                await conn.execute(self._notify)
        if self._on_commit is not None:
            self._on_commit()


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # the request was cancelled (client gone): nothing to answer
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
