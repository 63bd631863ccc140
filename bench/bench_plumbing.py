"""Consumer throughput and attainment-page latency, each against a baseline of the same run.

- **consumer:** performance's real consumer runner and reactions apply N `member_joined` facts
  from a real tansu broker; the baseline is a raw aiokafka `getmany` loop reading the same topic
  from the same broker (the ceiling: it decodes nothing and writes nothing).
- **attainment page:** `GET /v1/teams/{team}/periods/{period}/attainment?limit=200` of a
  1,000-rep team, paging through the team, from the service under uvicorn; the baseline is a
  bare FastAPI endpoint under the same uvicorn settings returning a body of the same size.

Both run on SQLite and on a throwaway PostgreSQL. Not part of the test suite.

    .venv/bin/python bench/bench_plumbing.py [--events 5000] [--requests 300] [--db sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.broker import free_port, start_broker  # noqa: E402
from devtools.postgres import start_postgres  # noqa: E402
from devtools.tokens import mint  # noqa: E402
from services.performance.bootstrap import build_runtime  # noqa: E402
from services.performance.config import Settings  # noqa: E402
from services.performance.handlers import events as reactions  # noqa: E402
from services.performance.handlers.evaluation import evaluate_team_period  # noqa: E402
from shared.events import goals, to_kafka, wrap  # noqa: E402
from shared.kafka import ensure_topics  # noqa: E402

TOPIC = goals.MemberJoined.topic()
BARE_APP = """
import json, os
from fastapi import FastAPI, Response
app = FastAPI()
BODY = open(os.environ["BENCH_BODY"], "rb").read()

@app.get("/v1/teams/{team_id}/periods/{period_id}/attainment")
async def page(team_id: str, period_id: str) -> Response:
    return Response(BODY, media_type="application/json")
"""


def settings(db_url: str, bootstrap: str, **extra: object) -> Settings:
    """Performance settings for a local broker (fast group joins), workers off by default."""
    return Settings(
        database_url=db_url,
        kafka_bootstrap_servers=bootstrap,
        kafka_session_timeout_ms=2000,
        kafka_heartbeat_interval_ms=200,
        kafka_topic_partitions=6,
        env="test",
        **extra,
    )


# -- consumer --------------------------------------------------------------------------------


async def produce_members(bootstrap: str, n: int, org: uuid.UUID) -> None:
    """N member_joined facts over 50 teams (keys spread them over the partitions)."""
    teams = [uuid.uuid4() for _ in range(50)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = []
        for i in range(n):
            fact = goals.MemberJoined(
                org_id=org, team_id=teams[i % 50], member_id=uuid.uuid4(), name=f"Rep {i}",
                email=f"rep{i}@example.com", capacity=Decimal(1), ramp=Decimal(1),
                crm_ids=goals.CrmIds(), version=1,
            )  # fmt: skip
            message = to_kafka(wrap(fact))
            futures.append(
                await producer.send(
                    TOPIC,
                    value=message.value,
                    key=fact.partition_key().encode(),
                    headers=list(message.headers.items()),
                )
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def raw_loop(bootstrap: str, n: int) -> float:
    """Records/s of a bare getmany loop over the topic (timed from the first record)."""
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=2000,
        heartbeat_interval_ms=200,
    )
    await consumer.start()
    seen, first = 0, None
    try:
        while seen < n:
            batches = await consumer.getmany(timeout_ms=100, max_records=500)
            for records in batches.values():
                if records and first is None:
                    first = time.perf_counter()
                seen += len(records)
            if batches:
                await consumer.commit()  # the runner commits per batch too
    finally:
        await consumer.stop()
    assert first is not None
    return n / (time.perf_counter() - first)


async def runner(db_url: str, bootstrap: str, n: int) -> float:
    """Events/s applied by performance's consumer runner (timed from the first applied)."""
    runtime = build_runtime(settings(db_url, bootstrap, consumer_group=f"bench-{uuid.uuid4()}"))
    await runtime.create_schema()
    assert runtime.consumer is not None
    counter = runtime.metrics.events_consumed.labels(
        consumer="performance", type=goals.MemberJoined.TYPE
    )
    task = asyncio.create_task(runtime.consumer.run())
    first = None
    try:
        while counter._value.get() < n:
            if first is None and counter._value.get() > 0:
                first = time.perf_counter()
            await asyncio.sleep(0.005)
        assert first is not None
        return n / (time.perf_counter() - first)
    finally:
        await runtime.consumer.stop()
        await asyncio.wait_for(task, 10)
        await runtime.engine.dispose()
        if runtime.read_engine is not runtime.engine:
            await runtime.read_engine.dispose()


async def consumer_figures(db_url: str, bootstrap: str, n: int) -> dict[str, float]:
    """Raw loop and runner on the same topic, the same broker, the same run."""
    await ensure_topics(settings(db_url, bootstrap), [TOPIC])
    await produce_members(bootstrap, n, uuid.uuid4())
    raw = await raw_loop(bootstrap, n)
    applied = await runner(db_url, bootstrap, n)
    return {"raw": raw, "runner": applied}


# -- attainment page -------------------------------------------------------------------------


async def seed_team(db_url: str, bootstrap: str, reps: int) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID]:  # fmt: skip
    """A team of `reps` with targets and attainment rows, through the service's reactions."""
    runtime = build_runtime(settings(db_url, bootstrap, run_workers=False))
    await runtime.create_schema()
    org, team, manager, period = (uuid.uuid4() for _ in range(4))
    today = datetime.now(UTC).date()
    starts_on, ends_on = today - timedelta(days=30), today + timedelta(days=60)
    start_at = datetime.combine(starts_on, datetime.min.time(), UTC)
    end_at = datetime.combine(ends_on + timedelta(days=1), datetime.min.time(), UTC)
    facts: list[tuple] = [
        (reactions.on_team_created, goals.TeamCreated(org_id=org, team_id=team, name="Big", currency="EUR", manager_id=manager)),
        (reactions.on_period_defined, goals.PeriodDefined(org_id=org, period_id=period, name="Bench", starts_on=starts_on, ends_on=ends_on, timezone="UTC", starts_at=start_at, ends_at=end_at)),
    ]  # fmt: skip
    for i in range(reps):
        member = uuid.uuid4()
        facts.append((reactions.on_member_joined, goals.MemberJoined(org_id=org, team_id=team, member_id=member, name=f"Rep {i}", email=f"r{i}@example.com", capacity=Decimal(1), ramp=Decimal(1), crm_ids=goals.CrmIds(), version=1)))  # fmt: skip
        facts.append((reactions.on_target_assigned, goals.TargetAssigned(org_id=org, team_id=team, target_id=uuid.uuid4(), member_id=member, period_id=period, amount=Decimal(100000 + i), currency="EUR", version=1, period_starts_at=start_at, period_ends_at=end_at, period_timezone="UTC")))  # fmt: skip
    async with runtime.uow() as uow:
        for react, fact in facts:
            await react(fact, wrap(fact), uow)
        await uow.commit()
    async with runtime.uow() as uow:  # attainment rows and statuses, as in production
        await evaluate_team_period(
            uow, org_id=org, team_id=team, period_id=period, as_of=datetime.now(UTC)
        )
        await uow.commit()
    await runtime.stop()
    return org, team, manager, period


def latencies(url: str, token: str, requests: int) -> list[float]:
    """Sequential GETs paging through the team (every page is 200 reps), in milliseconds."""
    out: list[float] = []
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        cursor = None
        for _ in range(requests):
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            started = time.perf_counter()
            response = client.get(url, params=params)
            out.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            cursor = response.json().get("next_cursor")
    return out


def p99(values: list[float]) -> float:
    """The 99th percentile."""
    return statistics.quantiles(values, n=100)[98]


def uvicorn(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """A quiet uvicorn process with the services' settings."""
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args, "--log-level", "warning", "--no-access-log"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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


def attainment_figures(db_url: str, bootstrap: str, requests: int, tmp: str) -> dict[str, float]:
    """p99 of a page of 200 in a 1,000-rep team, and of the bare endpoint's same-size body."""
    org, team, manager, period = asyncio.run(seed_team(db_url, bootstrap, 1000))
    path = f"/v1/teams/{team}/periods/{period}/attainment"
    token = mint(org=str(org), sub=str(manager), roles=["manager"], teams=[str(team)])
    env = os.environ | {
        "PERFORMANCE_DATABASE_URL": db_url, "PERFORMANCE_RUN_WORKERS": "false",
        "ATTAIN_LOG_LEVEL": "WARNING", "PYTHONPATH": f"{ROOT}:{tmp}",
        "BENCH_BODY": f"{tmp}/body.json",
    }  # fmt: skip
    service_port, bare_port = free_port(), free_port()
    service = uvicorn(
        ["services.performance.main:create_app", "--factory", "--port", str(service_port)], env
    )
    try:
        wait_ready(f"http://127.0.0.1:{service_port}/healthz")
        url = f"http://127.0.0.1:{service_port}{path}"
        body = httpx.get(url, params={"limit": 200}, headers={"Authorization": f"Bearer {token}"})
        body.raise_for_status()
        assert len(body.json()["items"]) == 200
        Path(tmp, "body.json").write_bytes(body.content)
        latencies(url, token, 20)  # warm-up
        service_ms = latencies(url, token, requests)
    finally:
        service.terminate()
        service.wait()
    Path(tmp, "bare_app.py").write_text(BARE_APP)
    bare = uvicorn(["bare_app:app", "--port", str(bare_port)], env)
    try:
        wait_ready(f"http://127.0.0.1:{bare_port}/docs")
        url = f"http://127.0.0.1:{bare_port}{path}"
        latencies(url, token, 20)
        bare_ms = latencies(url, token, requests)
    finally:
        bare.terminate()
        bare.wait()
    return {
        "service_p99": p99(service_ms),
        "bare_p99": p99(bare_ms),
        "service_p50": statistics.median(service_ms),
        "bare_p50": statistics.median(bare_ms),
    }


def main() -> None:
    """Measure both figures on each database and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    options = parser.parse_args()
    broker = start_broker()
    postgres = None
    rows = []
    try:
        for db in options.db or ["sqlite", "postgres"]:
            with tempfile.TemporaryDirectory() as tmp:
                urls = [f"sqlite+aiosqlite:///{tmp}/c.db", f"sqlite+aiosqlite:///{tmp}/a.db"]
                if db == "postgres":
                    postgres = postgres or start_postgres()
                    names = [f"bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
                    for name in names:
                        postgres.create_database(name)
                    urls = [postgres.url(name) for name in names]
                bootstrap = broker.bootstrap_servers
                c = asyncio.run(consumer_figures(urls[0], bootstrap, options.events))
                a = attainment_figures(urls[1], bootstrap, options.requests, tmp)
                rows.append((db, c, a))
    finally:
        broker.stop()
        if postgres is not None:
            postgres.stop()
    print_table(rows, options.events)


def print_table(rows: list, events: int) -> None:
    """One line per figure and database: the value, its baseline, their ratio, the goal."""
    print(f"\n{'figure':<44} {'db':<9} {'value':>12} {'baseline':>12} {'ratio':>8}  goal")
    for db, c, a in rows:
        print(
            f"{f'consumer: {events} events applied/s':<44} {db:<9} {c['runner']:>12,.0f} "
            f"{c['raw']:>12,.0f} {c['runner'] / c['raw']:>7.3f}x  >= 2,000/s and >= 0.25x raw"
        )
        print(
            f"{'attainment page of 200 of 1,000 reps: p99 ms':<44} {db:<9} "
            f"{a['service_p99']:>12.1f} {a['bare_p99']:>12.1f} "
            f"{a['service_p99'] / a['bare_p99']:>7.1f}x  p99 <= 50 ms"
        )
        print(
            f"{'attainment page of 200 of 1,000 reps: p50 ms':<44} {db:<9} "
            f"{a['service_p50']:>12.1f} {a['bare_p50']:>12.1f} "
            f"{a['service_p50'] / a['bare_p50']:>7.1f}x  (context for the p99)"
        )


if __name__ == "__main__":
    main()
