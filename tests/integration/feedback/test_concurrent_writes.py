"""Two dispute writers with the same ETag on PostgreSQL: exactly one commits, the other gets 412."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from devtools.postgres import LocalPostgres
from services.feedback.main import create_app
from tests.integration.feedback.conftest import Team, seed_team, settings_for
from tests.integration.races import race

pytestmark = pytest.mark.integration


@pytest.fixture
async def pg(postgres: LocalPostgres) -> AsyncIterator[tuple[httpx.AsyncClient, object, Team]]:
    """A feedback app on PostgreSQL with a seeded team."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    postgres.create_database(name)
    app = create_app(settings_for(postgres.url(name)))
    runtime = app.state.runtime
    await runtime.create_schema()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        yield client, runtime, await seed_team(runtime)


async def _dispute(client: httpx.AsyncClient, team: Team, *, heard: bool = False) -> str:
    body = {
        "team_id": str(team.id),
        "kind": "sale_credit",
        "subject": "Who closed ACME?",
        "parties": [str(p) for p in team.reps[:2]],
        "related": {"sale_id": str(uuid.uuid4())},
    }
    opened = await client.post("/v1/disputes", json=body, headers=team.as_rep(team.reps[0]))
    assert opened.status_code == 201, opened.text
    url = f"/v1/disputes/{opened.json()['id']}"
    if heard:
        for i in (0, 1):
            r = await client.post(
                f"{url}/statements", json={"text": "mine"}, headers=team.as_rep(team.reps[i])
            )
            assert r.status_code == 200, r.text
    return url


async def _etag(client: httpx.AsyncClient, url: str, team: Team) -> str:
    response = await client.get(url, headers=team.as_admin())
    assert response.status_code == 200, response.text
    return response.headers["etag"]


def _statuses(responses) -> list[int]:
    return sorted(r.status_code for r in responses)


async def test_concurrent_statements_with_one_etag_commit_once(pg):
    client, runtime, team = pg
    url = await _dispute(client, team)
    tag = {"If-Match": await _etag(client, url, team)}
    responses = await race(
        runtime.engine,
        "dispute",
        client.post(
            f"{url}/statements", json={"text": "a"}, headers=team.as_rep(team.reps[0]) | tag
        ),
        client.post(
            f"{url}/statements", json={"text": "b"}, headers=team.as_rep(team.reps[1]) | tag
        ),
    )
    assert _statuses(responses) == [200, 412], [r.text for r in responses]


async def test_concurrent_waivers_with_one_etag_commit_once(pg):
    client, runtime, team = pg
    url = await _dispute(client, team)
    tag = {"If-Match": await _etag(client, url, team)}
    responses = await race(
        runtime.engine,
        "dispute",
        *(
            client.post(
                f"{url}/waivers",
                json={"party_id": str(party), "reason": "away"},
                headers=team.as_manager() | tag,
            )
            for party in team.reps[:2]
        ),
    )
    assert _statuses(responses) == [200, 412], [r.text for r in responses]


async def test_concurrent_decisions_with_one_etag_decide_once(pg):
    client, runtime, team = pg
    url = await _dispute(client, team, heard=True)
    tag = {"If-Match": await _etag(client, url, team)}
    decision = {"summary": "Split", "rationale": "Both worked it", "actions": []}
    responses = await race(
        runtime.engine,
        "dispute",
        client.post(f"{url}/decision", json=decision, headers=team.as_manager() | tag),
        client.post(f"{url}/decision", json=decision, headers=team.as_admin() | tag),
    )
    assert _statuses(responses) == [200, 412], [r.text for r in responses]


async def test_concurrent_responses_with_one_etag_commit_once(pg):
    client, runtime, team = pg
    url = await _dispute(client, team, heard=True)
    decision = {"summary": "Split", "rationale": "Both worked it", "actions": []}
    decided = await client.post(f"{url}/decision", json=decision, headers=team.as_manager())
    assert decided.status_code == 200, decided.text
    tag = {"If-Match": decided.headers["etag"]}
    responses = await race(
        runtime.engine,
        "dispute",
        *(
            client.post(
                f"{url}/responses", json={"accepts": True}, headers=team.as_rep(team.reps[i]) | tag
            )
            for i in (0, 1)
        ),
    )
    assert _statuses(responses) == [200, 412], [r.text for r in responses]


async def test_concurrent_withdrawals_with_one_etag_commit_once(pg):
    client, runtime, team = pg
    url = await _dispute(client, team)
    tag = {"If-Match": await _etag(client, url, team)}
    responses = await race(
        runtime.engine,
        "dispute",
        *(
            client.post(f"{url}/withdrawal", headers=team.as_rep(team.reps[0]) | tag)
            for _ in range(2)
        ),
    )
    assert _statuses(responses) == [200, 412], [r.text for r in responses]


async def test_concurrent_statements_without_etag_conflict_instead_of_losing_one(pg):
    client, runtime, team = pg
    url = await _dispute(client, team)
    responses = await race(
        runtime.engine,
        "dispute",
        client.post(f"{url}/statements", json={"text": "a"}, headers=team.as_rep(team.reps[0])),
        client.post(f"{url}/statements", json={"text": "b"}, headers=team.as_rep(team.reps[1])),
    )
    assert _statuses(responses) == [200, 409], [r.text for r in responses]
