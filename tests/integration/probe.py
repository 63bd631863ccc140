"""A minimal service built only from shared/ plumbing, to test that plumbing in isolation."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import ClassVar

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select

from shared.config import ServiceSettings
from shared.db import define_plumbing_tables, new_metadata
from shared.events import Envelope, Event
from shared.runtime import ServiceRuntime
from shared.uow import UnitOfWork

metadata = new_metadata()
plumbing = define_plumbing_tables(metadata)


class ProbeBase(SQLModel, registry=registry(metadata=metadata)):
    """Base of probe tables."""


class Effect(ProbeBase, table=True):
    """One row per applied event: lets tests count applications."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    thing_id: uuid.UUID = Field(index=True)


class ThingHappened(Event):
    """A probe fact."""

    TYPE: ClassVar[str] = "attain.probe.thing_happened.v1"

    team_id: uuid.UUID
    thing_id: uuid.UUID


class ProbeSettings(ServiceSettings):
    """Probe settings."""

    service_name: ClassVar[str] = "probe"


async def record_effect(event: ThingHappened, envelope: Envelope, uow: UnitOfWork) -> None:
    """Reaction that writes one effect row."""
    uow.session.add(Effect(thing_id=event.thing_id))


def probe_runtime(
    *,
    db_url: str,
    broker: dict[str, object],
    handler: Callable[..., Awaitable[None]] | None = record_effect,
    group: str = "probe",
) -> ServiceRuntime:
    """A runtime with the probe tables and, optionally, a consumer of ThingHappened."""
    settings = ProbeSettings(database_url=db_url, consumer_group=group, **broker)
    handlers = {ThingHappened: handler} if handler else {}
    return ServiceRuntime(
        settings=settings,
        metadata=metadata,
        plumbing=plumbing,
        uow_class=UnitOfWork,
        handlers=handlers,
    )


def thing(org: uuid.UUID | None = None, team: uuid.UUID | None = None) -> ThingHappened:
    """A new probe event."""
    return ThingHappened(
        org_id=org or uuid.uuid4(), team_id=team or uuid.uuid4(), thing_id=uuid.uuid4()
    )


async def emit_committed(runtime: ServiceRuntime, *events: Event) -> None:
    """Emit events in one committed unit of work."""
    async with runtime.uow() as uow:
        for event in events:
            uow.emit(event)
        await uow.commit()


async def effects(runtime: ServiceRuntime) -> list[uuid.UUID]:
    """Thing ids of every applied effect, one per application."""
    async with runtime.uow() as uow:
        return list((await uow.session.exec(select(Effect.thing_id))).all())


async def unpublished(runtime: ServiceRuntime) -> int:
    """Count outbox rows not yet published."""
    count, _ = await runtime.relay.pending()
    return count


async def read_topic(bootstrap: str, topic: str, *, expect: int, timeout: float = 15.0) -> list:
    """Read records from the start of a topic until `expect` arrived (or the timeout passed)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"reader-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=2000,
        heartbeat_interval_ms=200,
    )
    await consumer.start()
    records: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for items in batch.values():
                records.extend(items)
        # Linger briefly so unexpected extra records are seen too.
        batch = await consumer.getmany(timeout_ms=300)
        for items in batch.values():
            records.extend(items)
    finally:
        await consumer.stop()
    return records


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 15.0) -> None:
    """Wait until an async check holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def table_count(runtime: ServiceRuntime, table: sa.Table) -> int:
    """Rows in a plumbing table."""
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


class Thing(ProbeBase, table=True):
    """An org-scoped resource for HTTP plumbing tests."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    org_id: uuid.UUID = Field(index=True)
    name: str
    version: int = 1
