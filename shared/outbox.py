"""Outbox relay: publishes committed outbox rows to Kafka, marks them, purges old ones, replays."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.config import ServiceSettings
from shared.db import PlumbingTables
from shared.events import Envelope, to_kafka
from shared.kafka import start_producer, stop_quietly
from shared.metrics import ServiceMetrics
from shared.uow import OUTBOX_CHANNEL

log = logging.getLogger(__name__)


def envelope_of(row: Any) -> Envelope:
    """Rebuild the CloudEvents envelope of an outbox row (ids unchanged, so replays dedupe)."""
    headers = row.headers
    return Envelope(
        id=row.id,
        source=headers["source"],
        type=row.type,
        subject=headers.get("subject"),
        time=datetime.fromisoformat(headers["time"]),
        tenantid=headers.get("tenantid"),
        partitionkey=row.partition_key,
        traceparent=headers.get("traceparent"),
        sequence=headers.get("sequence"),
        data=row.payload,
    )


class OutboxRelay:
    """Sends unpublished outbox rows in order; one active relay per database."""

    def __init__(
        self,
        *,
        settings: ServiceSettings,
        engine: AsyncEngine,
        plumbing: PlumbingTables,
        metrics: ServiceMetrics,
        read_engine: AsyncEngine | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        # Reading the backlog must not hold SQLite's one writer: only marking rows needs it.
        self._read_engine = read_engine or engine
        self._table = plumbing.outbox
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self._stopping = False
        self._lock_conn: AsyncConnection | None = None
        self.last_error: str | None = None
        self.is_leader = False

    def wake(self) -> None:
        """Tell the relay new rows were committed."""
        self._wake.set()

    async def run(self) -> None:
        """Relay until stopped: wake on commit or poll, send, mark; back off on errors."""
        backoff = self._settings.outbox_poll_interval_s
        last_purge = 0.0
        loop = asyncio.get_running_loop()
        try:
            while not self._stopping:
                try:
                    if not await self._hold_leadership():
                        await self._sleep(max(1.0, self._settings.outbox_poll_interval_s * 4))
                        continue
                    sent = await self.relay_once()
                    self.last_error = None
                    backoff = self._settings.outbox_poll_interval_s
                    if loop.time() - last_purge > 60:
                        await self.purge()
                        last_purge = loop.time()
                    if sent >= self._settings.outbox_batch_size:
                        continue  # more are waiting: do not sleep
                    await self._sleep(self._settings.outbox_poll_interval_s)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("outbox relay error, recreating producer: %s", self.last_error)
                    await self._drop_producer()
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Stop relaying and release the producer and the leadership lock."""
        self._stopping = True
        self._wake.set()
        await self._drop_producer()
        await self._release_leadership()

    async def relay_once(self) -> int:
        """Publish one batch of unpublished rows; return how many were published."""
        async with self._read_engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(self._table)
                    .where(self._table.c.published_at.is_(None))
                    .order_by(self._table.c.created_at, self._table.c.id)
                    .limit(self._settings.outbox_batch_size)
                )
            ).all()
        await self._update_gauges()
        if not rows:
            return 0
        producer = await self._ensure_producer()
        timeout = self._settings.kafka_send_timeout_s
        futures = []
        for row in rows:
            message = to_kafka(envelope_of(row))
            # send() only enqueues; the returned future resolves on the broker's ack.
            futures.append(
                await asyncio.wait_for(
                    producer.send(
                        row.topic,
                        value=message.value,
                        key=row.partition_key.encode(),
                        headers=[(k, v) for k, v in message.headers.items()],
                    ),
                    timeout,
                )
            )
        results = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), timeout)
        sent = [
            row
            for row, result in zip(rows, results, strict=True)
            if not isinstance(result, BaseException)
        ]
        failed = [
            (row, result)
            for row, result in zip(rows, results, strict=True)
            if isinstance(result, BaseException)
        ]
        await self._mark(sent, failed)
        for row in sent:
            self._metrics.events_published.labels(type=row.type).inc()
        await self._update_gauges()
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(rows)} sends failed: {failed[0][1]!r}")
        return len(sent)

    async def _mark(self, sent: list[Any], failed: list[tuple[Any, BaseException]]) -> None:
        """Record acknowledged rows as published and count attempts of failed ones."""
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            if sent:
                await conn.execute(
                    self._table.update()
                    .where(self._table.c.id.in_([row.id for row in sent]))
                    .values(published_at=now, attempts=self._table.c.attempts + 1)
                )
            for row, error in failed:
                await conn.execute(
                    self._table.update()
                    .where(self._table.c.id == row.id)
                    .values(attempts=self._table.c.attempts + 1, last_error=repr(error)[:2000])
                )

    async def purge(self) -> int:
        """Delete published rows older than the retention window."""
        cutoff = datetime.now(UTC) - timedelta(hours=self._settings.outbox_retention_hours)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                self._table.delete().where(
                    self._table.c.published_at.is_not(None), self._table.c.published_at < cutoff
                )
            )
        return result.rowcount or 0

    async def replay(self, *, since: datetime, tenant_id: str | None = None) -> int:
        """Re-publish rows created since an instant (one tenant's, or all), with original ids."""
        conditions = [self._table.c.created_at >= since, self._table.c.published_at.is_not(None)]
        if tenant_id is not None:
            conditions.append(self._table.c.tenant_id == tenant_id)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                self._table.update().where(*conditions).values(published_at=None)
            )
        self.wake()
        return result.rowcount or 0

    async def pending(self) -> tuple[int, datetime | None]:
        """Count unpublished rows and the creation time of the oldest."""
        async with self._read_engine.connect() as conn:
            count, oldest = (
                await conn.execute(
                    sa.select(sa.func.count(), sa.func.min(self._table.c.created_at)).where(
                        self._table.c.published_at.is_(None)
                    )
                )
            ).one()
        return int(count), oldest  # SQLite returns naive datetimes

    async def _update_gauges(self) -> None:
        count, oldest = await self.pending()
        self._metrics.outbox_pending.set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        self._metrics.outbox_oldest_age.set(age)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = await start_producer(self._settings)
        return self._producer

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        await stop_quietly(producer, timeout=self._settings.kafka_send_timeout_s)

    async def _hold_leadership(self) -> bool:
        """On PostgreSQL hold an advisory lock so only one replica relays; SQLite is one process."""
        if self._engine.dialect.name != "postgresql":
            self.is_leader = True
            return True
        if self._lock_conn is not None:
            try:  # the lock lives as long as its connection: make sure it still does
                await self._lock_conn.execute(sa.text("SELECT 1"))
                await self._lock_conn.commit()
                return True
            except Exception:
                await self._release_leadership()
        conn = await self._engine.connect()
        query = sa.text("SELECT pg_try_advisory_lock(:k)")
        got = (await conn.execute(query, {"k": self._lock_key()})).scalar()
        await conn.commit()
        if got:
            self._lock_conn = conn
            await self._listen(conn)
        else:
            await conn.close()
        self.is_leader = bool(got)
        return self.is_leader

    async def _listen(self, conn: AsyncConnection) -> None:
        """Wake on commits made by other processes (an API beside this worker) at once."""
        try:
            raw = await conn.get_raw_connection()
            assert raw.driver_connection is not None  # an open connection has its driver's
            await raw.driver_connection.add_listener(OUTBOX_CHANNEL, lambda *_: self._wake.set())
        except Exception as exc:  # polling still works; only latency suffers
            log.warning("cannot LISTEN for outbox commits, polling only: %s", exc)

    def _lock_key(self) -> int:
        return zlib.crc32(f"attain-outbox-{self._settings.service_name}".encode())

    async def _release_leadership(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        self.is_leader = False
        if conn is None:
            return
        try:
            # Pooled connections outlive close(): unlock explicitly, or drop the connection.
            await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self._lock_key()})
            await conn.commit()
            await conn.close()
        except Exception:
            with contextlib.suppress(Exception):
                await conn.invalidate()
