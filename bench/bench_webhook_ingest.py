"""Webhook ingest throughput: the performance service vs a bare FastAPI endpoint, same run.

Starts both under uvicorn on free ports (the service on a fresh SQLite file, workers off so no
broker is needed), sends N signed generic webhooks with distinct external ids over 32
concurrent connections to each, and prints requests/s, p50 and p99 for both and their ratio.

    .venv/bin/python bench/bench_webhook_ingest.py [--requests 2000] [--connections 32]

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.devtoken import mint  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"bench-secret-0123456789").decode()
BARE_APP = """
from fastapi import FastAPI, Request
app = FastAPI()

@app.post("/v1/webhooks/{org_id}/generic", status_code=202)
async def receive(org_id: str, request: Request) -> dict:
    await request.body()
    return {"accepted": True}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args, "--log-level", "warning", "--no-access-log"],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                await client.get(url)
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def signed(org: uuid.UUID, n: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "type": "sale.closed",
            "external_id": f"BENCH-{uuid.uuid4()}",
            "owner": {"email": "bench.rep@example.com"},
            "amount": f"{100 + n % 900}.00",
            "currency": "EUR",
            "closed_at": "2026-11-02T10:00:00Z",
        }
    ).encode()
    message_id, timestamp = f"msg_{uuid.uuid4().hex}", str(int(time.time()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return body, {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        "content-type": "application/json",
    }


async def drive(base: str, org: uuid.UUID, requests: int, connections: int) -> dict[str, float]:
    payloads = [signed(org, n) for n in range(requests)]
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue = asyncio.Queue()
    for item in payloads:
        queue.put_nowait(item)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                body, headers = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post(
                    f"/v1/webhooks/{org}/generic", content=body, headers=headers
                )
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 202

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": requests / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "errors": errors,
    }


async def prepare_service(db_url: str) -> None:
    # Tables straight from the models, without the app factory (it would configure logging
    # in this driver process and slow the client down).
    from services.performance.adapters.orm import metadata
    from shared.db import create_engine

    engine = create_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32)
    options = parser.parse_args()
    org = uuid.uuid4()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await prepare_service(db_url)
        await asyncio.to_thread(Path(tmp, "bare_app.py").write_text, BARE_APP)
        env = os.environ | {
            "PERFORMANCE_DATABASE_URL": db_url,
            "PERFORMANCE_RUN_WORKERS": "false",
            "ATTAIN_LOG_LEVEL": "WARNING",
            "PYTHONPATH": f"{ROOT}:{tmp}",
        }
        service_port, bare_port = free_port(), free_port()
        service = start(
            ["services.performance.main:create_app", "--factory", "--port", str(service_port)],
            env,
            ROOT,
        )
        bare = start(["bare_app:app", "--port", str(bare_port)], env, Path(tmp))
        try:
            service_url, bare_url = (
                f"http://127.0.0.1:{service_port}",
                f"http://127.0.0.1:{bare_port}",
            )
            await wait_ready(service_url + "/healthz")
            await wait_ready(bare_url + "/docs")
            admin = {"Authorization": f"Bearer {mint(org=str(org), sub='bench', roles=['admin'])}"}
            async with httpx.AsyncClient() as client:
                response = await client.put(
                    f"{service_url}/v1/webhook-secrets/generic",
                    json={"secret": SECRET},
                    headers=admin,
                )
                response.raise_for_status()
            warmup = max(50, options.requests // 20)
            await drive(bare_url, org, warmup, options.connections)
            await drive(service_url, org, warmup, options.connections)
            bare_result = await drive(bare_url, org, options.requests, options.connections)
            service_result = await drive(service_url, org, options.requests, options.connections)
        finally:
            for process in (service, bare):
                process.terminate()
                process.wait(timeout=10)
    print(f"{options.requests} signed generic webhooks, {options.connections} connections")
    for name, result in (("bare FastAPI", bare_result), ("performance", service_result)):
        print(
            f"{name:>13}: {result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.1f} ms"
            f"  p99 {result['p99_ms']:7.1f} ms  non-202: {int(result['errors'])}"
        )
    print(f"ratio (performance / bare): {service_result['rps'] / bare_result['rps']:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
