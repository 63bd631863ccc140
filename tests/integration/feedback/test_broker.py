"""End to end over a real broker: check-ins from shortfalls, decisions published once."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from sqlmodel import select

from services.feedback.adapters.orm import FeedbackNote
from services.feedback.main import create_app
from shared.events import feedback as events
from shared.events import from_kafka, to_kafka, topic_for, wrap
from tests.integration.feedback.conftest import seed_team, settings_for
from tests.integration.feedback.test_events import shortfall
from tests.integration.probe import eventually, read_topic

pytestmark = pytest.mark.integration


async def test_shortfall_twice_opens_one_check_in_and_a_decision_publishes_once(
    tmp_path: Path, fresh_broker
):
    bootstrap = fresh_broker.bootstrap_servers
    app = create_app(
        settings_for(
            f"sqlite+aiosqlite:///{tmp_path / 'f.db'}",
            bootstrap,
            run_workers=True,
            consumer_group="feedback-e2e",
        )
    )
    runtime = app.state.runtime
    await runtime.create_schema()
    team = await seed_team(runtime, reps=2)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        LifespanManager(app, shutdown_timeout=30),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        event = shortfall(team)
        message = to_kafka(wrap(event))
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for _ in range(2):
                await producer.send_and_wait(
                    event.topic(),
                    value=message.value,
                    key=event.partition_key().encode(),
                    headers=list(message.headers.items()),
                )
        finally:
            await producer.stop()

        async def check_ins() -> list[FeedbackNote]:
            async with runtime.uow() as uow:
                stmt = select(FeedbackNote).where(FeedbackNote.kind == "check_in")
                return list((await uow.session.exec(stmt)).all())

        async def both_seen() -> bool:
            duplicates = runtime.metrics.events_duplicate.labels(consumer="feedback")._value.get()
            return duplicates >= 1 and len(await check_ins()) >= 1

        await eventually(both_seen)
        assert len(await check_ins()) == 1

        body = {
            "team_id": str(team.id),
            "kind": "sale_credit",
            "subject": "ACME",
            "parties": [str(r) for r in team.reps],
        }
        dispute = (
            await client.post("/v1/disputes", json=body, headers=team.as_rep(team.reps[0]))
        ).json()
        url = f"/v1/disputes/{dispute['id']}"
        for i in (0, 1):
            await client.post(
                f"{url}/statements", json={"text": "mine"}, headers=team.as_rep(team.reps[i])
            )
        sale_id = uuid.uuid4()
        decision = {
            "summary": "Split",
            "rationale": "Both worked it",
            "actions": [
                {
                    "type": "reassign_sale_credit",
                    "sale_id": str(sale_id),
                    "to_member_id": str(team.reps[1]),
                    "percent": "50",
                }
            ],
        }
        assert (
            await client.post(f"{url}/decision", json=decision, headers=team.as_manager())
        ).status_code == 200
        assert (
            await client.post(f"{url}/decision", json=decision, headers=team.as_manager())
        ).status_code == 409

        # opened + 2 statements + resolved + check-in opened
        records = await read_topic(bootstrap, topic_for("feedback"), expect=5)
        envelopes = [from_kafka(key=r.key, value=r.value, headers=list(r.headers)) for r in records]
        resolved = [e for e in envelopes if e.type == events.DisputeResolved.TYPE]
        assert len(resolved) == 1
        fact = resolved[0].event()
        assert isinstance(fact, events.DisputeResolved)
        assert fact.actions == [
            events.ReassignSaleCredit(sale_id=sale_id, to_member_id=team.reps[1], percent=50)
        ]
        assert resolved[0].partitionkey == str(team.id)
        assert [e.type for e in envelopes].count(events.CheckInOpened.TYPE) == 1
