"""Prepare shared infrastructure: create every topic, then migrate every service's database.

Used by `make run` and by the one-shot `init` container in docker-compose:
    python -m scripts.infra
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from shared.config import ServiceSettings
from shared.events import SERVICES, TOPICS, dlq_topic
from shared.kafka import ensure_topics

ROOT = Path(__file__).resolve().parent.parent


def create_topics(bootstrap: str, env: Mapping[str, str] | None = None) -> None:
    """Create every service topic and its dead-letter topic ('already exists' is fine)."""
    # Partitions and replication come from env when given (a stack's own), else os.environ.
    given = {
        field: int(env[name])
        for field, name in (
            ("kafka_topic_partitions", "KAFKA_TOPIC_PARTITIONS"),
            ("kafka_replication_factor", "KAFKA_REPLICATION_FACTOR"),
        )
        if env and env.get(name)
    }
    settings = ServiceSettings(kafka_bootstrap_servers=bootstrap, **given)
    asyncio.run(ensure_topics(settings, [*TOPICS, *(dlq_topic(t) for t in TOPICS)]))


def migrate_all(env: Mapping[str, str]) -> None:
    """Run each service's alembic migrations to head, with its own database URL from env."""
    for service in SERVICES:
        subprocess.run(
            [sys.executable, "-m", "shared.migrate", service, "upgrade"],
            env=dict(env),
            cwd=ROOT,
            check=True,
        )


def main() -> int:
    """Entry point of the compose init container."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    create_topics(bootstrap)
    migrate_all(os.environ)
    print("topics created and databases migrated", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
