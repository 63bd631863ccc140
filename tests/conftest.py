"""Session infrastructure: real brokers (tansu and Apache Kafka) and a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from hypothesis import HealthCheck, settings

from devtools.broker import start_broker
from devtools.kafka import KafkaCluster, start_kafka
from devtools.postgres import LocalPostgres, start_postgres

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Wall-clock deadlines make property tests flaky on a busy 2-core CI machine; the example
# counts, not the timings, are what the properties promise.
settings.register_profile("attain", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("attain")
DB_KINDS = ("sqlite", "postgresql")
#: Every broker-backed test runs on both; `pytest -m kafka` selects the Apache Kafka half.
BROKER_KINDS = ("tansu", pytest.param("kafka", marks=pytest.mark.kafka))
#: Bootstrap addresses of the Apache Kafka brokers this session started (idempotence works there).
KAFKA_BOOTSTRAPS: set[str] = set()


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """One PostgreSQL server for the session (databases are made per test)."""
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def session_broker() -> Iterator[str]:
    """A broker shared by the session: KAFKA_BOOTSTRAP_SERVERS if set, else a local tansu."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    broker = start_broker()
    yield broker.bootstrap_servers
    broker.stop()


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """One single-node Apache Kafka for the session, built from Maven Central artifacts."""
    cluster = start_kafka(tmp_path_factory.mktemp("kafka"))
    KAFKA_BOOTSTRAPS.add(cluster.bootstrap_servers)
    yield cluster
    cluster.stop()


@dataclass
class BrokerHandle:
    """What a test needs of its broker: where it is and which kind it is."""

    bootstrap_servers: str
    kind: str


@pytest.fixture(params=BROKER_KINDS)
def fresh_broker(request: pytest.FixtureRequest) -> Iterator[BrokerHandle]:
    """A broker whose topics and offsets start empty: a new tansu, or the session Kafka wiped."""
    if request.param == "tansu":
        broker = start_broker()
        yield BrokerHandle(broker.bootstrap_servers, "tansu")
        broker.stop()
        return
    # A JVM start per test would cost seconds; deleting every topic also drops group offsets.
    cluster: KafkaCluster = request.getfixturevalue("kafka_cluster")
    run_isolated(wipe_topics(cluster.bootstrap_servers))
    yield BrokerHandle(cluster.bootstrap_servers, "kafka")


def run_isolated(coro) -> object:
    """Run a coroutine on a loop of its own thread (the test's loop is not running yet)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def wipe_topics(bootstrap: str, timeout: float = 30.0) -> None:
    """Delete every non-internal topic and wait until the broker lists none."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            topics = [t for t in await admin.list_topics() if not t.startswith("__")]
            if not topics:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics still listed after delete: {topics}")
            await admin.delete_topics(topics)
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


@pytest.fixture(params=DB_KINDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    server: LocalPostgres = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:16]}"
    server.create_database(name)
    return server.url(name)


def broker_settings(bootstrap: str) -> dict[str, object]:
    """Client settings tuned for a local broker: fast group joins and short timeouts."""
    return {
        "kafka_bootstrap_servers": bootstrap,
        "kafka_session_timeout_ms": 2000,
        "kafka_heartbeat_interval_ms": 200,
        "kafka_send_timeout_s": 5.0,
        "kafka_topic_partitions": 3,
        "outbox_poll_interval_s": 0.05,
        "consumer_retry_backoff_s": 0.01,
        "consumer_max_attempts": 3,
        # Apache Kafka supports the idempotent producer (tansu does not): use it there, as prod does.
        "kafka_enable_idempotence": bootstrap in KAFKA_BOOTSTRAPS,
        "env": "test",
    }
