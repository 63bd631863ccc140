"""Webhook ingest: the performance service against a bare FastAPI endpoint, in the same run.

Both run under uvicorn on free loopback ports. The service runs on a fresh SQLite file (or a
throwaway PostgreSQL with --db postgres) with a seeded team, member, period and target, so
every delivery takes the real path: the request verifies and stores it (group commit), then
the service's delivery processor applies the stored backlog in batches (attribute the sale,
update attainment, mark the evaluation due, write the outbox), timed on its own. Workers are
off, so no broker is needed; the relay runs in the worker process in production anyway. Load comes from wrk (C, one thread, 32
connections) replaying distinct pre-signed Standard Webhooks deliveries, so the load generator
is not the bottleneck.

    apt-get install wrk
    .venv/bin/python bench/bench_webhook_ingest.py [--seconds 10] [--connections 32]
    .venv/bin/python bench/bench_webhook_ingest.py --db postgres --workers 2

Prints requests/s and latency percentiles for both, and their ratio. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.broker import free_port  # noqa: E402
from devtools.postgres import start_postgres  # noqa: E402
from devtools.tokens import mint  # noqa: E402
from services.performance.bootstrap import build_runtime  # noqa: E402
from services.performance.config import Settings  # noqa: E402
from services.performance.handlers import events as reactions  # noqa: E402
from shared.events import goals, wrap  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"bench-secret-0123456789").decode()
REP_EMAIL = "bench.rep@example.com"
BARE_APP = """
from fastapi import FastAPI, Request
app = FastAPI()

@app.post("/v1/webhooks/{org_id}/generic", status_code=202)
async def receive(org_id: str, request: Request) -> dict:
    await request.body()
    return {"accepted": True}
"""
LUA = """
local requests = {}
%s
local i = 0
request = function()
  i = i + 1
  local r = requests[(i - 1) %% #requests + 1]
  return wrk.format("POST", "%s", r.headers, r.body)
end
"""


async def seed(db_url: str, org: uuid.UUID) -> None:
    """A team with one member, an open period and a target, through the service's reactions."""
    runtime = build_runtime(Settings(database_url=db_url, run_workers=False, env="test"))
    await runtime.create_schema()
    team, member, period, target = (uuid.uuid4() for _ in range(4))
    today = datetime.now(UTC).date()
    starts_on, ends_on = today - timedelta(days=30), today + timedelta(days=60)
    start_at = datetime.combine(starts_on, datetime.min.time(), UTC)
    end_at = datetime.combine(ends_on + timedelta(days=1), datetime.min.time(), UTC)
    facts = [
        (reactions.on_team_created, goals.TeamCreated(org_id=org, team_id=team, name="Bench", currency="EUR", manager_id=uuid.uuid4())),
        (reactions.on_member_joined, goals.MemberJoined(org_id=org, team_id=team, member_id=member, name="Rep", email=REP_EMAIL, capacity=Decimal(1), ramp=Decimal(1), crm_ids=goals.CrmIds(), version=1)),
        (reactions.on_period_defined, goals.PeriodDefined(org_id=org, period_id=period, name="Bench", starts_on=starts_on, ends_on=ends_on, timezone="UTC", starts_at=start_at, ends_at=end_at)),
        (reactions.on_target_assigned, goals.TargetAssigned(org_id=org, team_id=team, target_id=target, member_id=member, period_id=period, amount=Decimal("1000000.00"), currency="EUR", version=1, period_starts_at=start_at, period_ends_at=end_at, period_timezone="UTC")),
    ]  # fmt: skip
    for react, fact in facts:
        async with runtime.uow() as uow:
            await react(fact, wrap(fact), uow)
            await uow.commit()
    await runtime.stop()


async def drain(db_url: str) -> tuple[int, float]:
    """Apply every stored delivery with the service's own processor; (count, seconds)."""
    runtime = build_runtime(Settings(database_url=db_url, run_workers=False, env="test"))
    started = time.monotonic()
    applied = await runtime.processor.drain()
    elapsed = time.monotonic() - started
    await runtime.stop()
    return applied, elapsed


def signed_deliveries(count: int) -> list[tuple[bytes, dict[str, str]]]:
    """Distinct signed deliveries, timestamped now (the verifier allows five minutes)."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    timestamp = str(int(time.time()))
    closed = (date.today() - timedelta(days=1)).isoformat() + "T10:00:00Z"
    out = []
    for n in range(count):
        body = json.dumps({
            "type": "sale.closed", "external_id": f"BENCH-{n}-{uuid.uuid4().hex[:8]}",
            "owner": {"email": REP_EMAIL}, "amount": f"{100 + n % 900}.00", "currency": "EUR",
            "closed_at": closed,
        }).encode()  # fmt: skip
        message_id = f"msg_{uuid.uuid4().hex}"
        digest = hmac.new(
            key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256
        ).digest()
        out.append((body, {
            "Content-Type": "application/json", "webhook-id": message_id,
            "webhook-timestamp": timestamp, "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        }))  # fmt: skip
    return out


def lua_script(path: str, deliveries: list[tuple[bytes, dict[str, str]]]) -> str:
    """A wrk script cycling through the deliveries."""
    rows = []
    for body, headers in deliveries:
        lua_headers = ", ".join(f'["{k}"] = {json.dumps(v)}' for k, v in headers.items())
        rows.append(
            f"requests[#requests + 1] = {{ body = {json.dumps(body.decode())}, headers = {{ {lua_headers} }} }}"
        )
    return LUA % ("\n".join(rows), path)


def run_wrk(url: str, script: Path, *, seconds: int, connections: int) -> dict[str, float]:
    """Run wrk and parse requests/s, p50 and p99 (ms) and non-2xx responses."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def latency(label: str) -> float:
        value, unit = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": latency("50%"),
        "p99_ms": latency("99%"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def start(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    """A uvicorn process, quiet."""
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args, "--log-level", "warning", "--no-access-log"],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def wait_ready(url: str, timeout: float = 30) -> None:
    """Poll until the URL answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def main() -> None:
    """Benchmark both servers and print the comparison."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of the service")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    org = uuid.uuid4()
    path = f"/v1/webhooks/{org}/generic"
    postgres = start_postgres() if options.db == "postgres" else None
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        if postgres is not None:
            postgres.create_database("bench")
            db_url = postgres.url("bench")
        asyncio.run(seed(db_url, org))
        Path(tmp, "bare_app.py").write_text(BARE_APP)
        env = os.environ | {
            "PERFORMANCE_DATABASE_URL": db_url, "PERFORMANCE_RUN_WORKERS": "false",
            "ATTAIN_LOG_LEVEL": "WARNING", "PYTHONPATH": f"{ROOT}:{tmp}",
            # One address at full speed is what the limiter exists to stop; measure intake itself.
            "PERFORMANCE_RATE_LIMIT_ENABLED": "false",
        }  # fmt: skip
        service_port, bare_port = free_port(), free_port()
        service = start(
            [
                "services.performance.main:create_app",
                "--factory",
                "--port",
                str(service_port),
                "--workers",
                str(options.workers),
            ],
            env,
            ROOT,
        )
        bare = start(["bare_app:app", "--port", str(bare_port)], env, Path(tmp))
        results = {}
        try:
            service_url, bare_url = (
                f"http://127.0.0.1:{service_port}",
                f"http://127.0.0.1:{bare_port}",
            )
            wait_ready(service_url + "/healthz")
            wait_ready(bare_url + "/docs")
            admin = {"Authorization": f"Bearer {mint(org=str(org), sub='bench', roles=['admin'])}"}
            httpx.put(
                f"{service_url}/v1/webhook-secrets/generic", json={"secret": SECRET}, headers=admin
            ).raise_for_status()
            # Enough distinct deliveries that none repeats within the run (a repeat is a cheap duplicate).
            script = Path(tmp, "deliveries.lua")
            script.write_text(
                lua_script(path, signed_deliveries(max(2000, options.seconds * 1500)))
            )
            for name, url in (("bare FastAPI", bare_url), ("performance", service_url)):
                run_wrk(url, script, seconds=2, connections=options.connections)  # warm-up
                script.write_text(
                    lua_script(path, signed_deliveries(max(2000, options.seconds * 1500)))
                )
                results[name] = run_wrk(
                    url, script, seconds=options.seconds, connections=options.connections
                )
            # Intake only stores; the delivery processor (a worker in production) applies them.
            processed, processing_s = asyncio.run(drain(db_url))
            with httpx.Client(base_url=service_url, headers=admin) as client:
                sales = client.get("/v1/sales", params={"limit": 1}).raise_for_status().json()
        finally:
            for process in (service, bare):
                process.terminate()
                process.wait(timeout=10)
            if postgres is not None:
                postgres.stop()
    print(
        f"signed generic webhooks, wrk -t1 -c{options.connections} for {options.seconds}s; "
        f"service on {options.db} with {options.workers} uvicorn worker(s), bare app 1 worker"
    )
    for name, r in results.items():
        print(
            f"{name:>13}: {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  non-2xx {r['errors']}"
        )
    ratio = results["performance"]["rps"] / results["bare FastAPI"]["rps"]
    print(f"throughput ratio performance / bare: {ratio:.3f}")
    print(
        f"p99 ratio performance / bare: {results['performance']['p99_ms'] / results['bare FastAPI']['p99_ms']:.2f}"
    )
    print(
        f"delivery processor: {processed} stored deliveries applied in {processing_s:.1f}s = "
        f"{processed / max(processing_s, 1e-9):.0f} deliveries/s (one process, batches)"
    )
    assert sales["items"] and sales["items"][0]["credits"], "bench sales should be attributed"


if __name__ == "__main__":
    main()
