"""Team hierarchies: parents without cycles, allocation down to child teams, the roll-up."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.goals.handlers import hierarchy as rollup_handlers
from services.goals.handlers.events import on_thresholds_changed
from shared.events.performance import ThresholdsChanged
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


async def _split_and_publish_a(g: Goals) -> tuple[dict, dict, dict, dict, dict]:
    """The region's 300000.00 split equally over A and B; A's plan allocated and published."""
    region, a, b, period = await _tree(g)
    c, admin = g.client, g.as_admin()
    base = f"/v1/teams/{region['id']}/plans/{period['id']}"
    await c.put(base, json={"target": "300000.00"}, headers=admin)
    await c.post(f"{base}/allocation", json={"method": "equal"}, headers=admin)
    a_base = f"/v1/teams/{a['id']}/plans/{period['id']}"
    await c.post(f"{a_base}/allocation", json={"method": "equal"}, headers=admin)
    plan = (await c.post(f"{a_base}/publish", headers=admin)).json()
    return region, a, b, period, plan


async def test_the_rollup_sums_targets_and_standings_up_the_tree(goals_db):
    """After a sale is reported for a rep of A, the region's achieved includes it (both DBs)."""
    goals = goals_db
    region, a, b, period, plan = await _split_and_publish_a(goals)
    c, admin = goals.client, goals.as_admin()
    url = f"/v1/teams/{region['id']}/periods/{period['id']}/rollup"
    tree = (await c.get(url, headers=goals.as_manager(region["id"]))).json()
    assert tree["target"] == "300000.00" and tree["assigned"] == "300000.00"
    by_id = {n["team_id"]: n for n in tree["children"]}
    assert by_id[a["id"]]["assigned"] == "150000.00" and by_id[b["id"]]["assigned"] == "0.00"
    rep = plan["targets"][0]
    await goals.report_standing(
        team_id=a["id"],
        member_id=rep["member_id"],
        period_id=period["id"],
        target="75000.00",
        achieved="30000.00",
        projected="60000.00",
        status="struggling",
        as_of=datetime(2030, 2, 14, tzinfo=UTC),
    )
    tree = (await c.get(url, headers=admin)).json()
    a_node = next(n for n in tree["children"] if n["team_id"] == a["id"])
    assert a_node["achieved"] == "30000.00" and a_node["projected"] == "135000.00"
    assert a_node["uncovered_shortfall"] == "15000.00" and a_node["status"] == "on_track"
    assert tree["achieved"] == "30000.00"
    rep_token = goals.as_rep(rep["member_id"], team=a["id"])
    assert (await c.get(url, headers=rep_token)).status_code == 403


def _thresholds(goals: Goals, team: dict, at_risk: str, struggling: str) -> ThresholdsChanged:
    return ThresholdsChanged(
        org_id=goals.org,
        team_id=team["id"],
        at_risk_below=Decimal(at_risk),
        struggling_below=Decimal(struggling),
        hysteresis=Decimal("0.05"),
        min_elapsed_share=Decimal("0.1"),
        version=2,
    )


async def test_each_node_is_judged_by_its_own_thresholds_and_expects_its_schedules(
    goals_db, monkeypatch
):
    """On 1 Feb: A at 0.9 of target is at_risk by A's 0.95; expected = the January slices."""
    goals = goals_db
    region, a, b, period, plan = await _split_and_publish_a(goals)
    c, admin = goals.client, goals.as_admin()
    first, second = plan["targets"]
    # Two weeks of January away: relieved, and the schedule takes those days out.
    r = await c.post(
        f"/v1/members/{first['member_id']}/absences",
        json={"starts_on": "2030-01-06", "ends_on": "2030-01-19", "kind": "pto"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    await goals.react(_thresholds(goals, a, "0.95", "0.5"), on_thresholds_changed)
    await goals.react(_thresholds(goals, region, "0.9", "0.4"), on_thresholds_changed)
    older = _thresholds(goals, region, "0.99", "0.98").model_copy(update={"version": 1})
    await goals.react(older, on_thresholds_changed)  # late and older: ignored
    await goals.report_standing(
        team_id=a["id"],
        member_id=second["member_id"],
        period_id=period["id"],
        target="75000.00",
        achieved="20000.00",
        projected="63933.34",
        status="at_risk",
        as_of=datetime(2030, 2, 1, tzinfo=UTC),
    )
    monkeypatch.setattr(rollup_handlers, "utcnow", lambda: datetime(2030, 2, 1, tzinfo=UTC))

    url = f"/v1/teams/{region['id']}/periods/{period['id']}/rollup"
    tree = (await c.get(url, headers=goals.as_manager(region["id"]))).json()
    a_node = next(n for n in tree["children"] if n["team_id"] == a["id"])
    january = Decimal(0)
    for target in plan["targets"]:
        slices = (await c.get(f"/v1/targets/{target['id']}/schedule", headers=admin)).json()
        january += Decimal(slices["slices"][0]["amount"])
    assert Decimal(a_node["expected_to_date"]) == january == Decimal(tree["expected_to_date"])
    a_target = Decimal(a_node["target"])
    ratio = Decimal(a_node["projected"]) / a_target
    assert Decimal("0.9") <= ratio < Decimal("0.95")
    assert a_node["status"] == "at_risk"  # the defaults (0.9) would say on_track
    # The region: 0.45 of its target, struggling by default, at_risk by its own 0.4.
    assert Decimal(tree["projected"]) / Decimal(tree["target"]) < Decimal("0.7")
    assert tree["status"] == "at_risk"
    b_node = next(n for n in tree["children"] if n["team_id"] == b["id"])
    assert b_node["expected_to_date"] == "0.00"
