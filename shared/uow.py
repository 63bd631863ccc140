"""Unit of work: one transaction; emitted events become outbox rows in that same transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import PlumbingTables
from shared.events import Envelope, Event, topic_for, wrap
from shared.tracing import traceparent_var

# Each service owns its database, so one channel name per database is enough.
OUTBOX_CHANNEL = "attain_outbox"


class UnitOfWork:
    """Owns a session; rolls back unless commit() is called; commit writes state + outbox."""

    session: AsyncSession

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        plumbing: PlumbingTables,
        *,
        on_commit: Callable[[], None] | None = None,
        read_only: bool = False,
    ) -> None:
        self._session_factory = session_factory
        self.plumbing = plumbing
        self._on_commit = on_commit
        self.read_only = read_only
        self._pending: list[Envelope] = []

    async def __aenter__(self) -> Self:
        self.session = self._session_factory()
        self._pending = []
        self.open_repositories(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # Detach first: a rollback would expire objects the caller still reads after the block.
            self.session.expunge_all()
            await self.session.rollback()
        finally:
            await self.session.close()

    def open_repositories(self, session: AsyncSession) -> None:
        """Hook for services: attach repositories bound to this session."""

    def emit(self, event: Event) -> Envelope:
        """Queue an event; it is written to the outbox by commit(), atomically with the state."""
        envelope = wrap(event, traceparent=traceparent_var.get())
        self._pending.append(envelope)
        return envelope

    async def flush_events(self) -> None:
        """Write queued events as outbox rows inside the current transaction."""
        if not self._pending:
            return
        outbox = self.plumbing.outbox
        now = datetime.now(UTC)
        rows = [
            {
                "id": env.id,
                "aggregatetype": env.type.split(".")[2],
                "aggregateid": env.subject or env.partitionkey or "",
                "type": env.type,
                "topic": topic_for(env.type.split(".")[1]),
                "partition_key": env.partitionkey or "",
                "tenant_id": env.tenantid,
                "payload": env.data,
                "headers": _headers_of(env),
                # Microsecond offsets keep emission order stable within one transaction.
                "created_at": now + timedelta(microseconds=i),
                "attempts": 0,
            }
            for i, env in enumerate(self._pending)
        ]
        await self.session.execute(outbox.insert(), rows)
        if self.session.bind is not None and self.session.bind.dialect.name == "postgresql":
            # Delivered at commit (never for a rollback): wakes the relay in another process.
            await self.session.execute(sa.text(f"NOTIFY {OUTBOX_CHANNEL}"))
        self._pending = []

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A step that can fail alone: on error its writes and its events are dropped."""
        mark = len(self._pending)
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            del self._pending[mark:]
            raise

    async def commit(self) -> None:
        """Commit state and outbox rows together, then wake the relay."""
        if self.read_only:
            # The same on both databases: SQLite's read connections refuse writes anyway.
            raise RuntimeError("a read-only unit of work cannot commit")
        had_events = bool(self._pending)
        await self.flush_events()
        await self.session.commit()
        if had_events and self._on_commit is not None:
            self._on_commit()

    async def rollback(self) -> None:
        """Drop everything done in this unit of work, events included."""
        self._pending = []
        await self.session.rollback()

    async def record_inbox(
        self, *, consumer: str, source: str, event_id: str, event_type: str
    ) -> bool:
        """Mark an event as processed by a consumer; False when it was already processed."""
        table = self.plumbing.inbox
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        result = await self.session.execute(
            insert.values(
                consumer=consumer,
                source=source,
                event_id=event_id,
                event_type=event_type,
                processed_at=datetime.now(UTC),
            ).on_conflict_do_nothing()
        )
        # An INSERT's result is a CursorResult: its rowcount says whether the row was new.
        return cast("sa.CursorResult[Any]", result).rowcount == 1

    async def record_inbox_many(
        self, *, consumer: str, events: list[Envelope]
    ) -> set[tuple[str, str]]:
        """Mark events as processed in one statement; return the (source, id) pairs inserted."""
        if not events:
            return set()
        table = self.plumbing.inbox
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        now = datetime.now(UTC)
        rows = [
            {
                "consumer": consumer,
                "source": env.source,
                "event_id": env.id,
                "event_type": env.type,
                "processed_at": now,
            }
            for env in events
        ]
        result = await self.session.execute(
            insert.values(rows).on_conflict_do_nothing().returning(table.c.source, table.c.event_id)
        )
        return {(row.source, row.event_id) for row in result}

    async def processed(
        self, *, consumer: str, keys: list[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """The (source, event_id) pairs among keys this consumer already processed: one query."""
        if not keys:
            return set()
        table = self.plumbing.inbox
        # Three IN lists keep the primary key usable on both databases; pairs are matched here.
        rows = await self.session.execute(
            sa.select(table.c.source, table.c.event_id).where(
                table.c.consumer == consumer,
                table.c.source.in_({source for source, _ in keys}),
                table.c.event_id.in_({event_id for _, event_id in keys}),
            )
        )
        return {(row.source, row.event_id) for row in rows} & set(keys)


def _headers_of(env: Envelope) -> dict[str, str | int | None]:
    return {
        "source": env.source,
        "subject": env.subject,
        "time": env.time.isoformat(),
        "tenantid": env.tenantid,
        "traceparent": env.traceparent,
        "sequence": env.sequence,
    }
