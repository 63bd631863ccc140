"""The probe runtime as a real HTTP app (uvicorn --factory), for tests that signal a process."""

from __future__ import annotations

import asyncio
import os

from fastapi import FastAPI

from shared.app import create_service_app
from tests.integration.probe import probe_runtime, record_effect


async def _slow_effect(event, envelope, uow) -> None:
    """A reaction that takes a few milliseconds, so a backlog lasts long enough to interrupt."""
    await asyncio.sleep(float(os.environ.get("PROBE_HANDLER_DELAY_S", "0.02")))
    await record_effect(event, envelope, uow)


def create_app() -> FastAPI:
    """The probe service: its consumer, relay and the operations routes."""
    broker = {
        "kafka_bootstrap_servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "kafka_session_timeout_ms": 2000,
        "kafka_heartbeat_interval_ms": 200,
        "kafka_topic_partitions": 3,
        "env": "test",
    }
    runtime = probe_runtime(
        db_url=os.environ["PROBE_DATABASE_URL"], broker=broker, handler=_slow_effect
    )
    return create_service_app(runtime=runtime, title="probe", description="probe", routers=[])
