"""Dead letters: the original bytes plus error headers to <topic>.dlq, and a row to replay."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from aiokafka import AIOKafkaProducer

from shared.config import ServiceSettings
from shared.events import dlq_topic
from shared.kafka import start_producer, stop_quietly
from shared.uow import UnitOfWork


class Record(Protocol):
    """The parts of a Kafka record the runner reads (aiokafka's ConsumerRecord has them)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


class DeadLetterSink(Protocol):
    """Where records that keep failing go."""

    async def send(self, record: Record, *, error: BaseException, consumer: str) -> None: ...


class KafkaDeadLetters:
    """Sends the original bytes plus error headers to <topic>.dlq and records a dead_letter row."""

    def __init__(self, *, settings: ServiceSettings, uow_factory: Callable[[], UnitOfWork]) -> None:
        self._settings = settings
        self._uow_factory = uow_factory
        self._producer: AIOKafkaProducer | None = None

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
