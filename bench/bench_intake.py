"""Sales intake behind the 202: the delivery processor, the lag under load, a 50,000-row import.

- **processor:** N signed generic deliveries are stored through the webhook route of the service
  under uvicorn (API only), then a processor in this process applies the backlog; per second.
- **lag:** the service as ``make run`` runs it (workers, so the processor, in the API process,
  woken by each commit) is sent deliveries at 80 % of the ingest rate measured just before;
  p99 of stored -> applied (``processed_at - received_at``, the applying batch's start).
- **import:** ``POST /v1/sales/imports`` of R NDJSON rows, until the import is ``finished``.

The baseline of each, in the same run and on the same database: one raw ``executemany``
INSERT of as many sale rows in one transaction (the floor of writing that many sales), and for
the lag the p99 of the 202 itself at that rate. On SQLite and on a throwaway PostgreSQL.

    .venv/bin/python bench/bench_intake.py [--deliveries 3000] [--rows 50000] [--db sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_plumbing import seed_team, settings, uvicorn, wait_ready  # noqa: E402

from devtools.broker import free_port, start_broker  # noqa: E402
from devtools.postgres import start_postgres  # noqa: E402
from devtools.tokens import mint  # noqa: E402
from services.performance.adapters.orm import Sale, WebhookDelivery  # noqa: E402
from services.performance.bootstrap import build_runtime  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"bench-intake-secret-000000000001").decode()
REPS = 100
CLOSED_AT = datetime.now(UTC).replace(microsecond=0).isoformat()


def signed(org: uuid.UUID, n: int, prefix: str) -> list[tuple[bytes, dict[str, str]]]:
    """N signed generic sale deliveries of distinct deals, spread over the team's reps."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    out = []
    for i in range(n):
        body = json.dumps(
            {
                "type": "sale.closed",
                "external_id": f"{prefix}-{i}",
                "amount": "100.00",
                "currency": "EUR",
                "closed_at": CLOSED_AT,
                "owner": {"email": f"r{i % REPS}@example.com"},
            }
        ).encode()
        message_id, stamp = f"{prefix}_{i}", str(int(time.time()))
        mac = hmac.new(key, f"{message_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
        out.append(
            (
                body,
                {
                    "webhook-id": message_id,
                    "webhook-timestamp": stamp,
                    "webhook-signature": "v1," + base64.b64encode(mac).decode(),
                    "content-type": "application/json",
                },
            )
        )
    return out


async def post_all(client, org, deliveries, *, concurrency: int = 32) -> list[float]:
    """Send deliveries with bounded concurrency; the latency of each 202 in ms."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(body: bytes, headers: dict[str, str]) -> None:
        async with gate:
            started = time.perf_counter()
            response = await client.post(
                f"/v1/webhooks/{org}/generic", content=body, headers=headers
            )
            latencies.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 202, response.text

    await asyncio.gather(*(one(b, h) for b, h in deliveries))
    return latencies


async def paced(client, org, deliveries, rate: float) -> list[float]:
    """Send deliveries at a steady rate (each on its own task); 202 latencies in ms."""
    tasks, started = [], time.monotonic()
    for i, delivery in enumerate(deliveries):
        await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(post_all(client, org, [delivery], concurrency=1)))
    return [ms for done in await asyncio.gather(*tasks) for ms in done]


async def raw_insert_s(runtime, n: int) -> float:
    """The baseline: n sale rows in one executemany INSERT, one transaction (then removed)."""
    now = datetime.now(UTC)
    org = uuid.uuid4()
    rows = [
        {"id": uuid.uuid4(), "org_id": org, "source": "bench", "external_id": str(i),
         "amount_minor": 10_000, "currency": "EUR", "currency_assumed": False,
         "currency_mismatch": False, "closed_at": now, "status": "active", "unassigned": True,
         "version": 1, "created_at": now, "updated_at": now}
        for i in range(n)
    ]  # fmt: skip
    table = Sale.__table__
    started = time.perf_counter()
    async with runtime.engine.begin() as conn:
        await conn.execute(table.insert(), rows)
    elapsed = time.perf_counter() - started
    async with runtime.engine.begin() as conn:
        await conn.execute(table.delete().where(table.c.org_id == org))
    return elapsed


async def lags_ms(runtime, prefix: str) -> list[float]:
    """Stored -> applied of the deliveries whose webhook-id starts with the prefix."""
    table = WebhookDelivery.__table__
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(table.c.received_at, table.c.processed_at, table.c.headers).where(
                table.c.processed_at.is_not(None)
            )
        )
        return [
            (r.processed_at - r.received_at).total_seconds() * 1000
            for r in rows
            if str(r.headers.get("webhook-id", "")).startswith(prefix)
        ]


async def figures(db_url: str, deliveries: int, rows: int) -> dict[str, float]:
    """Every figure of one database: the API under uvicorn, the processor in this process."""
    org, _, _, _ = await seed_team(db_url, "127.0.0.1:1", REPS)
    # The processor is this process's; the API process only stores (as with a separate worker).
    runtime = build_runtime(settings(db_url, "127.0.0.1:1", run_workers=False, webhook_poll_s=0.05))
    admin = {
        "Authorization": f"Bearer {mint(org=str(org), sub=str(uuid.uuid4()), roles=['admin'])}"
    }
    env = os.environ | {
        "PERFORMANCE_DATABASE_URL": db_url, "PERFORMANCE_RUN_WORKERS": "false",
        "PERFORMANCE_RATE_LIMIT_ENABLED": "false", "ATTAIN_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    port = free_port()
    service = uvicorn(
        ["services.performance.main:create_app", "--factory", "--port", str(port)], env
    )
    out: dict[str, float] = {}
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            put = await client.put(
                "/v1/webhook-secrets/generic", json={"secret": SECRET}, headers=admin
            )
            put.raise_for_status()
            started = time.perf_counter()
            await post_all(client, org, signed(org, deliveries, "backlog"))
            out["ingest_rate"] = deliveries / (time.perf_counter() - started)
            started = time.perf_counter()
            assert await runtime.processor.drain() == deliveries
            out["processor_s"] = time.perf_counter() - started
            out["processor_base_s"] = await raw_insert_s(runtime, deliveries)
            if rows:
                out |= await import_figures(client, runtime, admin, rows)
    finally:
        service.terminate()
        service.wait()
        await runtime.engine.dispose()
    out |= await lag_figures(db_url, env, org, admin, 0.8 * out["ingest_rate"])
    return out


async def lag_figures(db_url, env, org, admin, rate: float) -> dict[str, float]:
    """The service as `make run` has it (workers in the API process), fed at a steady rate."""
    broker = start_broker()
    port = free_port()
    env = env | {
        "PERFORMANCE_RUN_WORKERS": "true",
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
    }
    service = uvicorn(
        ["services.performance.main:create_app", "--factory", "--port", str(port)], env
    )
    runtime = build_runtime(settings(db_url, broker.bootstrap_servers, run_workers=False))
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", timeout=120)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            answered = await paced(client, org, signed(org, int(rate * 10), "lag"), rate)
            lags: list[float] = []
            for _ in range(600):
                lags = await lags_ms(runtime, "lag")
                if len(lags) == len(answered):
                    break
                await asyncio.sleep(0.5)
        return {"lag_rate": rate, "lag_p99": p99(lags), "lag_base_p99": p99(answered)}
    finally:
        service.terminate()
        service.wait()
        broker.stop()
        await runtime.engine.dispose()


async def import_figures(client, runtime, admin, rows: int) -> dict[str, float]:
    """Seconds until a rows-long import is stored (202) and finished, and the baseline."""
    body = b"".join(
        json.dumps(
            {"external_id": f"IMP-{i}", "amount": "100.00", "currency": "EUR",
             "closed_at": CLOSED_AT, "owner": {"email": f"r{i % REPS}@example.com"}}
        ).encode() + b"\n"
        for i in range(rows)
    )  # fmt: skip
    started = time.perf_counter()
    accepted = await client.post(
        "/v1/sales/imports", content=body, headers={**admin, "content-type": "application/x-ndjson"}
    )
    assert accepted.status_code == 202, accepted.text
    stored = time.perf_counter() - started
    while await runtime.processor.drain():
        pass
    finished = time.perf_counter() - started
    view = await client.get(f"/v1/sales/imports/{accepted.json()['import_id']}", headers=admin)
    assert view.json()["state"] == "finished" and view.json()["applied"] == rows, view.text
    return {
        "import_stored_s": stored,
        "import_s": finished,
        "import_base_s": await raw_insert_s(runtime, rows),
    }


def p99(values: list[float]) -> float:
    """The 99th percentile."""
    return statistics.quantiles(values, n=100)[98]


def main() -> None:
    """Measure on each database and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    options = parser.parse_args()
    postgres = None
    results = []
    try:
        for db in options.db or ["sqlite", "postgres"]:
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{tmp}/intake.db"
                if db == "postgres":
                    postgres = postgres or start_postgres()
                    name = f"bench_{uuid.uuid4().hex[:8]}"
                    postgres.create_database(name)
                    url = postgres.url(name)
                results.append((db, asyncio.run(figures(url, options.deliveries, options.rows))))
    finally:
        if postgres is not None:
            postgres.stop()
    print(f"\n{'figure':<50} {'db':<9} {'value':>10} {'baseline':>10} {'ratio':>8}  goal")
    for db, f in results:
        n = options.deliveries
        rate, base = n / f["processor_s"], n / f["processor_base_s"]
        print(f"{f'processor: {n} deliveries applied/s':<50} {db:<9} {rate:>10,.0f} "
              f"{base:>10,.0f} {rate / base:>7.3f}x  raw INSERT of as many sales")  # fmt: skip
        lag = f"lag stored -> applied p99 ms at {f['lag_rate']:,.0f}/s"
        print(f"{lag:<50} {db:<9} "
              f"{f['lag_p99']:>10,.0f} {f['lag_base_p99']:>10,.0f} "
              f"{f['lag_p99'] / f['lag_base_p99']:>7.1f}x  vs the 202's own p99")  # fmt: skip
        if options.rows:
            print(f"{f'import of {options.rows:,} rows: s until finished':<50} {db:<9} "
                  f"{f['import_s']:>10.1f} {f['import_base_s']:>10.1f} "
                  f"{f['import_s'] / f['import_base_s']:>7.1f}x  well under 60 s "
                  f"(stored, 202 after {f['import_stored_s']:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
