"""The transactional outbox and its relay, on real SQLite and PostgreSQL against a real broker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from devtools.broker import free_port, start_broker
from devtools.kafka import start_kafka
from shared.kafka import ensure_topics
from tests.conftest import BROKER_KINDS, KAFKA_BOOTSTRAPS, broker_settings
from tests.integration.probe import (
    ThingHappened,
    effects,
    emit_committed,
    eventually,
    probe_runtime,
    read_topic,
    thing,
    unpublished,
)

pytestmark = pytest.mark.integration
TOPIC = ThingHappened.topic()


async def test_event_is_published_only_when_its_transaction_commits(db_url, fresh_broker):
    runtime = probe_runtime(
        db_url=db_url, broker=broker_settings(fresh_broker.bootstrap_servers), handler=None
    )
    await runtime.create_schema()
    kept, dropped = thing(), thing()
    async with runtime.uow() as uow:
        uow.emit(dropped)  # leaves the block without commit: rolled back
    await emit_committed(runtime, kept)
    await runtime.start_workers()
    try:
        records = await read_topic(fresh_broker.bootstrap_servers, TOPIC, expect=1)
    finally:
        await runtime.stop()
    ids = [ThingHappened.model_validate_json(r.value).thing_id for r in records]
    assert ids == [kept.thing_id]


@pytest.mark.parametrize("kind", BROKER_KINDS)
async def test_events_written_while_broker_is_down_are_published_when_it_returns(
    db_url, kind, tmp_path
):
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    if kind == "kafka":
        KAFKA_BOOTSTRAPS.add(bootstrap)
    runtime = probe_runtime(db_url=db_url, broker=broker_settings(bootstrap), handler=None)
    await runtime.create_schema()
    relay = asyncio.create_task(runtime.relay.run())
    events = [thing() for _ in range(5)]
    await emit_committed(runtime, *events)
    await asyncio.sleep(0.5)
    assert await unpublished(runtime) == 5  # nothing can be sent yet
    assert runtime.relay.last_error is not None
    if kind == "kafka":
        broker = await asyncio.to_thread(start_kafka, tmp_path / "kafka", ports=[port])
        # Apache Kafka runs with auto-creation off, as in compose: topics come from the init step.
        await ensure_topics(runtime.settings, runtime.topics())
    else:
        broker = start_broker(port=port)
    try:
        await eventually(lambda: _none_left(runtime), timeout=60)
        records = await read_topic(bootstrap, TOPIC, expect=5)
        assert {ThingHappened.model_validate_json(r.value).thing_id for r in records} == {
            e.thing_id for e in events
        }
    finally:
        await runtime.relay.stop()
        relay.cancel()
        await runtime.stop()
        broker.stop()


async def _none_left(runtime) -> bool:
    return await unpublished(runtime) == 0


async def test_relay_crash_between_send_and_mark_duplicates_on_the_wire_but_applies_once(
    db_url, fresh_broker, monkeypatch
):
    runtime = probe_runtime(db_url=db_url, broker=broker_settings(fresh_broker.bootstrap_servers))
    await runtime.create_schema()
    original_mark = type(runtime.relay)._mark
    crashes = {"left": 1}

    async def crash_once(self, sent, failed):
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("relay died after the broker acked, before marking")
        await original_mark(self, sent, failed)

    monkeypatch.setattr(type(runtime.relay), "_mark", crash_once)
    event = thing()
    await emit_committed(runtime, event)
    await runtime.start_workers()
    try:
        records = await read_topic(fresh_broker.bootstrap_servers, TOPIC, expect=2)
        assert len(records) == 2  # sent twice: once before the crash, once after
        assert records[0].headers == records[1].headers  # same ce_id both times
        await eventually(lambda: _applied(runtime, 1))
        await asyncio.sleep(0.5)
        assert await effects(runtime) == [event.thing_id]
        assert runtime.metrics.events_duplicate.labels(consumer="probe")._value.get() == 1
    finally:
        await runtime.stop()


async def _applied(runtime, n: int) -> bool:
    return len(await effects(runtime)) >= n


async def test_replay_republishes_with_original_ids(db_url, fresh_broker):
    runtime = probe_runtime(
        db_url=db_url, broker=broker_settings(fresh_broker.bootstrap_servers), handler=None
    )
    await runtime.create_schema()
    await emit_committed(runtime, thing(), thing())
    await runtime.start_workers()
    try:
        await eventually(lambda: _none_left(runtime))
        assert await runtime.relay.replay(since=datetime.now(UTC) - timedelta(minutes=1)) == 2
        records = await read_topic(fresh_broker.bootstrap_servers, TOPIC, expect=4)
    finally:
        await runtime.stop()
    ids = [dict(r.headers)["ce_id"] for r in records]
    assert len(ids) == 4 and len(set(ids)) == 2


async def test_purge_removes_only_old_published_rows(db_url, fresh_broker):
    runtime = probe_runtime(
        db_url=db_url, broker=broker_settings(fresh_broker.bootstrap_servers), handler=None
    )
    runtime.settings.outbox_retention_hours = 0
    await runtime.create_schema()
    await ensure_topics(runtime.settings, runtime.topics())  # Apache Kafka does not auto-create
    await emit_committed(runtime, thing())
    assert await runtime.relay.purge() == 0  # unpublished rows are never purged
    assert await runtime.relay.relay_once() == 1
    assert await runtime.relay.purge() == 1
    await runtime.stop()


async def test_only_one_relay_leads_per_postgresql_database(postgres):
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres.create_database(name)
    first = probe_runtime(
        db_url=postgres.url(name), broker=broker_settings("127.0.0.1:1"), handler=None
    )
    second = probe_runtime(
        db_url=postgres.url(name), broker=broker_settings("127.0.0.1:1"), handler=None
    )
    try:
        assert await first.relay._hold_leadership() is True
        assert await second.relay._hold_leadership() is False
        await first.relay.stop()  # releases the advisory lock
        assert await second.relay._hold_leadership() is True
    finally:
        await first.stop()
        await second.stop()


async def test_a_commit_in_another_process_wakes_the_relay_at_once_on_postgresql(
    postgres, fresh_broker
):
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres.create_database(name)
    settings = broker_settings(fresh_broker.bootstrap_servers)
    worker = probe_runtime(db_url=postgres.url(name), broker=settings, handler=None)
    api = probe_runtime(db_url=postgres.url(name), broker=settings, handler=None)
    worker.settings.outbox_poll_interval_s = 60  # only a notification can wake it in time
    await worker.create_schema()
    await worker.start_workers()
    try:
        await eventually(lambda: _leads(worker))
        await asyncio.sleep(0.3)  # let the relay go back to sleep on its long poll
        await emit_committed(api, thing())  # the API process: its relay is not running
        records = await read_topic(fresh_broker.bootstrap_servers, TOPIC, expect=1, timeout=10)
        assert len(records) == 1
    finally:
        await worker.stop()
        await api.stop()


async def _leads(runtime) -> bool:
    return runtime.relay.is_leader
