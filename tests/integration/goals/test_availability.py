"""Absences relieve reps through the ledger; late joiners get prorated, ramped targets."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.integration.goals.conftest import Goals, Seeded, seed

pytestmark = pytest.mark.integration

# Q1 2030 has 90 days; 4..15 February is 12 days, 10 of them working days.
LEAVE = {"starts_on": "2030-02-04", "ends_on": "2030-02-15", "kind": "leave"}


def _sum(targets) -> Decimal:
    return sum((Decimal(t["amount"]) for t in targets), Decimal(0))


async def _plan(g: Goals, s: Seeded) -> dict:
    r = await g.client.get(f"/v1/teams/{s.team_id}/plans/{s.period['id']}", headers=g.as_admin())
    return r.json()


async def _policy(g: Goals, s: Seeded, absorb: str, min_days: int = 5) -> None:
    r = await g.client.put(
        f"/v1/teams/{s.team_id}/relief-policy",
        json={"min_days": min_days, "absorb": absorb},
        headers=g.as_manager(s.team_id),
    )
    assert r.status_code == 200, r.text


async def _absent(g: Goals, member_id: str, body: dict = LEAVE) -> dict:
    r = await g.client.post(f"/v1/members/{member_id}/absences", json=body, headers=g.as_admin())
    assert r.status_code == 201, r.text
    return r.json()


async def test_absorb_nobody_lowers_the_rep_and_the_team_total_with_a_relief_ledger_row(goals):
    """Relief is target x absent share, exactly; the plan's total drops by it."""
    s = await seed(goals)
    me = s.members[0]["id"]
    absence = await _absent(goals, me)
    # 100000.00 x 12/90 = 13333.333... rounds to 13333.33.
    assert absence["reliefs"][0]["relief"] == "13333.33"
    assert absence["reliefs"][0]["total_delta"] == "-13333.33"
    plan = await _plan(goals, s)
    assert plan["target"] == "286666.67" and _sum(plan["targets"]) == Decimal("286666.67")
    assert s.target_of(me)["amount"] == "100000.00"
    mine = next(t for t in plan["targets"] if t["member_id"] == me)
    assert mine["amount"] == "86666.67"
    history = await goals.client.get(f"/v1/targets/{mine['id']}/history", headers=goals.as_admin())
    last = history.json()["items"][-1]
    assert (last["reason"], last["delta"]) == ("relief", "-13333.33")
    assert "team total is lowered" in last["note"]


async def test_absorb_team_spreads_the_relief_over_the_others_and_keeps_the_total(goals):
    """The others take the relief by water-fill in proportion to their targets."""
    s = await seed(goals)
    await _policy(goals, s, "team")
    absence = await _absent(goals, s.members[0]["id"])
    plan = await _plan(goals, s)
    assert plan["target"] == "300000.00" and _sum(plan["targets"]) == Decimal("300000.00")
    absorbed = absence["reliefs"][0]["absorbed"]
    assert sorted(absorbed.values()) == ["6666.66", "6666.67"]
    assert plan["unassigned"] == "0.00"


async def test_absorb_team_gives_nothing_to_reps_absent_in_the_window_or_struggling(goals_db):
    """One rep is away during the leave, one is struggling: the relief waits in the pool (both DBs)."""
    goals = goals_db
    s = await seed(goals)
    await _policy(goals, s, "team")
    me, away, struggling = (m["id"] for m in s.members)
    # Overlaps the leave by one day; a day is enough to be unable to cover for the rep.
    await _absent(goals, away, {"starts_on": "2030-02-15", "ends_on": "2030-02-16", "kind": "pto"})
    await goals.report_standing(
        team_id=s.team_id,
        member_id=struggling,
        period_id=s.period["id"],
        target="100000.00",
        achieved="1000.00",
        projected="3000.00",
        status="struggling",
        as_of=datetime(2030, 2, 1, tzinfo=UTC),
    )
    absence = await _absent(goals, me)
    relief = absence["reliefs"][0]
    assert relief["absorbed"] == {} and relief["pooled"] == relief["relief"] == "13333.33"
    plan = await _plan(goals, s)
    assert {t["member_id"]: t["amount"] for t in plan["targets"]}[away] == "100000.00"
    assert {t["member_id"]: t["amount"] for t in plan["targets"]}[struggling] == "100000.00"
    assert _sum(plan["targets"]) + Decimal(plan["unassigned"]) == Decimal(plan["target"])


async def test_absorb_team_puts_what_the_caps_refuse_on_the_unassigned_line(goals):
    """With a zero cap nobody may take more, so the whole relief waits in the pool."""
    s = await seed(goals)
    await _policy(goals, s, "team")
    r = await goals.client.put(
        f"/v1/teams/{s.team_id}/rebalance-policy",
        json={"mode": "propose", "max_increase_pct": "0"},
        headers=goals.as_admin(),
    )
    assert r.status_code == 200, r.text
    absence = await _absent(goals, s.members[0]["id"])
    assert absence["reliefs"][0]["pooled"] == "13333.33"
    plan = await _plan(goals, s)
    assert plan["unassigned"] == "13333.33"
    assert _sum(plan["targets"]) + Decimal(plan["unassigned"]) == Decimal(plan["target"])


async def test_a_short_absence_relieves_nothing_but_is_listed(goals):
    """Fewer working days than min_days: recorded (pace uses it), no target change."""
    s = await seed(goals)
    await _policy(goals, s, "nobody", min_days=11)
    me = s.members[0]["id"]
    absence = await _absent(goals, me)
    assert absence["reliefs"] == []
    listed = await goals.client.get(
        f"/v1/members/{me}/absences", headers=goals.as_rep(me, team=s.team_id)
    )
    assert listed.status_code == 200 and [a["id"] for a in listed.json()["items"]] == [
        absence["id"]
    ]
    assert (await _plan(goals, s))["target"] == "300000.00"


async def test_cancelling_a_pooled_absence_gives_the_relief_back(goals):
    """Cancel before the start: the rep gets the relief back from the pool, total unchanged."""
    s = await seed(goals)
    await _policy(goals, s, "pool")
    me = s.members[0]["id"]
    absence = await _absent(goals, me)
    plan = await _plan(goals, s)
    assert plan["unassigned"] == "13333.33" and plan["target"] == "300000.00"
    r = await goals.client.delete(f"/v1/absences/{absence['id']}", headers=goals.as_admin())
    assert r.status_code == 204, r.text
    plan = await _plan(goals, s)
    assert plan["unassigned"] == "0.00"
    assert [t["amount"] for t in plan["targets"]] == ["100000.00"] * 3
    again = await goals.client.delete(f"/v1/absences/{absence['id']}", headers=goals.as_admin())
    assert again.status_code == 404


async def test_two_absences_relieve_what_one_as_long_would(goals):
    """The second relief is a share of the target as if present, so relief adds up."""
    s = await seed(goals)
    me = s.members[0]["id"]
    await _absent(goals, me, {"starts_on": "2030-02-04", "ends_on": "2030-02-09", "kind": "pto"})
    await _absent(goals, me, {"starts_on": "2030-02-10", "ends_on": "2030-02-15", "kind": "pto"})
    plan = await _plan(goals, s)
    mine = next(t for t in plan["targets"] if t["member_id"] == me)
    # 6/90 each: 6666.67 + 6666.67 (one 12-day absence gives 13333.33: one cent of rounding).
    assert mine["amount"] == "86666.66"


async def test_bad_absences_are_refused_with_problems(goals):
    """Overlaps are 409, wrong kinds and reversed dates 422, other orgs' members 404."""
    s = await seed(goals)
    me = s.members[0]["id"]
    await _absent(goals, me)
    c, admin = goals.client, goals.as_admin()
    overlap = await c.post(f"/v1/members/{me}/absences", json=LEAVE, headers=admin)
    assert overlap.status_code == 409 and overlap.json()["absence_ids"]
    kind = await c.post(f"/v1/members/{me}/absences", json={**LEAVE, "kind": "x"}, headers=admin)
    assert kind.status_code == 422
    backwards = {"starts_on": "2030-03-02", "ends_on": "2030-03-01", "kind": "pto"}
    r = await c.post(f"/v1/members/{me}/absences", json=backwards, headers=admin)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem")
    rep = goals.as_rep(me, team=s.team_id)
    r = await c.post(f"/v1/members/{me}/absences", json={**LEAVE, "kind": "pto"}, headers=rep)
    assert r.status_code == 403
    bad = await c.put(f"/v1/teams/{s.team_id}/relief-policy", json={"absorb": "me"}, headers=admin)
    assert bad.status_code == 422


async def _joiner(g: Goals, s: Seeded, schedule=None, starts_on="2030-02-01") -> dict:
    r = await g.client.post(
        f"/v1/teams/{s.team_id}/members",
        json={
            "name": "Late",
            "email": "late@example.com",
            "starts_on": starts_on,
            **({"ramp_schedule": schedule} if schedule is not None else {}),
        },
        headers=g.as_admin(),
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _join(g: Goals, s: Seeded, member_id: str, fund_from: str):
    return await g.client.post(
        f"/v1/teams/{s.team_id}/plans/{s.period['id']}/joiners",
        json={"member_id": member_id, "fund_from": fund_from},
        headers=g.as_manager(s.team_id),
    )


async def test_a_late_joiner_with_a_ramp_gets_a_prorated_target_raising_the_total(goals):
    """From 1 Feb at 0.5 for a month, then 1: (28 x 0.5 + 31) / 90 = half of a full share."""
    s = await seed(goals)
    late = await _joiner(goals, s, ["0.5", "1"])
    assert late["ramp_schedule"] == ["0.5", "1"]
    r = await _join(goals, s, late["id"], "team_total")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["target"]["amount"] == "50000.00" and body["plan_target"] == "350000.00"
    assert body["target"]["derivation"]["method"] == "joiner"
    plan = await _plan(goals, s)
    assert _sum(plan["targets"]) == Decimal("350000.00")
    again = await _join(goals, s, late["id"], "team_total")
    assert again.status_code == 409


async def test_a_joiner_funded_by_the_others_keeps_the_total(goals):
    """fund_from=others takes the amount from the others in proportion to their targets."""
    s = await seed(goals)
    late = await _joiner(goals, s, ["0.5", "1"])
    r = await _join(goals, s, late["id"], "others")
    assert r.status_code == 201, r.text
    assert len(r.json()["changed_targets"]) == 3
    plan = await _plan(goals, s)
    assert plan["target"] == "300000.00" and _sum(plan["targets"]) == Decimal("300000.00")
    others = sorted(t["amount"] for t in plan["targets"] if t["member_id"] != late["id"])
    assert others == ["83333.33", "83333.33", "83333.34"]


async def test_a_joiner_from_an_empty_pool_or_a_draft_plan_is_refused(goals):
    """The pool must hold the amount; a draft plan is allocated instead."""
    s = await seed(goals)
    late = await _joiner(goals, s)
    r = await _join(goals, s, late["id"], "pool")
    assert r.status_code == 409 and "unassigned" in r.json()
    bad = await _join(goals, s, late["id"], "thin_air")
    assert bad.status_code == 422
    draft = await seed(goals, publish=False)
    other = await _joiner(goals, draft)
    assert (await _join(goals, draft, other["id"], "team_total")).status_code == 409


async def test_capacity_allocation_weighs_the_ramp_schedule_over_the_period(goals):
    """A rep at 0 in January and 1 after works 59 of 90 days: weight 59/90 against 1."""
    s = await seed(goals, n=1, publish=False, target="149000.00")
    await _joiner(goals, s, ["0", "1"], starts_on="2030-01-01")
    base = f"/v1/teams/{s.team_id}/plans/{s.period['id']}"
    r = await goals.client.post(
        f"{base}/allocation", json={"method": "capacity"}, headers=goals.as_admin()
    )
    assert r.status_code == 200, r.text
    amounts = sorted(Decimal(t["amount"]) for t in r.json()["targets"])
    # 149000 x 59/149 and 149000 x 90/149.
    assert amounts == [Decimal("59000.00"), Decimal("90000.00")]


async def test_ramp_schedules_are_validated(goals):
    """Steps outside 0..1 are 422."""
    s = await seed(goals, n=1)
    r = await goals.client.post(
        f"/v1/teams/{s.team_id}/members",
        json={"name": "X", "email": "x@example.com", "ramp_schedule": ["1.5"]},
        headers=goals.as_admin(),
    )
    assert r.status_code == 422


async def test_relief_and_joiner_on_both_databases(goals_db):
    """The pool path end to end on SQLite and PostgreSQL: relief in, joiner out, rows stored."""
    g = goals_db
    s = await seed(g)
    await _policy(g, s, "pool")
    await _absent(g, s.members[0]["id"], {**LEAVE, "ends_on": "2030-03-31"})
    plan = await _plan(g, s)
    pooled = Decimal(plan["unassigned"])
    assert pooled > 0
    late = await _joiner(g, s, ["0.1"], starts_on="2030-03-01")
    r = await _join(g, s, late["id"], "pool")
    assert r.status_code == 201, r.text
    plan = await _plan(g, s)
    assert plan["target"] == "300000.00"
    assert _sum(plan["targets"]) + Decimal(plan["unassigned"]) == Decimal("300000.00")
    async with g.runtime.engine.connect() as conn:
        count = (await conn.execute(sa.text("select count(*) from absence"))).scalar_one()
    assert count == 1


async def test_a_manager_assigns_the_unassigned_line_to_a_rep(goals):
    """Pooled relief moves onto a target exactly; more than the pool holds is a conflict."""
    s = await seed(goals)
    await _policy(goals, s, "pool")
    await _absent(goals, s.members[0]["id"])
    url = f"/v1/teams/{s.team_id}/plans/{s.period['id']}/unassigned-assignments"
    other = s.members[1]["id"]
    too_much = await goals.client.post(
        url, json={"member_id": other, "amount": "13333.34"}, headers=goals.as_admin()
    )
    assert too_much.status_code == 409
    r = await goals.client.post(
        url, json={"member_id": other, "amount": "13333.33"}, headers=goals.as_admin()
    )
    assert r.status_code == 201, r.text
    assert r.json()["target"]["amount"] == "113333.33" and r.json()["unassigned"] == "0.00"
    plan = await _plan(goals, s)
    assert plan["target"] == "300000.00" and _sum(plan["targets"]) == Decimal("300000.00")


async def test_a_targets_schedule_adds_up_by_month_and_by_week(goals):
    """Slices follow the calendar and the rep's absence, and always sum to the target."""
    s = await seed(goals)
    me = s.members[0]["id"]
    await _policy(goals, s, "pool", min_days=100)
    await _absent(goals, me, {"starts_on": "2030-02-01", "ends_on": "2030-02-28", "kind": "pto"})
    target = s.target_of(me)
    url = f"/v1/targets/{target['id']}/schedule"
    months = (await goals.client.get(url, headers=goals.as_rep(me, team=s.team_id))).json()
    assert [x["amount"] for x in months["slices"]] == ["50000.00", "0.00", "50000.00"]
    weeks = (await goals.client.get(url, params={"grain": "week"}, headers=goals.as_admin())).json()
    assert _sum(weeks["slices"]) == Decimal("100000.00") and len(weeks["slices"]) == 13
    bad = await goals.client.get(url, params={"grain": "day"}, headers=goals.as_admin())
    assert bad.status_code == 422


async def test_an_absence_recorded_before_publishing_is_relieved_at_publish(goals):
    """Leave known in advance relieves the rep once the plan is published, exactly once."""
    s = await seed(goals, publish=False)
    me = s.members[0]["id"]
    absence = await _absent(goals, me)
    assert absence["reliefs"] == []
    base = f"/v1/teams/{s.team_id}/plans/{s.period['id']}"
    r = await goals.client.post(f"{base}/publish", headers=goals.as_admin())
    assert r.status_code == 200, r.text
    plan = await _plan(goals, s)
    mine = next(t for t in plan["targets"] if t["member_id"] == me)
    assert mine["amount"] == "86666.67" and plan["target"] == "286666.67"
    listed = await goals.client.get(f"/v1/members/{me}/absences", headers=goals.as_admin())
    assert listed.json()["items"][0]["reliefs"][0]["relief"] == "13333.33"
