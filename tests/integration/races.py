"""Make a lost-update race happen every time: hold writers until all of them have read."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

# Not a timing assertion: only a bound so a broken gate fails the test instead of hanging it.
_GIVE_UP_S = 30


class WriteGate:
    """Hold the first write on each connection until `writers` connections reached it.

    With a table, the first UPDATE of that table; without, the first INSERT, UPDATE or DELETE.

    Each request has read the row and checked its If-Match by the time it writes, so releasing
    them together reproduces two requests that both passed the check before either committed.
    """

    def __init__(self, table: str | None, writers: int = 2) -> None:
        self._prefixes = (
            (f"UPDATE {table.upper()} ",) if table else ("INSERT ", "UPDATE ", "DELETE ")
        )
        self._writers = writers
        self._seen: set[int] = set()
        self._all_arrived = asyncio.Event()

    @property
    def arrived(self) -> int:
        """How many connections reached the gate."""
        return len(self._seen)

    def before_cursor_execute(self, conn: sa.Connection, *args: Any) -> None:
        """Engine hook: park the first matching UPDATE of each connection at the gate."""
        statement: str = args[1]
        key = id(conn.connection.dbapi_connection)
        if not statement.lstrip().upper().startswith(self._prefixes) or key in self._seen:
            return
        self._seen.add(key)
        if len(self._seen) >= self._writers:
            self._all_arrived.set()
        # Runs inside SQLAlchemy's greenlet, so the event loop keeps serving the other request.
        await_only(asyncio.wait_for(self._all_arrived.wait(), _GIVE_UP_S))


@contextmanager
def gate_updates(engine: AsyncEngine, table: str | None, writers: int = 2) -> Iterator[WriteGate]:
    """Install a WriteGate on an engine for the duration of the block."""
    gate = WriteGate(table, writers)
    sa.event.listen(engine.sync_engine, "before_cursor_execute", gate.before_cursor_execute)
    try:
        yield gate
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", gate.before_cursor_execute)


async def race(engine: AsyncEngine, table: str | None, *requests: Awaitable[Any]) -> list[Any]:
    """Run requests at once, each one's first write held until every request is about to write."""
    with gate_updates(engine, table, len(requests)) as gate:
        responses = await asyncio.gather(*requests)
    assert gate.arrived == len(requests), "every request must have reached its write"
    return list(responses)
