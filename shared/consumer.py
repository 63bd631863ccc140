"""Consumer runner: polls batches, hands them to the processor, commits offsets after commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from shared.config import ServiceSettings
from shared.dead_letters import DeadLetterSink, KafkaDeadLetters
from shared.processor import EventProcessor, Handler, InfrastructureUnavailable, Outcome

log = logging.getLogger(__name__)

__all__ = [
    "ConsumerRunner",
    "DeadLetterSink",
    "EventProcessor",
    "Handler",
    "InfrastructureUnavailable",
    "KafkaDeadLetters",
    "Outcome",
]


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._runner.commit_done(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


class ConsumerRunner:
    """Polls batches and feeds them to a processor, committing offsets after each batch's work."""

    def __init__(
        self, *, settings: ServiceSettings, topics: Sequence[str], processor: EventProcessor
    ) -> None:
        self._settings = settings
        self._topics = list(topics)
        self._processor = processor
        self._consumer: AIOKafkaConsumer | None = None
        self._done: dict[TopicPartition, int] = {}
        self._stopping = False
        self._stop_requested = asyncio.Event()
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
                await self._pause(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake early when stopping (shutdown must not wait out a backoff)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_requested.wait(), seconds)

    async def _consume(self) -> None:
        consumer = self._consumer = self.new_consumer()
        await asyncio.wait_for(consumer.start(), 30)
        try:
            consumer.subscribe(self._topics, listener=_CommitOnRevoke(self))
            self.started.set()
            while not self._stopping:
                batches = await consumer.getmany(
                    timeout_ms=self._settings.consumer_batch_max_wait_ms,
                    max_records=self._settings.consumer_batch_max_records,
                )
                self.last_progress = time.monotonic()
                records = [record for records in batches.values() for record in records]
                if not records:
                    continue
                done = await self._processor.process_batch(records, stopping=self.is_stopping)
                for record, _ in done:
                    self._done[TopicPartition(record.topic, record.partition)] = record.offset + 1
                self.last_progress = time.monotonic()
                await self.commit_done(set(batches))
                self.last_error = None
        finally:
            with contextlib.suppress(Exception):
                await self.commit_done(None)  # the rebalance listener is not called on stop
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 2)
            self._consumer = None

    def is_stopping(self) -> bool:
        """Whether stop() was called: the processor takes no more transactions then."""
        return self._stopping

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
        """Take no more batches: the one in hand ends its transaction, offsets are committed."""
        self._stopping = True
        self._stop_requested.set()
