"""Coaching feedback, meetings and intel through HTTP, for each role."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.feedback.main import create_app
from shared.runtime import ServiceRuntime
from tests.harness import bearer, serving
from tests.integration.feedback.conftest import seed_team, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture
async def app_client(db_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    """The feedback app of these tests, once on SQLite and once on PostgreSQL."""
    app = create_app(settings_for(db_url))
    async with serving(app) as client:
        yield client, app.state.runtime


async def test_manager_coaches_a_rep_privately(client, team):
    note = {"member_id": str(team.reps[0]), "kind": "coaching", "body": "Ask more questions"}
    created = await client.post("/v1/feedback", json=note, headers=team.as_manager())
    assert created.status_code == 201, created.text
    assert [
        n["body"]
        for n in (await client.get("/v1/feedback", headers=team.as_rep(team.reps[0]))).json()[
            "items"
        ]
    ] == ["Ask more questions"]
    assert (await client.get("/v1/feedback", headers=team.as_rep(team.reps[1]))).json()[
        "items"
    ] == []
    by_member = await client.get(
        "/v1/feedback", params={"member_id": str(team.reps[0])}, headers=team.as_admin()
    )
    assert len(by_member.json()["items"]) == 1
    assert (
        await client.get("/v1/feedback", headers=bearer(org=uuid.uuid4(), roles=["admin"]))
    ).json()["items"] == []
    # A coaching note is no check-in: its manager cannot answer it as one.
    answer = f"/v1/check-ins/{created.json()['id']}/answer"
    assert (
        await client.post(answer, json={"body": "Talked"}, headers=team.as_manager())
    ).status_code == 404


async def test_a_rep_writes_to_their_manager_but_not_to_a_teammate(client, team):
    upward = {"member_id": str(team.manager), "kind": "concern", "body": "Too many meetings"}
    assert (
        await client.post("/v1/feedback", json=upward, headers=team.as_rep(team.reps[0]))
    ).status_code == 201
    feed = (await client.get("/v1/feedback", headers=team.as_manager())).json()["items"]
    assert [n["body"] for n in feed] == ["Too many meetings"]
    sideways = {"member_id": str(team.reps[1]), "kind": "coaching", "body": "x"}
    assert (
        await client.post("/v1/feedback", json=sideways, headers=team.as_rep(team.reps[0]))
    ).status_code == 403
    stranger = {"member_id": str(uuid.uuid4()), "kind": "coaching", "body": "x"}
    assert (
        await client.post("/v1/feedback", json=stranger, headers=team.as_manager())
    ).status_code == 404
    other_org = bearer(org=uuid.uuid4(), roles=["admin"])
    assert (await client.post("/v1/feedback", json=upward, headers=other_org)).status_code == 404
    bad_kind = upward | {"kind": "check_in"}
    assert (
        await client.post("/v1/feedback", json=bad_kind, headers=team.as_rep(team.reps[0]))
    ).status_code == 422


async def test_meetings_are_scheduled_by_the_manager_and_read_by_the_team(client, runtime, team):
    start = datetime.now(UTC) - timedelta(days=10)
    body = {
        "title": "Pipeline review",
        "scheduled_at": start.isoformat(),
        "cadence": "weekly",
        "agenda": ["Pipeline"],
        "attendees": [str(r) for r in team.reps],
    }
    url = f"/v1/teams/{team.id}/meetings"
    assert (await client.post(url, json=body, headers=team.as_rep(team.reps[0]))).status_code == 403
    created = await client.post(url, json=body, headers=team.as_manager())
    assert created.status_code == 201, created.text
    meeting = created.json()
    next_at = datetime.fromisoformat(meeting["next_at"])
    assert datetime.now(UTC) <= next_at <= datetime.now(UTC) + timedelta(days=7)
    assert (next_at - start) % timedelta(weeks=1) == timedelta(0)
    stranger = body | {"attendees": [str(uuid.uuid4())]}
    assert (await client.post(url, json=stranger, headers=team.as_manager())).status_code == 422
    naive = body | {"scheduled_at": "2025-01-01T09:00:00"}
    assert (await client.post(url, json=naive, headers=team.as_manager())).status_code == 422

    listed = await client.get(url, headers=team.as_rep(team.reps[2]))
    assert [m["id"] for m in listed.json()["items"]] == [meeting["id"]]
    other_team = await seed_team(runtime, org=team.org)
    assert (await client.get(url, headers=other_team.as_rep(other_team.reps[0]))).status_code == 404
    assert (await client.get(url, headers=bearer(org=uuid.uuid4()))).status_code == 404

    note = {
        "body": "ACME wants a 3-year deal",
        "action_items": [
            {"description": "Send quote", "owner_id": str(team.reps[1]), "due_on": "2030-01-10"}
        ],
    }
    notes_url = f"/v1/meetings/{meeting['id']}/notes"
    added = await client.post(notes_url, json=note, headers=team.as_rep(team.reps[0]))
    assert added.status_code == 201, added.text
    bad_owner = note | {"action_items": [{"description": "x", "owner_id": str(uuid.uuid4())}]}
    assert (
        await client.post(notes_url, json=bad_owner, headers=team.as_rep(team.reps[0]))
    ).status_code == 422
    assert (
        await client.post(notes_url, json=note, headers=other_team.as_rep(other_team.reps[0]))
    ).status_code == 404
    shown = await client.get(f"/v1/meetings/{meeting['id']}", headers=team.as_rep(team.reps[1]))
    assert shown.json()["notes"][0]["action_items"][0]["owner_id"] == str(team.reps[1])
    assert (
        await client.get(
            f"/v1/meetings/{meeting['id']}", headers=other_team.as_rep(other_team.reps[0])
        )
    ).status_code == 404
    assert (
        await client.get(f"/v1/meetings/{uuid.uuid4()}", headers=team.as_admin())
    ).status_code == 404


async def test_intel_is_shared_with_and_searched_by_the_team_only(client, runtime, team):
    item = {
        "team_id": str(team.id),
        "title": "Globex cuts prices",
        "body": "They offer twenty percent off on two-year contracts",
        "tags": ["Globex", "discount"],
        "kind": "pricing",
    }
    created = await client.post("/v1/intel", json=item, headers=team.as_rep(team.reps[0]))
    assert created.status_code == 201, created.text
    assert created.json()["tags"] == ["globex", "discount"]
    other_team = await seed_team(runtime, org=team.org)
    assert (
        await client.post("/v1/intel", json=item, headers=other_team.as_rep(other_team.reps[0]))
    ).status_code == 404
    assert (
        await client.post(
            "/v1/intel", json=item | {"kind": "rumour"}, headers=team.as_rep(team.reps[0])
        )
    ).status_code == 422

    async def found(params, headers):
        response = await client.get("/v1/intel", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [i["title"] for i in response.json()["items"]]

    assert await found({"q": "contracts"}, team.as_rep(team.reps[1])) == ["Globex cuts prices"]
    assert await found({"tag": "GLOBEX", "team_id": str(team.id)}, team.as_manager()) == [
        "Globex cuts prices"
    ]
    assert await found({}, other_team.as_rep(other_team.reps[0])) == []
    assert await found({}, team.as_admin()) == ["Globex cuts prices"]
    assert await found({"q": "unrelated"}, team.as_rep(team.reps[1])) == []
    response = await client.get(
        "/v1/intel", params={"team_id": str(team.id)}, headers=other_team.as_rep(other_team.reps[0])
    )
    assert response.status_code == 404
