"""Batches: one transaction for many records, a poison record isolated, redelivery a no-op."""

from __future__ import annotations

import pytest

from shared.events import dlq_topic
from tests.conftest import broker_settings
from tests.integration.probe import (
    ThingHappened,
    effects,
    eventually,
    probe_runtime,
    read_topic,
    record_effect,
    table_count,
    thing,
)
from tests.integration.test_consumer import _prepare, _produce, _record

pytestmark = pytest.mark.integration
TOPIC = ThingHappened.topic()


def _counter(runtime, metric) -> float:
    return metric.labels(consumer="probe")._value.get()


async def test_a_poison_record_mid_batch_is_dead_lettered_alone_and_order_is_kept(
    db_url, fresh_broker
):
    bootstrap = fresh_broker.bootstrap_servers
    team = thing().team_id  # one key: one partition, so the ten records arrive as one batch
    events = [thing(team=team) for _ in range(10)]
    poison = events[4]
    calls: list[str] = []

    async def handler(event, envelope, uow):
        if event.thing_id == poison.thing_id:
            calls.append("poison")
            raise RuntimeError("this record always fails")
        calls.append(str(event.thing_id))
        await record_effect(event, envelope, uow)

    runtime = await _prepare(db_url, bootstrap, handler=handler)
    sent_to_dlq: list[str] = []
    send = runtime.dead_letters.send

    async def spy(record, *, error, consumer):
        sent_to_dlq.append(str(record.offset))
        calls.append("dead-lettered")
        await send(record, error=error, consumer=consumer)

    runtime.dead_letters.send = spy
    await _produce(bootstrap, [_record(e) for e in events])
    await runtime.start_workers()
    try:
        await eventually(lambda: _applied(runtime, 9))
        good = [e for e in events if e is not poison]
        assert sorted(await effects(runtime)) == sorted(e.thing_id for e in good)
        dead = await read_topic(bootstrap, dlq_topic(TOPIC), expect=1)
        assert len(dead) == 1 and dict(dead[0].headers)["x-error-type"] == b"RuntimeError"
        assert await table_count(runtime, runtime.plumbing.dead_letter) == 1
        # Records after the poison wait for its verdict: the partition's order holds.
        applied_order = [c for c in calls if c not in ("poison", "dead-lettered")]
        assert applied_order[:4] == [str(e.thing_id) for e in events[:4]]
        assert applied_order[4:] == [str(e.thing_id) for e in events[5:]]
        assert calls.index("dead-lettered") < calls.index(str(events[5].thing_id))
        # Nine applied in a handful of transactions, not one each.
        assert _counter(runtime, runtime.metrics.consumer_transactions) <= 3
    finally:
        await runtime.stop()


async def _applied(runtime, n: int) -> bool:
    return len(await effects(runtime)) >= n


async def test_a_crash_after_a_batch_commit_makes_its_redelivery_a_no_op(
    db_url, fresh_broker, monkeypatch
):
    bootstrap = fresh_broker.bootstrap_servers
    first = await _prepare(db_url, bootstrap)
    events = [thing() for _ in range(60)]
    await _produce(bootstrap, [_record(e) for e in events])

    async def never_commit(self, partitions):  # the process dies before any offset commit
        return None

    assert first.consumer is not None
    monkeypatch.setattr(type(first.consumer), "commit_done", never_commit)
    await first.start_workers()
    await eventually(lambda: _applied(first, 60))
    batches = _counter(first, first.metrics.consumer_transactions)
    await first.stop()
    monkeypatch.undo()
    assert batches < 60 / 2, f"60 records took {batches} transactions: not batched"

    second = probe_runtime(db_url=db_url, broker=broker_settings(bootstrap))
    await second.start_workers()
    try:
        await eventually(lambda: _duplicates(second, 60))
        assert sorted(await effects(second)) == sorted(e.thing_id for e in events)
        assert _counter(second, second.metrics.consumer_transactions) == 0
    finally:
        await second.stop()


async def _duplicates(runtime, n: int) -> bool:
    return _counter(runtime, runtime.metrics.events_duplicate) >= n
