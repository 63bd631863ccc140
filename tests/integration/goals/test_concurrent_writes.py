"""Two writers with the same ETag on PostgreSQL: exactly one commits, the other gets 412."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from devtools.postgres import LocalPostgres
from shared.events import wrap
from tests.integration.goals.conftest import Goals, make_goals, seed
from tests.integration.goals.test_reactions import (
    rebalances,
    record_of,
    set_policy,
    team_shortfalls,
)
from tests.integration.races import race

pytestmark = pytest.mark.integration


@pytest.fixture
async def goals_pg(postgres: LocalPostgres) -> AsyncIterator[Goals]:
    """A goals app on PostgreSQL, where two requests really run at once."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    postgres.create_database(name)
    async for g in make_goals(postgres.url(name)):
        yield g


def _statuses(responses) -> list[int]:
    return sorted(r.status_code for r in responses)


async def _member(g: Goals) -> tuple[dict, dict]:
    s = await seed(g, n=2, publish=False)
    return s.team, s.members[0]


async def test_concurrent_member_patches_with_one_etag_commit_once(goals_pg: Goals):
    _, member = await _member(goals_pg)
    url, headers = f"/v1/members/{member['id']}", {**goals_pg.as_admin(), "If-Match": '"1"'}
    responses = await race(
        goals_pg.runtime.engine,
        "member",
        goals_pg.client.patch(url, json={"name": "Ada"}, headers=headers),
        goals_pg.client.patch(url, json={"name": "Bea"}, headers=headers),
    )
    assert _statuses(responses) == [200, 412], [r.text for r in responses]
    [won] = [r for r in responses if r.status_code == 200]
    [lost] = [r for r in responses if r.status_code == 412]
    assert lost.headers["content-type"].startswith("application/problem+json")
    now = (await goals_pg.client.get(url, headers=goals_pg.as_admin())).json()
    assert (now["name"], now["version"]) == (won.json()["name"], 2)


async def test_concurrent_member_patches_without_etag_conflict_instead_of_losing_one(
    goals_pg: Goals,
):
    _, member = await _member(goals_pg)
    url = f"/v1/members/{member['id']}"
    responses = await race(
        goals_pg.runtime.engine,
        "member",
        goals_pg.client.patch(url, json={"name": "Ada"}, headers=goals_pg.as_admin()),
        goals_pg.client.patch(url, json={"name": "Bea"}, headers=goals_pg.as_admin()),
    )
    assert _statuses(responses) == [200, 409], [r.text for r in responses]


async def test_concurrent_member_removals_with_one_etag_commit_once(goals_pg: Goals):
    _, member = await _member(goals_pg)
    url, headers = f"/v1/members/{member['id']}", {**goals_pg.as_admin(), "If-Match": '"1"'}
    responses = await race(
        goals_pg.runtime.engine,
        "member",
        goals_pg.client.delete(url, headers=headers),
        goals_pg.client.delete(url, headers=headers),
    )
    assert _statuses(responses) == [200, 412], [r.text for r in responses]


async def test_concurrent_team_patches_with_one_etag_commit_once(goals_pg: Goals):
    team, _ = await _member(goals_pg)
    url, headers = f"/v1/teams/{team['id']}", {**goals_pg.as_admin(), "If-Match": '"1"'}
    responses = await race(
        goals_pg.runtime.engine,
        "team",
        goals_pg.client.patch(url, json={"name": "North"}, headers=headers),
        goals_pg.client.patch(url, json={"name": "South"}, headers=headers),
    )
    assert _statuses(responses) == [200, 412], [r.text for r in responses]


async def test_concurrent_plan_puts_with_one_etag_commit_once(goals_pg: Goals):
    s = await seed(goals_pg, n=2, publish=False)
    url = f"/v1/teams/{s.team_id}/plans/{s.period['id']}"
    headers = {**goals_pg.as_admin(), "If-Match": f'"{s.plan["version"]}"'}
    responses = await race(
        goals_pg.runtime.engine,
        "plan",
        goals_pg.client.put(url, json={"target": "1000.00"}, headers=headers),
        goals_pg.client.put(url, json={"target": "2000.00"}, headers=headers),
    )
    assert _statuses(responses) == [200, 412], [r.text for r in responses]


async def test_concurrent_publishes_with_one_etag_publish_once(goals_pg: Goals):
    s = await seed(goals_pg, n=2, publish=False)
    url = f"/v1/teams/{s.team_id}/plans/{s.period['id']}/publish"
    headers = {**goals_pg.as_admin(), "If-Match": f'"{s.plan["version"]}"'}
    responses = await race(
        goals_pg.runtime.engine,
        "plan",
        goals_pg.client.post(url, headers=headers),
        goals_pg.client.post(url, headers=headers),
    )
    assert _statuses(responses) == [200, 412], [r.text for r in responses]


async def test_concurrent_target_edits_with_one_etag_commit_once(goals_pg: Goals):
    s = await seed(goals_pg, n=3)
    target = s.target_of(s.members[0]["id"])
    url = f"/v1/targets/{target['id']}"
    headers = {**goals_pg.as_admin(), "If-Match": f'"{target["version"]}"'}
    responses = await race(
        goals_pg.runtime.engine,
        "target",
        goals_pg.client.patch(url, json={"amount": "90000.00", "reason": "a"}, headers=headers),
        goals_pg.client.patch(url, json={"amount": "110000.00", "reason": "b"}, headers=headers),
    )
    assert _statuses(responses) == [200, 412], [r.text for r in responses]
    plan = (
        await goals_pg.client.get(
            f"/v1/teams/{s.team_id}/plans/{s.period['id']}", headers=goals_pg.as_admin()
        )
    ).json()
    # The winner's re-spread is whole: the team total is still exact.
    assert sum(int(t["amount"].replace(".", "")) for t in plan["targets"]) == 30_000_000


async def test_concurrent_policy_puts_with_one_etag_commit_once(goals_pg: Goals):
    s = await seed(goals_pg, n=1, publish=False)
    url = f"/v1/teams/{s.team_id}/rebalance-policy"
    first = await goals_pg.client.put(url, json={"mode": "propose"}, headers=goals_pg.as_admin())
    assert first.status_code == 200, first.text
    headers = {**goals_pg.as_admin(), "If-Match": first.headers["ETag"]}
    responses = await race(
        goals_pg.runtime.engine,
        "rebalance_policy",
        goals_pg.client.put(url, json={"mode": "auto"}, headers=headers),
        goals_pg.client.put(url, json={"mode": "off"}, headers=headers),
    )
    assert _statuses(responses) == [200, 412], [r.text for r in responses]


async def test_the_last_two_offer_answers_at_once_settle_the_round_exactly_once(goals_pg: Goals):
    g = goals_pg
    s = await seed(g, n=4, target="400000.00")
    await set_policy(g, s, mode="offer", cooldown_hours=0)
    await g.runtime.consumer._processor.process(record_of(wrap(team_shortfalls(g, s))))
    [row] = await rebalances(g, s)

    def answer(i: int, amount: str):
        member = s.members[i]["id"]
        return g.client.post(
            f"/v1/rebalances/{row['id']}/offers/{member}/acceptance",
            json={"amount": amount},
            headers=g.as_rep(member, team=s.team_id),
        )

    assert (await answer(1, "10000.00")).status_code == 200
    # Both hold the round (a no-op UPDATE of it) before reading the answers: the second waits
    # for the first, then sees every offer answered and settles.
    responses = await race(
        g.runtime.engine, "rebalance", answer(2, "5000.00"), answer(3, "7000.00")
    )
    assert _statuses(responses) == [200, 200], [r.text for r in responses]
    assert sorted(r.json()["status"] for r in responses) == ["applied", "offered"]
    [settled] = await rebalances(g, s)
    assert (settled["status"], settled["moved"]) == ("applied", "22000.00")
    assert Decimal(settled["moved"]) + Decimal(settled["uncovered"]) == Decimal("60000.00")
