"""Dispute deadlines: a team policy, reminders to whoever is late, dispute_overdue once each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select

from services.feedback.handlers.dispute_deadlines import announce_overdue_disputes
from services.feedback.main import create_app
from shared.events import feedback as events
from tests.harness import as_admin
from tests.integration.feedback.conftest import Team, seed_team, settings_for
from tests.integration.feedback.test_coaching import outbox_types

pytestmark = pytest.mark.integration


@pytest.fixture
async def app(db_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, object, Team]]:
    """A feedback app on SQLite and on PostgreSQL, with a seeded team."""
    application = create_app(settings_for(db_url))
    runtime = application.state.runtime
    await runtime.create_schema()
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    async with (
        LifespanManager(application),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        yield client, runtime, await seed_team(runtime)


async def _open(client, team: Team) -> dict:
    body = {
        "team_id": str(team.id),
        "kind": "sale_credit",
        "subject": "Who closed ACME?",
        "parties": [str(p) for p in team.reps[:2]],
    }
    response = await client.post("/v1/disputes", json=body, headers=team.as_rep(team.reps[0]))
    assert response.status_code == 201, response.text
    return response.json()


async def _notices(client, headers) -> list[str]:
    page = await client.get("/v1/feedback", params={"kind": "notice"}, headers=headers)
    return [n["body"] for n in page.json()["items"]]


async def test_late_statements_and_a_late_decision_are_announced_once_with_reminders(app):
    """Past the statement deadline the unheard party is reminded; past the decision, the boss."""
    client, runtime, team = app
    url = f"/v1/teams/{team.id}/dispute-policy"
    policy = {"statement_due_hours": 48, "decision_due_hours": 120}
    assert (
        await client.put(url, json=policy, headers=team.as_rep(team.reps[0]))
    ).status_code == 403
    put = await client.put(url, json=policy, headers=team.as_manager())
    assert put.status_code == 200, put.text
    assert (await client.get(url, headers=team.as_rep(team.reps[1]))).json()[
        "statement_due_hours"
    ] == 48
    dispute = await _open(client, team)
    opened = datetime.fromisoformat(dispute["opened_at"])
    assert datetime.fromisoformat(dispute["statement_due_at"]) == opened + timedelta(hours=48)
    assert datetime.fromisoformat(dispute["decision_due_at"]) == opened + timedelta(hours=120)
    said = {"text": "It was mine"}
    assert (await client.post(f"/v1/disputes/{dispute['id']}/statements", json=said, headers=team.as_rep(team.reps[0]))).status_code == 200  # fmt: skip

    assert await announce_overdue_disputes(uow_factory=runtime.uow, now=opened + timedelta(hours=47)) == 0  # fmt: skip
    assert await announce_overdue_disputes(uow_factory=runtime.uow, now=opened + timedelta(hours=49)) == 1  # fmt: skip
    assert await announce_overdue_disputes(uow_factory=runtime.uow, now=opened + timedelta(hours=50)) == 0  # fmt: skip
    late = await _notices(client, team.as_rep(team.reps[1]))
    assert len(late) == 1 and "statement" in late[0]
    assert await _notices(client, team.as_rep(team.reps[0])) == []  # who was heard is not nagged
    assert any("unheard" in n for n in await _notices(client, team.as_manager()))

    assert await announce_overdue_disputes(uow_factory=runtime.uow, now=opened + timedelta(hours=121)) == 1  # fmt: skip
    assert await announce_overdue_disputes(uow_factory=runtime.uow, now=opened + timedelta(hours=200)) == 0  # fmt: skip
    assert (await outbox_types(runtime)).count(events.DisputeOverdue.TYPE) == 2
    assert any("decision" in n for n in await _notices(client, team.as_manager()))
    audit = await client.get(f"/v1/disputes/{dispute['id']}/audit", headers=team.as_manager())
    assert audit.status_code == 200, audit.text
    actions = [e["action"] for e in audit.json()]
    assert {"statement_overdue", "decision_overdue"} <= set(actions)


async def test_a_heard_and_decided_dispute_is_never_overdue(app):
    """Deadlines met in time announce nothing; disputes opened before a policy have none."""
    client, runtime, team = app
    before = await _open(client, team)
    assert before["statement_due_at"] is None
    url = f"/v1/teams/{team.id}/dispute-policy"
    await client.put(
        url, json={"statement_due_hours": 1, "decision_due_hours": 2}, headers=team.as_manager()
    )
    dispute = await _open(client, team)
    for i in (0, 1):
        await client.post(f"/v1/disputes/{dispute['id']}/statements", json={"text": "x"}, headers=team.as_rep(team.reps[i]))  # fmt: skip
    decision = {"summary": "Split", "rationale": "Both worked it", "actions": []}
    decided = await client.post(f"/v1/disputes/{dispute['id']}/decision", json=decision, headers=team.as_manager())  # fmt: skip
    assert decided.status_code == 200, decided.text
    later = datetime.now(UTC) + timedelta(days=30)
    assert await announce_overdue_disputes(uow_factory=runtime.uow, now=later) == 0
    assert events.DisputeOverdue.TYPE not in await outbox_types(runtime)


async def test_a_dispute_policy_refuses_bad_deadlines(app):
    """Non-positive, huge, or inverted deadlines are 422; another org's team is 404."""
    client, _, team = app
    url = f"/v1/teams/{team.id}/dispute-policy"
    for bad in (
        {"statement_due_hours": 0},
        {"statement_due_hours": -1},
        {"decision_due_hours": 10**6},
        {"statement_due_hours": 48, "decision_due_hours": 24},
        {"statement_due_hours": "soon"},
    ):
        response = await client.put(url, json=bad, headers=team.as_manager())
        assert response.status_code == 422, (bad, response.text)
    stranger = as_admin(uuid.uuid4())
    assert (await client.put(url, json={}, headers=stranger)).status_code == 404
    assert (await client.get(url, headers=stranger)).status_code == 404


async def test_a_decision_records_its_resolution_type_for_parties_and_the_event(app):
    """resolution_type is kept on the decision and in dispute_resolved; unknown ones are 422."""
    client, runtime, team = app
    dispute = await _open(client, team)
    for i in (0, 1):
        await client.post(f"/v1/disputes/{dispute['id']}/statements", json={"text": "x"}, headers=team.as_rep(team.reps[i]))  # fmt: skip
    url = f"/v1/disputes/{dispute['id']}/decision"
    decision = {"summary": "Split", "rationale": "Both worked it", "actions": []}
    bad = await client.post(
        url, json=decision | {"resolution_type": "won"}, headers=team.as_manager()
    )
    assert bad.status_code == 422
    decided = await client.post(url, json=decision | {"resolution_type": "partially_upheld"}, headers=team.as_manager())  # fmt: skip
    assert decided.status_code == 200, decided.text
    seen = (
        await client.get(f"/v1/disputes/{dispute['id']}", headers=team.as_rep(team.reps[1]))
    ).json()
    assert seen["decision"]["resolution_type"] == "partially_upheld"
    table = runtime.plumbing.outbox
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(select(table.c.payload).where(table.c.type == events.DisputeResolved.TYPE))).all()  # fmt: skip
    assert [r[0]["resolution_type"] for r in rows] == ["partially_upheld"]


async def test_a_pending_information_request_blocks_the_decision_until_answered_or_waived(app):
    """The decider asks a party; no decision until the answer (or a waiver) is in."""
    client, runtime, team = app
    dispute = await _open(client, team)
    url = f"/v1/disputes/{dispute['id']}"
    for i in (0, 1):
        await client.post(
            f"{url}/statements", json={"text": "x"}, headers=team.as_rep(team.reps[i])
        )
    ask = {"party_id": str(team.reps[1]), "question": "Who ran the first demo?"}
    assert (await client.post(f"{url}/information-requests", json=ask, headers=team.as_rep(team.reps[0]))).status_code == 403  # fmt: skip
    stranger = {"party_id": str(team.reps[2]), "question": "?"}
    assert (await client.post(f"{url}/information-requests", json=stranger, headers=team.as_manager())).status_code == 422  # fmt: skip
    asked = await client.post(f"{url}/information-requests", json=ask, headers=team.as_manager())
    assert asked.status_code == 201, asked.text
    assert asked.json()["state"] == "pending_information"
    [request] = asked.json()["information_requests"]
    second = await client.post(f"{url}/information-requests", json=ask | {"question": "And the second?"}, headers=team.as_manager())  # fmt: skip
    other_request = second.json()["information_requests"][1]

    decision = {"summary": "Split", "rationale": "Both worked it", "actions": []}
    blocked = await client.post(f"{url}/decision", json=decision, headers=team.as_manager())
    assert blocked.status_code == 409
    assert set(blocked.json()["pending_information"]) == {request["id"], other_request["id"]}
    # The question is seen by the decider and the party asked only.
    assert (await client.get(url, headers=team.as_rep(team.reps[0]))).json()[
        "information_requests"
    ] == []
    answer_url = f"{url}/information-requests/{request['id']}/answer"
    assert (await client.post(answer_url, json={"answer": "Me"}, headers=team.as_rep(team.reps[0]))).status_code == 403  # fmt: skip
    answered = await client.post(answer_url, json={"answer": "I did, on 3 March"}, headers=team.as_rep(team.reps[1]))  # fmt: skip
    assert answered.status_code == 200, answered.text
    assert answered.json()["state"] == "pending_information"
    assert (await client.post(answer_url, json={"answer": "again"}, headers=team.as_rep(team.reps[1]))).status_code == 409  # fmt: skip
    waiver_url = f"{url}/information-requests/{other_request['id']}/waiver"
    assert (await client.post(waiver_url, json={"reason": "x"}, headers=team.as_rep(team.reps[1]))).status_code == 403  # fmt: skip
    waived = await client.post(waiver_url, json={"reason": "Not needed after all"}, headers=team.as_manager())  # fmt: skip
    assert waived.status_code == 200 and waived.json()["state"] == "hearing"
    statuses = {r["id"]: r["status"] for r in waived.json()["information_requests"]}
    assert statuses == {request["id"]: "answered", other_request["id"]: "waived"}
    assert (await client.post(f"{url}/decision", json=decision, headers=team.as_manager())).status_code == 200  # fmt: skip
    types = await outbox_types(runtime)
    assert types.count(events.InformationRequested.TYPE) == 2
    assert types.count(events.InformationRequestClosed.TYPE) == 2
    missing = f"{url}/information-requests/{uuid.uuid4()}/answer"
    assert (await client.post(missing, json={"answer": "x"}, headers=team.as_rep(team.reps[1]))).status_code == 409  # fmt: skip


async def test_an_inquiry_is_answered_and_becomes_a_dispute_when_the_rep_disagrees(app):
    """A rep asks about their own number; an answer they reject turns it into a target dispute."""
    client, runtime, team = app
    target_id = str(uuid.uuid4())
    body = {
        "team_id": str(team.id),
        "kind": "inquiry",
        "subject": "Why did my target go up by 10 %?",
        "parties": [str(team.reps[0])],
        "related": {"target_id": target_id},
    }
    for_another = body | {"parties": [str(team.reps[1])]}
    assert (await client.post("/v1/disputes", json=for_another, headers=team.as_rep(team.reps[0]))).status_code == 422  # fmt: skip
    both = body | {"parties": [str(team.reps[0]), str(team.reps[1])]}
    assert (
        await client.post("/v1/disputes", json=both, headers=team.as_rep(team.reps[0]))
    ).status_code == 422
    opened = await client.post("/v1/disputes", json=body, headers=team.as_rep(team.reps[0]))
    assert opened.status_code == 201, opened.text
    inquiry = opened.json()
    assert inquiry["kind"] == "inquiry" and inquiry["state"] == "hearing"  # asking is being heard
    url = f"/v1/disputes/{inquiry['id']}"
    answer = {"summary": "Cleo's shortfall moved to you", "rationale": "Rebalance of 3 May"}
    answered = await client.post(f"{url}/decision", json=answer | {"actions": []}, headers=team.as_manager())  # fmt: skip
    assert answered.status_code == 200, answered.text
    rejected = await client.post(
        f"{url}/responses", json={"accepts": False}, headers=team.as_rep(team.reps[0])
    )
    assert rejected.status_code == 200, rejected.text
    dispute = rejected.json()
    assert dispute["kind"] == "target" and dispute["state"] == "hearing"
    assert dispute["decision"] is None
    assert dispute["inquiry_answer"]["summary"] == "Cleo's shortfall moved to you"
    assert events.InquiryEscalated.TYPE in await outbox_types(runtime)
    # From here the dispute follows the usual rules: a decision, then the rep's response.
    decided = await client.post(f"{url}/decision", json=answer | {"actions": []}, headers=team.as_manager())  # fmt: skip
    assert decided.status_code == 200, decided.text
    closed = await client.post(
        f"{url}/responses", json={"accepts": False}, headers=team.as_rep(team.reps[0])
    )
    assert closed.json()["state"] == "closed"


async def test_an_accepted_inquiry_answer_closes_it(app):
    """A rep who accepts the answer closes the inquiry; it never becomes a dispute."""
    client, runtime, team = app
    body = {
        "team_id": str(team.id),
        "kind": "inquiry",
        "subject": "Is the ACME deal counted?",
        "parties": [str(team.reps[1])],
    }
    inquiry = (
        await client.post("/v1/disputes", json=body, headers=team.as_rep(team.reps[1]))
    ).json()
    url = f"/v1/disputes/{inquiry['id']}"
    answer = {"summary": "Yes, on 2 May", "rationale": "Closed-won in HubSpot", "actions": []}
    assert (await client.post(f"{url}/decision", json=answer, headers=team.as_manager())).status_code == 200  # fmt: skip
    closed = await client.post(
        f"{url}/responses", json={"accepts": True}, headers=team.as_rep(team.reps[1])
    )
    assert closed.json()["state"] == "closed" and closed.json()["kind"] == "inquiry"
    assert events.InquiryEscalated.TYPE not in await outbox_types(runtime)
