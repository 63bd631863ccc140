"""Session infrastructure for the suite: a real tansu broker and a real PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from shared.devbroker import LocalBroker, start_broker
from shared.devpostgres import LocalPostgres, start_postgres
from shared.devtoken import mint

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Wall-clock deadlines make property tests flaky on a busy 2-core CI machine; the example
# counts, not the timings, are what the properties promise.
settings.register_profile("attain", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("attain")
DB_KINDS = ("sqlite", "postgresql")


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


@pytest.fixture
def fresh_broker() -> Iterator[LocalBroker]:
    """A broker of the test's own: topics and offsets start empty (tansu starts in ~0.1 s)."""
    broker = start_broker()
    yield broker
    broker.stop()


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
        "env": "test",
    }


def token(
    *, org: uuid.UUID | str, sub: uuid.UUID | str | None = None, roles=("admin",), teams=()
) -> str:
    """A development bearer token."""
    return mint(
        org=str(org),
        sub=str(sub or uuid.uuid4()),
        roles=list(roles),
        teams=[str(t) for t in teams],
    )


def auth(**kwargs: object) -> dict[str, str]:
    """Authorization header for a development token."""
    return {"Authorization": f"Bearer {token(**kwargs)}"}  # type: ignore[arg-type]
