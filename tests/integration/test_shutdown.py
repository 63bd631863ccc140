"""A real uvicorn process with a backlog: it keeps answering, and SIGTERM ends it in 5 s."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from devtools.broker import free_port
from tests.conftest import broker_settings
from tests.integration.probe import effects, eventually, probe_runtime, thing
from tests.integration.test_consumer import TOPIC, _prepare, _record

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
BACKLOG = 1500


async def _produce_fast(bootstrap: str, n: int) -> None:
    """Pipeline the sends and wait for every ack once."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = []
        for _ in range(n):
            key, value, headers = _record(thing())
            futures.append(await producer.send(TOPIC, value=value, key=key, headers=headers))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _start(db_url: str, bootstrap: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "PROBE_DATABASE_URL": db_url}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.integration.probe_app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--timeout-graceful-shutdown", "1"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip


async def test_sigterm_mid_backlog_exits_within_five_seconds_and_loses_nothing(
    db_url, fresh_broker, tmp_path
):
    bootstrap = fresh_broker.bootstrap_servers
    setup = await _prepare(db_url, bootstrap)
    await _produce_fast(bootstrap, BACKLOG)
    port, log = free_port(), tmp_path / "probe.log"
    process = _start(db_url, bootstrap, port, log)
    try:
        await eventually(lambda: _applied(setup, 50), timeout=60)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            # Reads use their own connections: the backlog holding the writer is no outage.
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["database"] == "ok"
            assert (await client.get("/healthz")).status_code == 200
        process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(process.wait, 5)
        except subprocess.TimeoutExpired:
            pytest.fail("still running 5 s after SIGTERM:\n" + log.read_text()[-3000:])
        # uvicorn re-raises the signal once its shutdown completed, so -SIGTERM is a clean end.
        assert code in (0, -signal.SIGTERM), log.read_text()[-3000:]
        assert "Application shutdown complete" in log.read_text()
        interrupted = len(await effects(setup))
        assert interrupted < BACKLOG, "the backlog was gone before SIGTERM: nothing was tested"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        await setup.engine.dispose()

    # What the first process committed stays; what it did not comes again, and applies once.
    after = probe_runtime(db_url=db_url, broker=broker_settings(bootstrap))
    await after.start_workers()
    try:
        await eventually(lambda: _applied(after, BACKLOG), timeout=120)
        applied = await effects(after)
        assert len(applied) == len(set(applied)) == BACKLOG
    finally:
        await after.stop()


async def _applied(runtime, n: int) -> bool:
    return len(await effects(runtime)) >= n
