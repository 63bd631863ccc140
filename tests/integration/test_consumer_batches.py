"""Batches: one transaction for many records, a poison record isolated, redelivery a no-op."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from shared.consumer import EventProcessor
from shared.events import dlq_topic, from_kafka
from shared.kafka import ensure_topics
from shared.uow import UnitOfWork
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
from tests.integration.test_consumer import _produce, _record

pytestmark = pytest.mark.integration
TOPIC = ThingHappened.topic()


async def _prepare_unhurried(db_url: str, bootstrap: str, **kwargs):
    """A probe whose transactions are not cut by time: a busy machine must not split batches."""
    broker = broker_settings(bootstrap) | {"consumer_transaction_budget_ms": 60_000}
    runtime = probe_runtime(db_url=db_url, broker=broker, **kwargs)
    await runtime.create_schema()
    await ensure_topics(runtime.settings, runtime.topics())
    return runtime


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

    runtime = await _prepare_unhurried(db_url, bootstrap, handler=handler)
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
        # Records after the poison wait for its verdict: the partition's order holds. (The first
        # pass, without savepoints, ran the handlers up to the poison and was rolled back whole;
        # the pass with a savepoint per record then kept those before it.)
        verdict = calls.index("dead-lettered")
        kept_before = [c for c in calls[:verdict] if c != "poison"][-4:]
        assert kept_before == [str(e.thing_id) for e in events[:4]]
        assert calls[verdict + 1 :] == [str(e.thing_id) for e in events[5:]]
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
    first = await _prepare_unhurried(db_url, bootstrap)
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


@dataclass
class _Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


async def test_an_event_a_concurrent_consumer_claimed_first_is_undone_and_skipped(db_url):
    runtime = probe_runtime(db_url=db_url, broker=broker_settings("127.0.0.1:1"))
    await runtime.create_schema()
    won, lost = thing(), thing()
    records = [_Record(TOPIC, 0, i, *_record(e)) for i, e in enumerate((won, lost))]
    lost_envelope = from_kafka(
        key=records[1].key, value=records[1].value, headers=records[1].headers
    )
    async with runtime.uow() as uow:  # the other consumer's commit, unseen by our first look
        await uow.record_inbox(
            consumer="probe", source=lost_envelope.source, event_id=lost_envelope.id,
            event_type=lost_envelope.type,
        )  # fmt: skip
        await uow.commit()
    looks = []
    processed = UnitOfWork.processed

    async def stale_first_look(self, *, consumer, keys):
        looks.append(keys)
        return set() if len(looks) == 1 else await processed(self, consumer=consumer, keys=keys)

    processor = EventProcessor(
        name="probe", handlers={ThingHappened: record_effect}, uow_factory=runtime.uow,
        dead_letters=runtime.dead_letters, metrics=runtime.metrics,
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(UnitOfWork, "processed", stale_first_look)
        outcomes = await processor.process_batch(records)
    try:
        assert [o.status for _, o in outcomes] == ["applied", "duplicate"]
        assert len(looks) == 2  # the first transaction was undone and tried again
        assert await effects(runtime) == [won.thing_id]
    finally:
        await runtime.engine.dispose()
        await runtime.read_engine.dispose()


class _Sink:
    """A dead-letter sink that keeps what it was given."""

    def __init__(self) -> None:
        self.records: list = []

    async def send(self, record, *, error, consumer) -> None:
        self.records.append((record.offset, type(error).__name__))


async def test_events_emitted_by_a_failing_handler_never_reach_the_outbox(db_url):
    runtime = probe_runtime(db_url=db_url, broker=broker_settings("127.0.0.1:1"))
    await runtime.create_schema()
    events = [thing() for _ in range(5)]
    poison = events[2]

    async def emits_then_maybe_fails(event, envelope, uow):
        await record_effect(event, envelope, uow)
        uow.emit(event)  # a reaction's own fact, written to the outbox with the effect
        if event.thing_id == poison.thing_id:
            raise RuntimeError("fails after emitting")

    sink = _Sink()
    processor = EventProcessor(
        name="probe", handlers={ThingHappened: emits_then_maybe_fails}, uow_factory=runtime.uow,
        dead_letters=sink, metrics=runtime.metrics, max_attempts=2, backoff_s=0,
    )  # fmt: skip
    records = [_Record(TOPIC, 0, i, *_record(e)) for i, e in enumerate(events)]
    try:
        outcomes = await processor.process_batch(records)
        assert [o.status for _, o in outcomes] == ["applied"] * 2 + ["dead_lettered"] + [
            "applied"
        ] * 2
        assert sink.records == [(2, "RuntimeError")]
        good = sorted(str(e.thing_id) for e in events if e is not poison)
        async with runtime.engine.connect() as conn:
            table = runtime.plumbing.outbox
            rows = (await conn.execute(sa.select(table.c.payload))).all()
        assert sorted(r.payload["thing_id"] for r in rows) == good
        assert sorted(str(t) for t in await effects(runtime)) == good
    finally:
        await runtime.engine.dispose()
        await runtime.read_engine.dispose()
