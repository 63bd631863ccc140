"""The consumer runner: exactly-once effects, offsets after commit, dead letters, groups."""

from __future__ import annotations

import json
import time

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.exc import OperationalError

from shared.events import dlq_topic, to_kafka, wrap
from shared.kafka import ensure_topics
from tests.conftest import broker_settings
from tests.integration.probe import (
    ProbeSettings,
    ThingHappened,
    effects,
    eventually,
    probe_runtime,
    read_topic,
    table_count,
    thing,
)

pytestmark = pytest.mark.integration
TOPIC = ThingHappened.topic()


async def _produce(bootstrap: str, messages: list[tuple[bytes | None, bytes, list]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value, headers in messages:
            await producer.send_and_wait(TOPIC, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


def _record(event) -> tuple[bytes, bytes, list]:
    message = to_kafka(wrap(event))
    return event.partition_key().encode(), message.value, list(message.headers.items())


async def _prepare(db_url: str, bootstrap: str, **kwargs):
    runtime = probe_runtime(db_url=db_url, broker=broker_settings(bootstrap), **kwargs)
    await runtime.create_schema()
    await ensure_topics(runtime.settings, runtime.topics())
    return runtime


async def test_redelivered_event_is_applied_once(db_url, fresh_broker):
    runtime = await _prepare(db_url, fresh_broker.bootstrap_servers)
    event = thing()
    record = _record(event)
    await _produce(fresh_broker.bootstrap_servers, [record, record, record])
    await runtime.start_workers()
    try:
        await eventually(lambda: _duplicates(runtime, 2))
        assert await effects(runtime) == [event.thing_id]
    finally:
        await runtime.stop()


async def _duplicates(runtime, n: int) -> bool:
    return runtime.metrics.events_duplicate.labels(consumer="probe")._value.get() >= n


async def test_crash_after_db_commit_before_offset_commit_does_not_double_apply(
    db_url, fresh_broker, monkeypatch
):
    bootstrap = fresh_broker.bootstrap_servers
    first = await _prepare(db_url, bootstrap)
    events = [thing() for _ in range(3)]
    await _produce(bootstrap, [_record(e) for e in events])

    async def never_commit(self, partitions):  # the process dies before any offset commit
        return None

    assert first.consumer is not None
    monkeypatch.setattr(type(first.consumer), "commit_done", never_commit)
    try:
        await first.start_workers()
        await eventually(lambda: _applied(first, 3))
    finally:
        await first.stop()  # never leaked into a shared broker's group
    monkeypatch.undo()

    second = probe_runtime(db_url=db_url, broker=broker_settings(bootstrap))
    await second.start_workers()
    try:
        await eventually(lambda: _duplicates(second, 3))  # all redelivered, all skipped
        assert sorted(await effects(second)) == sorted(e.thing_id for e in events)
    finally:
        await second.stop()


async def _applied(runtime, n: int) -> bool:
    return len(await effects(runtime)) >= n


async def test_poison_messages_go_to_the_dlq_and_the_partition_keeps_moving(db_url, fresh_broker):
    bootstrap = fresh_broker.bootstrap_servers
    fails_on = thing()

    async def handler(event, envelope, uow):
        if event.thing_id == fails_on.thing_id:
            raise RuntimeError("handler always fails for this one")
        from tests.integration.probe import record_effect

        await record_effect(event, envelope, uow)

    runtime = await _prepare(db_url, bootstrap, handler=handler)
    team = fails_on.team_id  # one key: everything lands on one partition, in order
    good = thing(org=fails_on.org_id, team=team)
    key, value, headers = _record(thing(org=fails_on.org_id, team=team))
    bad_json = (key, b"{not json", headers)
    future = [(k, v.replace(b".v1", b".v9")) if k == "ce_type" else (k, v) for k, v in headers]
    unknown_version = (key, value, future)
    await _produce(bootstrap, [bad_json, unknown_version, _record(fails_on), _record(good)])
    await runtime.start_workers()
    try:
        await eventually(lambda: _applied(runtime, 1))
        assert await effects(runtime) == [good.thing_id]
        dead = await read_topic(bootstrap, dlq_topic(TOPIC), expect=3)
        assert len(dead) == 3
        reasons = [dict(r.headers)["x-error-type"].decode() for r in dead]
        assert reasons[0] == "ValueError"
        assert reasons[1] == "UnknownSchemaVersion"
        assert reasons[2] == "RuntimeError"
        assert dead[0].value == b"{not json"  # original bytes kept
        assert all(dict(r.headers)["x-original-topic"] == TOPIC.encode() for r in dead)
        assert await table_count(runtime, runtime.plumbing.dead_letter) == 3
    finally:
        await runtime.stop()


async def test_unknown_event_types_are_skipped_without_dead_lettering(db_url, fresh_broker):
    runtime = await _prepare(db_url, fresh_broker.bootstrap_servers)
    key, value, headers = _record(thing())
    other = [(k, b"attain.probe.other_fact.v1") if k == "ce_type" else (k, v) for k, v in headers]
    good = thing()
    await _produce(fresh_broker.bootstrap_servers, [(key, value, other), _record(good)])
    await runtime.start_workers()
    try:
        await eventually(lambda: _applied(runtime, 1))
        assert await effects(runtime) == [good.thing_id]
        assert await table_count(runtime, runtime.plumbing.dead_letter) == 0
    finally:
        await runtime.stop()


async def test_two_consumers_split_partitions_and_lose_nothing_when_one_stops(db_url, fresh_broker):
    bootstrap = fresh_broker.bootstrap_servers
    one = await _prepare(db_url, bootstrap)
    two = probe_runtime(db_url=db_url, broker=broker_settings(bootstrap))
    # Stopped whatever happens: on a shared broker a leaked member would steal later tests' work.
    try:
        await one.start_workers()
        await two.start_workers()
        # Produce only once the group settled with both members (Kafka rebalances take a moment).
        await eventually(lambda: _both_assigned(one, two), timeout=30)
        first_batch = [thing() for _ in range(30)]
        await _produce(bootstrap, [_record(e) for e in first_batch])
        await eventually(lambda: _applied(one, 30), timeout=30)
        consumed = [
            r.metrics.events_consumed.labels(consumer="probe", type=ThingHappened.TYPE)._value.get()
            for r in (one, two)
        ]
        assert all(c > 0 for c in consumed), f"both members should get partitions: {consumed}"
        await two.stop()
        second_batch = [thing() for _ in range(30)]
        await _produce(bootstrap, [_record(e) for e in second_batch])
        await eventually(lambda: _applied(one, 60), timeout=30)
        applied = await effects(one)
        assert sorted(applied) == sorted(e.thing_id for e in first_batch + second_batch)
    finally:
        await two.stop()
        await one.stop()


async def _both_assigned(*runtimes) -> bool:
    consumers = [r.consumer._consumer for r in runtimes]
    return all(c is not None and c.assignment() for c in consumers)


def test_settings_pass_broker_timeouts_through():
    settings = ProbeSettings(**broker_settings("127.0.0.1:1"))
    assert settings.kafka_session_timeout_ms == 2000
    assert json.loads(json.dumps(settings.consumer_group)) == "attain-probe"


async def test_a_database_outage_pauses_consumption_instead_of_dead_lettering(db_url, fresh_broker):
    outage = {"until": 0.0}

    async def handler(event, envelope, uow):
        if time.monotonic() < outage["until"]:
            raise OperationalError("INSERT ...", {}, ConnectionRefusedError("database is down"))
        from tests.integration.probe import record_effect

        await record_effect(event, envelope, uow)

    runtime = await _prepare(db_url, fresh_broker.bootstrap_servers, handler=handler)
    event = thing()
    await _produce(fresh_broker.bootstrap_servers, [_record(event)])
    outage["until"] = time.monotonic() + 2.0  # longer than all retries of one attempt round
    await runtime.start_workers()
    try:
        await eventually(lambda: _applied(runtime, 1), timeout=30)
        assert await effects(runtime) == [event.thing_id]
        assert await table_count(runtime, runtime.plumbing.dead_letter) == 0
        assert runtime.metrics.events_dead_lettered.labels(consumer="probe")._value.get() == 0
    finally:
        await runtime.stop()
