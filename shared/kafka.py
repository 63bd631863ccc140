"""Producer factory and topic creation, with every broker call under a timeout."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.config import ServiceSettings

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36


def new_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """A producer with acks=all; idempotence only where the broker supports it (not tansu)."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        request_timeout_ms=int(settings.kafka_send_timeout_s * 1000),
        linger_ms=2,
    )


async def start_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """Create and start a producer, giving up after the send timeout."""
    producer = new_producer(settings)
    try:
        await asyncio.wait_for(producer.start(), settings.kafka_send_timeout_s)
    except BaseException:
        await stop_quietly(producer, timeout=settings.kafka_send_timeout_s)
        raise
    return producer


async def stop_quietly(client: AIOKafkaProducer | None, *, timeout: float) -> None:
    """Stop a producer without hanging: aiokafka's stop can block forever on a dead broker."""
    if client is None:
        return
    try:
        await asyncio.wait_for(client.stop(), timeout)
    except (TimeoutError, Exception) as exc:  # stopping is best effort
        log.warning("producer stop did not finish cleanly: %s", exc)


async def ensure_topics(
    settings: ServiceSettings, topics: Iterable[str], *, timeout: float = 15.0
) -> None:
    """Create topics with the configured partition count; 'already exists' counts as success."""
    wanted = sorted(set(topics))
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=int(timeout * 1000)
    )
    await asyncio.wait_for(admin.start(), timeout)
    try:
        response = await asyncio.wait_for(
            admin.create_topics(
                [
                    NewTopic(
                        name=t,
                        num_partitions=settings.kafka_topic_partitions,
                        replication_factor=settings.kafka_replication_factor,
                    )
                    for t in wanted
                ]
            ),
            timeout,
        )
        # aiokafka reports per-topic errors in the response instead of raising.
        for topic_error in getattr(response, "topic_errors", []):
            name, code = topic_error[0], topic_error[1]
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise RuntimeError(f"could not create topic {name}: error code {code}")
    finally:
        await asyncio.wait_for(admin.close(), timeout)
