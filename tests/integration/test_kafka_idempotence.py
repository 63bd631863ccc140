"""On Apache Kafka the relay's idempotent producer writes a retried batch once, not twice."""

from __future__ import annotations

import asyncio
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.broker import free_port
from devtools.kafka import KafkaCluster, start_kafka
from shared.kafka import ensure_topics
from tests.conftest import broker_settings, wipe_topics
from tests.integration.probe import ThingHappened, emit_committed, probe_runtime, read_topic, thing

pytestmark = [pytest.mark.integration, pytest.mark.kafka]
PRODUCE = 0  # Kafka API key of Produce requests


class AckDroppingProxy:
    """A TCP proxy in front of the broker that swallows the first Produce response and hangs up.

    The broker has written the batch by then; the client only sees its connection die mid-send,
    so it sends the same batch again. That is the retry an idempotent producer must not duplicate.
    """

    def __init__(self, listen_port: int, broker_port: int) -> None:
        self.listen_port = listen_port
        self.broker_port = broker_port
        self.cuts = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen on the advertised port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.listen_port)

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            broker_r, broker_w = await asyncio.open_connection("127.0.0.1", self.broker_port)
        except OSError:
            client_w.close()
            return
        victim: set[int] = set()

        async def upstream() -> None:
            while frame := await _frame(client_r):
                api_key, correlation = struct.unpack(">hxxi", frame[4:12])
                if api_key == PRODUCE and self.cuts == 0 and not victim:
                    victim.add(correlation)
                broker_w.write(frame)
                await broker_w.drain()

        async def downstream() -> None:
            while frame := await _frame(broker_r):
                (correlation,) = struct.unpack(">i", frame[4:8])
                if correlation in victim and self.cuts == 0:
                    self.cuts += 1  # the broker wrote the batch; the client never hears so
                    return
                client_w.write(frame)
                await client_w.drain()

        tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for writer in (client_w, broker_w):
            writer.close()


async def _frame(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readexactly(4)
        return head + await reader.readexactly(struct.unpack(">i", head)[0])
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


@pytest.fixture(scope="module")
def proxied_kafka() -> Iterator[tuple[KafkaCluster, int]]:
    """A Kafka of the module's own that advertises the proxy's port instead of its own."""
    proxy_port = free_port()
    with tempfile.TemporaryDirectory(prefix="attain-kafka-idem-") as base:
        cluster = start_kafka(Path(base), advertised_ports=[proxy_port])
        yield cluster, proxy_port
        cluster.stop()


@pytest.mark.parametrize("idempotent", [True, False], ids=["idempotent", "plain"])
async def test_a_send_whose_ack_is_lost_is_written_once_only_by_the_idempotent_producer(
    proxied_kafka, tmp_path, idempotent
):
    """Idempotent: one record after the lost ack and the retry; plain producer: two (the control)."""
    cluster, proxy_port = proxied_kafka
    proxy = AckDroppingProxy(proxy_port, cluster.nodes[0].port)
    await proxy.start()
    bootstrap = f"127.0.0.1:{proxy_port}"
    settings = broker_settings(bootstrap) | {"kafka_enable_idempotence": idempotent}
    runtime = probe_runtime(
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'idem.db'}", broker=settings, handler=None
    )
    topic = ThingHappened.topic()
    try:
        await wipe_topics(bootstrap)  # each case counts records on a topic of its own
        await runtime.create_schema()
        await ensure_topics(runtime.settings, [topic])
        event = thing()
        await emit_committed(runtime, event)
        assert await runtime.relay.relay_once() == 1  # the relay saw one success, after a retry
        assert proxy.cuts == 1, "the proxy never cut a produce response: the test proved nothing"
        records = await read_topic(bootstrap, topic, expect=2, timeout=5)
    finally:
        await runtime.stop()
        await proxy.stop()
    assert len(records) == (1 if idempotent else 2)
    assert len({dict(r.headers)["ce_id"] for r in records}) == 1  # the same event each time
    assert all(str(event.thing_id).encode() in r.value for r in records)
