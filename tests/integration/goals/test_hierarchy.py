"""Team hierarchies: parents without cycles, allocation down to child teams, the roll-up."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.goals.handlers.events import on_attainment_changed
from shared.events import wrap
from shared.events.performance import AttainmentChanged
from tests.integration.goals.conftest import Goals

pytestmark = pytest.mark.integration


async def _team(g: Goals, name: str, parent: str | None = None, currency: str = "EUR") -> dict:
    body = {"name": name, "currency": currency, "manager_id": str(uuid.uuid4())}
    if parent:
        body["parent_team_id"] = parent
    r = await g.client.post("/v1/teams", json=body, headers=g.as_admin())
    assert r.status_code == 201, r.text
    return r.json()


async def _members(g: Goals, team: dict, capacities: list[str]) -> list[dict]:
    rows = []
    for i, capacity in enumerate(capacities):
        r = await g.client.post(
            f"/v1/teams/{team['id']}/members",
            json={
                "name": f"{team['name']} {i}",
                "email": f"r{i}@example.com",
                "capacity": capacity,
            },
            headers=g.as_admin(),
        )
        assert r.status_code == 201, r.text
        rows.append(r.json())
    return rows


async def _tree(g: Goals) -> tuple[dict, dict, dict, dict]:
    region = await _team(g, "Region")
    a = await _team(g, "A", region["id"])
    b = await _team(g, "B", region["id"])
    await _members(g, a, ["1", "1"])
    await _members(g, b, ["1", "0.5"])
    period = (
        await g.client.post(
            "/v1/periods",
            json={"name": "Q1", "starts_on": "2030-01-01", "ends_on": "2030-03-31"},
            headers=g.as_admin(),
        )
    ).json()
    return region, a, b, period


async def test_cycles_foreign_currencies_and_non_admins_are_refused(goals):
    """A team cannot sit under itself or its descendants; parents share the currency."""
    region, a, _, _ = await _tree(goals)
    c = goals.client
    cycle = await c.patch(
        f"/v1/teams/{region['id']}", json={"parent_team_id": a["id"]}, headers=goals.as_admin()
    )
    assert cycle.status_code == 409
    itself = await c.patch(
        f"/v1/teams/{a['id']}", json={"parent_team_id": a["id"]}, headers=goals.as_admin()
    )
    assert itself.status_code == 409
    usd = await c.post(
        "/v1/teams",
        json={
            "name": "US",
            "currency": "USD",
            "manager_id": str(uuid.uuid4()),
            "parent_team_id": region["id"],
        },
        headers=goals.as_admin(),
    )
    assert usd.status_code == 422
    by_manager = await c.patch(
        f"/v1/teams/{a['id']}", json={"parent_team_id": None}, headers=goals.as_manager(a["id"])
    )
    assert by_manager.status_code == 403
    root = await c.patch(
        f"/v1/teams/{a['id']}", json={"parent_team_id": None}, headers=goals.as_admin()
    )
    assert root.status_code == 200 and root.json()["parent_team_id"] is None


async def test_a_parent_splits_its_over_assigned_target_over_child_teams_by_capacity(goals):
    """10 % over 350000 is 385000, split 2 : 1.5 FTE; each child plan gets its target."""
    region, a, b, period = await _tree(goals)
    c, boss = goals.client, goals.as_manager(region["id"])
    base = f"/v1/teams/{region['id']}/plans/{period['id']}"
    r = await c.put(base, json={"target": "350000.00", "over_assignment_pct": "10"}, headers=boss)
    assert r.status_code == 201, r.text
    assert r.json()["warnings"], "above 5 % the plan warns"
    r = await c.post(f"{base}/allocation", json={"method": "capacity"}, headers=boss)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["over_assigned"] == "385000.00" and body["warnings"]
    amounts = {t["team_id"]: t["amount"] for t in body["teams"]}
    assert amounts == {a["id"]: "220000.00", b["id"]: "165000.00"}
    # The parent's manager manages the child team's plan too.
    child = await c.get(f"/v1/teams/{a['id']}/plans/{period['id']}", headers=boss)
    assert child.status_code == 200 and child.json()["target"] == "220000.00"
    r = await c.post(
        f"/v1/teams/{a['id']}/plans/{period['id']}/allocation",
        json={"method": "equal"},
        headers=boss,
    )
    assert r.status_code == 200, r.text
    stranger = goals.as_manager(uuid.uuid4())
    assert (
        await c.get(f"/v1/teams/{a['id']}/plans/{period['id']}", headers=stranger)
    ).status_code == 403


async def test_the_rollup_sums_targets_and_standings_up_the_tree(goals_db):
    """After a sale is reported for a rep of A, the region's achieved includes it (both DBs)."""
    goals = goals_db
    region, a, b, period = await _tree(goals)
    c, admin = goals.client, goals.as_admin()
    base = f"/v1/teams/{region['id']}/plans/{period['id']}"
    await c.put(base, json={"target": "300000.00"}, headers=admin)
    await c.post(f"{base}/allocation", json={"method": "equal"}, headers=admin)
    a_base = f"/v1/teams/{a['id']}/plans/{period['id']}"
    await c.post(f"{a_base}/allocation", json={"method": "equal"}, headers=admin)
    plan = (await c.post(f"{a_base}/publish", headers=admin)).json()
    url = f"/v1/teams/{region['id']}/periods/{period['id']}/rollup"
    tree = (await c.get(url, headers=goals.as_manager(region["id"]))).json()
    assert tree["target"] == "300000.00" and tree["assigned"] == "300000.00"
    by_id = {n["team_id"]: n for n in tree["children"]}
    assert by_id[a["id"]]["assigned"] == "150000.00" and by_id[b["id"]]["assigned"] == "0.00"
    rep = plan["targets"][0]
    event = AttainmentChanged(
        org_id=goals.org,
        team_id=a["id"],
        member_id=rep["member_id"],
        period_id=period["id"],
        target=Decimal("75000.00"),
        achieved=Decimal("30000.00"),
        percent=Decimal("40"),
        expected_to_date=Decimal("37500.00"),
        projected=Decimal("60000.00"),
        status="struggling",
        currency="EUR",
        as_of=datetime(2030, 2, 14, tzinfo=UTC),
    )
    async with goals.runtime.uow() as uow:
        await on_attainment_changed(event, wrap(event), uow)
        await uow.commit()
    tree = (await c.get(url, headers=admin)).json()
    a_node = next(n for n in tree["children"] if n["team_id"] == a["id"])
    assert a_node["achieved"] == "30000.00" and a_node["projected"] == "135000.00"
    assert a_node["uncovered_shortfall"] == "15000.00" and a_node["status"] == "on_track"
    assert tree["achieved"] == "30000.00"
    rep_token = goals.as_rep(rep["member_id"], team=a["id"])
    assert (await c.get(url, headers=rep_token)).status_code == 403
