"""Over the real broker: goals' facts consumed, a team's shortfalls published once per episode."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager

from shared.events import to_kafka, wrap
from shared.events.performance import TeamShortfallsDetected
from tests.integration.performance.conftest import Q4_END, Q4_START, PerfApp, Seeded, open_app
from tests.integration.probe import eventually, read_topic

pytestmark = pytest.mark.integration
MID_Q4 = Q4_START + (Q4_END - Q4_START) / 2


async def test_a_teams_shortfalls_are_published_once_per_episode_with_the_standings(
    tmp_path: Path, fresh_broker
):
    bootstrap = fresh_broker.bootstrap_servers
    app = await open_app(f"sqlite+aiosqlite:///{tmp_path / 'perf.db'}", bootstrap, run_workers=True)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        LifespanManager(app, shutdown_timeout=30),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        perf = PerfApp(app=app, client=client, seeded=Seeded())
        # Goals' facts arrive over the broker, consumed by the service's own consumer.
        collected: list = []
        perf.react = _collect(collected)
        s = await perf.seed(targets={"ana": "100000.00", "ben": "50000.00"})
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for event in collected:
                message = to_kafka(wrap(event))
                await producer.send_and_wait(
                    event.topic(),
                    value=message.value,
                    key=event.partition_key().encode(),
                    headers=list(message.headers.items()),
                )
        finally:
            await producer.stop()
        url = f"/v1/teams/{s.team_id}/periods/{s.period_id}/attainment"

        async def targets_arrived() -> bool:
            response = await client.get(url, headers=perf.as_admin())
            return response.status_code == 200 and len(response.json()["items"]) == 2

        await eventually(targets_arrived, timeout=20)
        evaluation = f"/v1/teams/{s.team_id}/periods/{s.period_id}/evaluation"
        for _ in range(3):  # repeated evaluations within one episode announce nothing new
            response = await client.post(
                evaluation, json={"as_of": MID_Q4.isoformat()}, headers=perf.as_admin()
            )
            assert response.status_code == 200, response.text
        records = await read_topic(bootstrap, TeamShortfallsDetected.topic(), expect=10, timeout=6)
    [event] = [
        json.loads(r.value)
        for r in records
        if dict(r.headers).get("ce_type") == TeamShortfallsDetected.TYPE.encode()
    ]
    assert sorted(x["member_id"] for x in event["shortfalls"]) == sorted([str(s.ana), str(s.ben)])
    standings = {m["member_id"]: m for m in event["standings"]}
    assert standings[str(s.ana)]["target"] == "100000.00"
    assert standings[str(s.ben)]["target"] == "50000.00"
    assert {m["status"] for m in standings.values()} == {"struggling"}
    assert {m["target_version"] for m in standings.values()} == {1}
    assert all(r.key == str(s.team_id).encode() for r in records)


def _collect(into: list):
    async def react(*events) -> None:
        into.extend(events)

    return react
