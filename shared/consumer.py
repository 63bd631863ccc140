"""Consumer runner: inbox dedupe in the handler's transaction, offsets after commit, DLQ."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from shared.config import ServiceSettings
from shared.events import Envelope, Event, UnknownEventType, dlq_topic, from_kafka
from shared.kafka import start_producer, stop_quietly
from shared.metrics import ServiceMetrics
from shared.tracing import child_traceparent, traceparent_var
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[Any, Envelope, Any], Awaitable[None]]
"""A reaction: (event, envelope, uow) -> None; it must not commit (the runner does)."""


class Record(Protocol):
    """The parts of a Kafka record the runner reads (aiokafka's ConsumerRecord has them)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class Outcome:
    """What happened to one record."""

    status: str  # applied | duplicate | ignored | dead_lettered
    error: str | None = None


class InfrastructureUnavailable(Exception):
    """The database failed, not the record: consuming pauses and the record comes again."""


def is_infrastructure_error(exc: BaseException) -> bool:
    """Lost connections, unreachable servers, deadlocks: failures no record is to blame for."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError)


class DeadLetterSink(Protocol):
    """Where records that keep failing go."""

    async def send(self, record: Record, *, error: BaseException, consumer: str) -> None: ...


class EventProcessor:
    """Applies one record exactly once: decode, inbox, handler, commit; DLQ after retries."""

    def __init__(
        self,
        *,
        name: str,
        handlers: Mapping[type[Event], Handler],
        uow_factory: Callable[[], UnitOfWork],
        dead_letters: DeadLetterSink,
        metrics: ServiceMetrics,
        max_attempts: int = 4,
        backoff_s: float = 0.2,
    ) -> None:
        self.name = name
        self._handlers = {cls.TYPE: (cls, handler) for cls, handler in handlers.items()}
        self._uow_factory = uow_factory
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s

    async def process(self, record: Record) -> Outcome:
        """Process a record; never raises for bad data (those go to the dead-letter sink)."""
        try:
            envelope = from_kafka(key=record.key, value=record.value, headers=list(record.headers))
        except ValueError as exc:
            return await self._dead_letter(record, exc)
        entry = self._handlers.get(envelope.type)
        if entry is None:
            return await self._unhandled(record, envelope)
        cls, handler = entry
        try:
            event = cls.model_validate(envelope.data)
        except Exception as exc:
            return await self._dead_letter(record, exc)
        token = traceparent_var.set(child_traceparent(envelope.traceparent))
        try:
            return await self._apply_with_retries(record, envelope, event, handler)
        finally:
            traceparent_var.reset(token)

    async def _unhandled(self, record: Record, envelope: Envelope) -> Outcome:
        try:
            envelope.event()
        except UnknownEventType:
            return Outcome("ignored")  # facts this consumer does not know are not its business
        except Exception as exc:  # a known fact in an unreadable schema version
            return await self._dead_letter(record, exc)
        return Outcome("ignored")

    async def _apply_with_retries(
        self, record: Record, envelope: Envelope, event: Event, handler: Handler
    ) -> Outcome:
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with self._uow_factory() as uow:
                    fresh = await uow.record_inbox(
                        consumer=self.name,
                        source=envelope.source,
                        event_id=envelope.id,
                        event_type=envelope.type,
                    )
                    if not fresh:
                        self._metrics.events_duplicate.labels(consumer=self.name).inc()
                        return Outcome("duplicate")
                    await handler(event, envelope, uow)
                    await uow.commit()
                self._metrics.events_consumed.labels(consumer=self.name, type=envelope.type).inc()
                return Outcome("applied")
            except Exception as exc:
                if attempt == self._max_attempts:
                    if is_infrastructure_error(exc):
                        # Not poison: the database is away. Stop here; the record is redelivered.
                        raise InfrastructureUnavailable(str(exc)) from exc
                    log.exception("handler failed %d times for %s", attempt, envelope.id)
                    return await self._dead_letter(record, exc)
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    async def _dead_letter(self, record: Record, error: BaseException) -> Outcome:
        await self._dead_letters.send(record, error=error, consumer=self.name)
        self._metrics.events_dead_lettered.labels(consumer=self.name).inc()
        return Outcome("dead_lettered", error=f"{type(error).__name__}: {error}")


class KafkaDeadLetters:
    """Sends the original bytes plus error headers to <topic>.dlq and records a dead_letter row."""

    def __init__(self, *, settings: ServiceSettings, uow_factory: Callable[[], UnitOfWork]) -> None:
        self._settings = settings
        self._uow_factory = uow_factory
        self._producer = None

    async def send(self, record: Record, *, error: BaseException, consumer: str) -> None:
        """Publish to the DLQ topic, then store the row an operator can list and replay."""
        headers = [
            *record.headers,
            ("x-error-type", type(error).__name__.encode()),
            ("x-error", str(error)[:1000].encode()),
            ("x-consumer", consumer.encode()),
            ("x-original-topic", record.topic.encode()),
            ("x-original-partition", str(record.partition).encode()),
            ("x-original-offset", str(record.offset).encode()),
        ]
        await self.republish(
            topic=dlq_topic(record.topic), key=record.key, value=record.value, headers=headers
        )
        async with self._uow_factory() as uow:
            await uow.session.execute(
                uow.plumbing.dead_letter.insert().values(
                    id=str(uuid.uuid4()),
                    consumer=consumer,
                    tenant_id=_header(record, "ce_tenantid"),
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=record.key,
                    value=record.value,
                    headers=[[k, base64.b64encode(v).decode()] for k, v in record.headers],
                    error_type=type(error).__name__,
                    error=str(error)[:4000],
                    failed_at=datetime.now(UTC),
                )
            )
            await uow.commit()

    async def republish(
        self,
        *,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> None:
        """Produce raw bytes to a topic and wait for the broker's ack."""
        if self._producer is None:
            self._producer = await start_producer(self._settings)
        timeout = self._settings.kafka_send_timeout_s
        try:
            future = await asyncio.wait_for(
                self._producer.send(topic, value=value, key=key, headers=headers), timeout
            )
            await asyncio.wait_for(future, timeout)
        except BaseException:
            await self.close()  # a broken producer is replaced on the next attempt
            raise

    async def close(self) -> None:
        """Stop the DLQ producer."""
        await stop_quietly(self._producer, timeout=self._settings.kafka_send_timeout_s)
        self._producer = None


def _header(record: Record, name: str) -> str | None:
    for key, value in record.headers:
        if key == name:
            return value.decode("utf-8", "replace")[:36]
    return None


class _CommitOnRevoke(ConsumerRebalanceListener):
    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._runner.commit_done(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


class ConsumerRunner:
    """Polls topics and feeds records to a processor, committing each partition after its work."""

    def __init__(
        self, *, settings: ServiceSettings, topics: Sequence[str], processor: EventProcessor
    ) -> None:
        self._settings = settings
        self._topics = list(topics)
        self._processor = processor
        self._consumer: AIOKafkaConsumer | None = None
        self._done: dict[TopicPartition, int] = {}
        self._stopping = False
        self.last_progress = time.monotonic()
        self.last_error: str | None = None
        self.started = asyncio.Event()

    def new_consumer(self) -> AIOKafkaConsumer:
        """A consumer with manual commits and earliest reset (tansu's 'latest' is unreliable)."""
        s = self._settings
        return AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            group_id=s.consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=s.kafka_session_timeout_ms,
            heartbeat_interval_ms=s.kafka_heartbeat_interval_ms,
            max_poll_interval_ms=max(300_000, s.kafka_session_timeout_ms * 2),
            rebalance_timeout_ms=max(s.kafka_session_timeout_ms, 10_000),
        )

    async def run(self) -> None:
        """Consume until stopped; reconnect with backoff when the broker goes away."""
        backoff = 0.5
        while not self._stopping:
            try:
                await self._consume()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("consumer %s error, restarting: %s", self._processor.name, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _consume(self) -> None:
        consumer = self._consumer = self.new_consumer()
        await asyncio.wait_for(consumer.start(), 30)
        try:
            consumer.subscribe(self._topics, listener=_CommitOnRevoke(self))
            self.started.set()
            while not self._stopping:
                batches = await consumer.getmany(timeout_ms=500, max_records=200)
                self.last_progress = time.monotonic()
                for tp, records in batches.items():
                    for record in records:
                        if self._stopping:
                            break
                        await self._processor.process(record)
                        self._done[tp] = record.offset + 1
                        self.last_progress = time.monotonic()
                    await self.commit_done({tp})
                self.last_error = None
        finally:
            with contextlib.suppress(Exception):
                await self.commit_done(None)  # the rebalance listener is not called on stop
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 10)
            self._consumer = None

    async def commit_done(self, partitions: set[TopicPartition] | None) -> None:
        """Commit the offsets of work already durable, for some partitions or all."""
        consumer = self._consumer
        if consumer is None:
            return
        chosen = {
            tp: OffsetAndMetadata(offset, "")
            for tp, offset in self._done.items()
            if partitions is None or tp in partitions
        }
        if not chosen:
            return
        await consumer.commit(chosen)
        for tp in chosen:
            self._done.pop(tp, None)

    async def stop(self) -> None:
        """Finish the record in hand, commit, and leave the group."""
        self._stopping = True
