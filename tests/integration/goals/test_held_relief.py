"""The adjustment guard on relief: a flagged relief by a manager waits for a senior approver."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.goals.conftest import Goals, Seeded, seed
from tests.integration.goals.test_change_requests import plan_of, project

pytestmark = pytest.mark.integration

FEBRUARY = {"starts_on": "2030-02-01", "ends_on": "2030-02-28", "kind": "leave"}


def total_of(plan: dict) -> Decimal:
    """The individual targets plus the unassigned line: what must equal the plan's total."""
    return sum((Decimal(t["amount"]) for t in plan["targets"]), Decimal(plan["unassigned"]))


async def absent(g: Goals, s: Seeded, headers: dict, member: int = 0) -> dict:
    """Record February away for a rep of the team; return the absence as the API shows it."""
    rep = s.members[member]["id"]
    r = await g.client.post(f"/v1/members/{rep}/absences", json=FEBRUARY, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def relief_policy(g: Goals, s: Seeded, absorb: str) -> None:
    """Set who absorbs relief on the team."""
    r = await g.client.put(
        f"/v1/teams/{s.team_id}/relief-policy",
        json={"min_days": 5, "absorb": absorb},
        headers=g.as_admin(),
    )
    assert r.status_code == 200, r.text


async def held_request(g: Goals, s: Seeded) -> tuple[dict, dict]:
    """A manager's absence whose relief lifts the team across 100 %: (absence, its request)."""
    await project(g, s, "96000.00")  # 288000 against 300000: a lower total lifts it over 100 %
    absence = await absent(g, s, g.as_manager(s.team_id))
    [held] = absence["held_reliefs"]
    r = await g.client.get(f"/v1/change-requests/{held['change_request_id']}", headers=g.as_admin())
    assert r.status_code == 200, r.text
    return absence, r.json()


async def test_a_flagged_relief_by_a_manager_waits_and_changes_no_target(goals_db):
    g = goals_db
    s = await seed(g)
    absence, req = await held_request(g, s)
    assert absence["reliefs"] == []
    assert req["origin"] == "relief" and req["state"] == "pending"
    assert req["flags"] == ["manager_incentive"] and req["absence_id"] == absence["id"]
    assert req["old_amount"] == "100000.00"
    relief = Decimal(absence["held_reliefs"][0]["relief"])
    assert relief > 0 and Decimal(req["new_amount"]) == Decimal("100000.00") - relief
    plan = await plan_of(g, s)
    assert plan["target"] == "300000.00"
    assert [t["amount"] for t in plan["targets"]] == ["100000.00"] * 3
    listed = await g.client.get(f"/v1/members/{req['member_id']}/absences", headers=g.as_admin())
    assert [a["held_reliefs"] for a in listed.json()["items"]] == [absence["held_reliefs"]]
    pending = await g.client.get(
        f"/v1/teams/{s.team_id}/change-requests?state=pending", headers=g.as_admin()
    )
    assert [r["id"] for r in pending.json()["items"]] == [req["id"]]
    url = f"/v1/teams/{s.team_id}/adjustment-profile?period_id={s.period['id']}"
    profile = (await g.client.get(url, headers=g.as_admin())).json()
    assert [(f["status"], f["change_request_id"]) for f in profile["flagged"]] == [
        ("pending", req["id"])
    ]


async def test_the_manager_who_recorded_it_is_not_the_second_approver(goals_db):
    g = goals_db
    s = await seed(g)
    _, req = await held_request(g, s)
    url = f"/v1/change-requests/{req['id']}/approval"
    assert (await g.client.post(url, headers=g.as_manager(s.team_id))).status_code == 403
    assert (await plan_of(g, s))["target"] == "300000.00"


async def test_an_admins_approval_applies_the_relief_and_lowers_the_total_exactly(goals_db):
    g = goals_db
    s = await seed(g)
    absence, req = await held_request(g, s)
    relief = Decimal(absence["held_reliefs"][0]["relief"])
    ok = await g.client.post(f"/v1/change-requests/{req['id']}/approval", headers=g.as_admin())
    assert ok.status_code == 200, ok.text
    assert ok.json()["state"] == "approved"
    assert [a["senior"] for a in ok.json()["approvals"]] == [False, True]
    plan = await plan_of(g, s)
    assert Decimal(plan["target"]) == Decimal("300000.00") - relief == total_of(plan)
    mine = s.target_of(req["member_id"])["id"]
    assert next(t for t in plan["targets"] if t["id"] == mine)["amount"] == req["new_amount"]
    history = (await g.client.get(f"/v1/targets/{mine}/history", headers=g.as_admin())).json()
    last = history["items"][-1]
    assert (last["reason"], last["flag"]) == ("relief", "manager_incentive")
    assert Decimal(last["delta"]) == -relief
    listed = await g.client.get(f"/v1/members/{req['member_id']}/absences", headers=g.as_admin())
    [now] = listed.json()["items"]
    assert now["held_reliefs"] == [] and [r["relief"] for r in now["reliefs"]] == [str(relief)]
    # Applied once: approving again is refused and changes nothing.
    again = await g.client.post(f"/v1/change-requests/{req['id']}/approval", headers=g.as_admin())
    assert again.status_code == 409
    assert (await plan_of(g, s))["target"] == plan["target"]


async def test_a_held_relief_approved_after_the_policy_moved_to_team_still_lowers_the_total(
    goals_db,
):
    g = goals_db
    s = await seed(g)
    absence, req = await held_request(g, s)
    relief = Decimal(absence["held_reliefs"][0]["relief"])
    await relief_policy(g, s, "team")
    ok = await g.client.post(f"/v1/change-requests/{req['id']}/approval", headers=g.as_admin())
    assert ok.status_code == 200, ok.text
    plan = await plan_of(g, s)
    # The approver approved what was held (the total drops), not what the team would do now.
    assert Decimal(plan["target"]) == Decimal("300000.00") - relief == total_of(plan)
    others = [t["amount"] for t in plan["targets"] if t["member_id"] != req["member_id"]]
    assert others == ["100000.00", "100000.00"]


async def test_a_rejected_relief_leaves_the_targets_and_keeps_the_absence(goals_db):
    g = goals_db
    s = await seed(g)
    absence, req = await held_request(g, s)
    url = f"/v1/change-requests/{req['id']}/rejection"
    no = await g.client.post(url, json={"rationale": "Cover it as a team"}, headers=g.as_admin())
    assert no.status_code == 200 and no.json()["state"] == "rejected"
    plan = await plan_of(g, s)
    assert plan["target"] == "300000.00" and total_of(plan) == Decimal("300000.00")
    listed = await g.client.get(f"/v1/members/{req['member_id']}/absences", headers=g.as_admin())
    [kept] = listed.json()["items"]
    assert kept["id"] == absence["id"] and kept["reliefs"] == kept["held_reliefs"] == []


async def test_a_held_relief_on_a_target_changed_since_is_409_and_changes_nothing(goals_db):
    g = goals_db
    s = await seed(g)
    _, req = await held_request(g, s)
    r = await g.client.patch(
        f"/v1/targets/{req['target_id']}",
        json={"amount": "100500.00", "reason": "Acme"},
        headers=g.as_admin(),
    )
    assert r.status_code == 200, r.text
    before = await plan_of(g, s)
    ok = await g.client.post(f"/v1/change-requests/{req['id']}/approval", headers=g.as_admin())
    assert ok.status_code == 409 and ok.json()["reason"] == "target_changed"
    assert await plan_of(g, s) == before


async def test_cancelling_the_absence_withdraws_its_held_relief(goals_db):
    g = goals_db
    s = await seed(g)
    absence, req = await held_request(g, s)
    r = await g.client.delete(f"/v1/absences/{absence['id']}", headers=g.as_manager(s.team_id))
    assert r.status_code == 204, r.text
    now = await g.client.get(f"/v1/change-requests/{req['id']}", headers=g.as_admin())
    assert now.json()["state"] == "withdrawn"
    assert (await plan_of(g, s))["target"] == "300000.00"


async def test_an_unflagged_relief_by_a_manager_applies_at_once(goals_db):
    g = goals_db
    s = await seed(g)
    await project(g, s, "50000.00")  # 150000 against 300000: still far below 100 % after it
    absence = await absent(g, s, g.as_manager(s.team_id))
    assert absence["held_reliefs"] == []
    [relief] = absence["reliefs"]
    plan = await plan_of(g, s)
    assert Decimal(plan["target"]) == Decimal("300000.00") + Decimal(relief["total_delta"])
    assert Decimal(plan["target"]) == total_of(plan) < Decimal("300000.00")


@pytest.mark.parametrize("absorb", ["team", "pool"])
async def test_relief_absorbed_by_the_team_or_the_pool_keeps_the_total_and_applies_at_once(
    goals_db, absorb
):
    g = goals_db
    s = await seed(g)
    await relief_policy(g, s, absorb)
    await project(g, s, "96000.00")  # the total does not move, so the team is not lifted
    absence = await absent(g, s, g.as_manager(s.team_id))
    assert absence["held_reliefs"] == []
    [relief] = absence["reliefs"]
    assert relief["total_delta"] == "0.00" and Decimal(relief["relief"]) > 0
    plan = await plan_of(g, s)
    assert plan["target"] == "300000.00" and total_of(plan) == Decimal("300000.00")


async def test_an_admins_flagged_relief_applies_at_once(goals_db):
    g = goals_db
    s = await seed(g)
    await project(g, s, "96000.00")
    absence = await absent(g, s, g.as_admin())
    assert absence["held_reliefs"] == []
    [relief] = absence["reliefs"]
    plan = await plan_of(g, s)
    assert Decimal(plan["target"]) == Decimal("300000.00") + Decimal(relief["total_delta"])
    assert Decimal(plan["target"]) == total_of(plan) < Decimal("300000.00")
