"""Group commit of verified deliveries: many requests, one transaction, each answered after it.

A request hands its row to the writer and waits for the commit that holds it, so a 2xx still
means the delivery is durable, while a burst pays for one commit per flush rather than per
request. A flush takes up to ``max_rows`` rows or whatever arrived within ``max_wait_s``.

On SQLite a flush is one trip to aiosqlite's thread (``_SqliteFlush``): through SQLAlchemy it
was eight (cursor, BEGIN, cursor close, the insert ...), and on a loop busy with requests each
trip waits for a turn, so a flush took tens of milliseconds while every request in it waited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
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
        self._sqlite: _SqliteFlush | None = None
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._last_arrival = 0
        #: Transactions that stored rows (SQLite's bypass fires no SQLAlchemy commit event).
        self.commits = 0

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
        if self._engine.dialect.name == "sqlite":
            self._sqlite = self._sqlite or _SqliteFlush(self._table, self._engine.dialect)
            async with self._engine.connect() as conn:  # the one writer connection, in turn
                await self._sqlite.run(await conn.get_raw_connection(), rows)
        else:
            async with self._engine.begin() as conn:
                await conn.execute(self._table.insert(), rows)
                if self._notify is not None:
                    # Delivered at commit: wakes processors of other processes (a worker beside us).
                    await conn.execute(self._notify)
        self.commits += 1
        if self._on_commit is not None:
            self._on_commit()


class _SqliteFlush:
    """BEGIN IMMEDIATE, the INSERT of every row and COMMIT, run together in aiosqlite's thread."""

    def __init__(self, table: sa.Table, dialect: Dialect) -> None:
        columns = list(table.columns)
        self._names = [c.name for c in columns]
        # The columns' own bind processors: the stored values are what SQLAlchemy would store.
        self._processors = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
        placeholders = ", ".join("?" * len(columns))
        self._sql = f"INSERT INTO {table.name} ({', '.join(self._names)}) VALUES ({placeholders})"

    async def run(self, raw: Any, rows: list[dict[str, Any]]) -> None:
        """Store the rows in one transaction of the raw (aiosqlite) connection."""
        parameters = [self._bound(row) for row in rows]
        driver = raw.driver_connection
        try:
            # aiosqlite's queue of work for its thread; SQLAlchemy's adapter uses it likewise.
            await driver._execute(_write, driver._conn, self._sql, parameters)
        except sqlite3.Error as error:  # as SQLAlchemy raises it, so problems map it alike
            raise sa.exc.DBAPIError.instance(self._sql, None, error, sqlite3.Error) from error

    def _bound(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(
            row[name] if process is None else process(row[name])
            for name, process in zip(self._names, self._processors, strict=True)
        )


def _write(conn: sqlite3.Connection, sql: str, parameters: Sequence[tuple[Any, ...]]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(sql, parameters)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # the request was cancelled (client gone): nothing to answer
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
