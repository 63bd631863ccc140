"""Governed change requests, re-acknowledgement and the adjustment guard, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from services.goals.handlers.events import on_attainment_changed
from shared.events import wrap
from shared.events.performance import AttainmentChanged
from tests.integration.goals.conftest import Goals, Seeded, seed

pytestmark = pytest.mark.integration


async def outbox_types(g: Goals) -> list[str]:
    """Types of every outbox row."""
    outbox = g.runtime.plumbing.outbox
    async with g.runtime.engine.connect() as conn:
        return [r[0] for r in await conn.execute(sa.select(outbox.c.type))]


async def plan_of(g: Goals, s: Seeded) -> dict:
    """The plan as the API shows it."""
    r = await g.client.get(f"/v1/teams/{s.team_id}/plans/{s.period['id']}", headers=g.as_admin())
    return r.json()


async def ask(g: Goals, s: Seeded, member: int, amount: str, headers=None):
    """The rep (or the given caller) asks for their target to become amount."""
    m = s.members[member]["id"]
    return await g.client.post(
        f"/v1/targets/{s.target_of(m)['id']}/change-requests",
        json={"amount": amount, "reason": "Territory moved", "evidence": "memo"},
        headers=headers or g.as_rep(m, team=s.team_id),
    )


async def project(g: Goals, s: Seeded, projected: str) -> None:
    """Performance reports every rep of the team projected at this amount."""
    for m in s.members:
        event = AttainmentChanged(
            org_id=g.org,
            team_id=s.team_id,
            member_id=m["id"],
            period_id=s.period["id"],
            target=Decimal("100000.00"),
            achieved=Decimal("30000.00"),
            percent=Decimal("30"),
            expected_to_date=Decimal("33333.33"),
            projected=Decimal(projected),
            status="at_risk",
            currency="EUR",
            as_of=datetime(2030, 2, 1, tzinfo=UTC),
        )
        async with g.runtime.uow() as uow:
            await on_attainment_changed(event, wrap(event), uow)
            await uow.commit()


async def test_an_approved_request_changes_the_target_and_the_total_and_asks_for_a_new_acknowledgement(
    goals_db,
):
    g = goals_db
    s = await seed(g)
    rep = s.members[0]["id"]
    target = s.target_of(rep)["id"]
    ack = await g.client.post(
        f"/v1/targets/{target}/acknowledgement", headers=g.as_rep(rep, team=s.team_id)
    )
    assert ack.status_code == 200
    r = await ask(g, s, 0, "95000.00")
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["state"] == "pending" and req["flags"] == [] and req["approvals_needed"] == 1
    url = f"/v1/change-requests/{req['id']}/approval"
    assert (await g.client.post(url, headers=g.as_rep(rep, team=s.team_id))).status_code == 403
    done = await g.client.post(url, headers=g.as_manager(s.team_id))
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "approved"
    plan = await plan_of(g, s)
    assert plan["target"] == "295000.00"
    assert s.target_of(rep)["amount"] != "95000.00"  # the seed is a snapshot; read again
    mine = next(t for t in plan["targets"] if t["member_id"] == rep)
    assert mine["amount"] == "95000.00" and mine["reacknowledgement_due"] is True
    assert plan["not_reacknowledged"] == [rep]
    others = [t["amount"] for t in plan["targets"] if t["member_id"] != rep]
    assert others == ["100000.00", "100000.00"]
    since = (
        await g.client.get(
            f"/v1/targets/{target}/changes-since-acknowledgement",
            headers=g.as_rep(rep, team=s.team_id),
        )
    ).json()
    assert [(i["reason"], i["old"], i["new"]) for i in since["items"]] == [
        ("change_request", "100000.00", "95000.00")
    ]
    assert since["reacknowledgement_due"] is True
    types = await outbox_types(g)
    assert "attain.goals.change_requested.v1" in types
    assert "attain.goals.change_request_approved.v1" in types
    await g.client.post(
        f"/v1/targets/{target}/acknowledgement", headers=g.as_rep(rep, team=s.team_id)
    )
    assert (await plan_of(g, s))["not_reacknowledged"] == []


async def test_any_change_path_clears_the_acknowledgement(goals_db):
    """A manual edit that re-spreads clears every acknowledgement it touches."""
    g = goals_db
    s = await seed(g)
    for m in s.members:
        t = s.target_of(m["id"])["id"]
        await g.client.post(
            f"/v1/targets/{t}/acknowledgement", headers=g.as_rep(m["id"], team=s.team_id)
        )
    edited = s.target_of(s.members[0]["id"])["id"]
    r = await g.client.patch(
        f"/v1/targets/{edited}",
        json={"amount": "110000.00", "reason": "Acme"},
        headers=g.as_admin(),
    )
    assert r.status_code == 200, r.text
    plan = await plan_of(g, s)
    assert sorted(plan["not_reacknowledged"]) == sorted(m["id"] for m in s.members)


async def test_limits_and_notice_refuse_with_409_naming_the_reason(goals_db):
    g = goals_db
    s = await seed(g)
    policy = f"/v1/teams/{s.team_id}/change-policy"
    assert (await g.client.get(policy, headers=g.as_admin())).json()["version"] == 0
    r = await g.client.put(
        policy,
        json={"max_changes_per_rep_per_period": 1, "second_approver_above_pct": "10"},
        headers=g.as_manager(s.team_id),
    )
    assert r.status_code == 200 and r.json()["max_changes_per_rep_per_period"] == 1
    first = await ask(g, s, 0, "98000.00")
    assert first.status_code == 201
    again = await ask(g, s, 0, "97000.00")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["reason"] == "change_limit"
    # A refusal needs a rationale, and a refused request no longer counts.
    refuse = f"/v1/change-requests/{first.json()['id']}/rejection"
    assert (
        await g.client.post(refuse, json={}, headers=g.as_manager(s.team_id))
    ).status_code == 422
    no = await g.client.post(refuse, json={"rationale": "Not structural"}, headers=g.as_admin())
    assert no.status_code == 200 and no.json()["state"] == "rejected"
    assert (await ask(g, s, 0, "97000.00")).status_code == 201
    # Another rep's target does not exist for a rep; a rep cannot set the policy.
    other = s.target_of(s.members[1]["id"])["id"]
    stranger = await g.client.post(
        f"/v1/targets/{other}/change-requests",
        json={"amount": "1.00", "reason": "x"},
        headers=g.as_rep(s.members[0]["id"], team=s.team_id),
    )
    assert stranger.status_code == 404
    rep_put = await g.client.put(
        policy, json={}, headers=g.as_rep(s.members[0]["id"], team=s.team_id)
    )
    assert rep_put.status_code == 403
    listed = await g.client.get(
        f"/v1/teams/{s.team_id}/change-requests?state=pending&limit=1", headers=g.as_admin()
    )
    assert [i["state"] for i in listed.json()["items"]] == ["pending"]
    url = f"/v1/teams/{s.team_id}/change-requests?limit=1"
    page = (await g.client.get(url, headers=g.as_admin())).json()
    rest = (await g.client.get(f"{url}&cursor={page['next_cursor']}", headers=g.as_admin())).json()
    assert [i["state"] for i in page["items"] + rest["items"]] == ["rejected", "pending"]
    mine = await g.client.get(
        f"/v1/teams/{s.team_id}/change-requests",
        headers=g.as_rep(s.members[1]["id"], team=s.team_id),
    )
    assert mine.json()["items"] == []  # a rep sees only the requests about them


async def test_a_request_without_the_notice_the_team_asks_for_is_409(goals_db):
    g = goals_db
    today = datetime.now(UTC).date()
    s = await seed(
        g,
        starts_on=str(today - timedelta(days=20)),
        ends_on=str(today + timedelta(days=5)),
    )
    policy = f"/v1/teams/{s.team_id}/change-policy"
    await g.client.put(policy, json={"notice_days": 7}, headers=g.as_admin())
    late = await ask(g, s, 1, "97000.00")
    assert late.status_code == 409 and late.json()["reason"] == "notice"
    await g.client.put(policy, json={"notice_days": 5}, headers=g.as_admin())
    assert (await ask(g, s, 1, "97000.00")).status_code == 201


async def test_a_big_change_needs_two_distinct_approvers_one_of_them_senior(goals_db):
    g = goals_db
    s = await seed(g)
    req = (await ask(g, s, 0, "50000.00")).json()
    assert req["flags"] == ["above_threshold"] and req["approvals_needed"] == 2
    url = f"/v1/change-requests/{req['id']}/approval"
    manager = g.as_manager(s.team_id, sub=uuid.uuid4())
    one = await g.client.post(url, headers=manager)
    assert one.status_code == 200 and one.json()["state"] == "pending"
    assert (await g.client.post(url, headers=manager)).status_code == 409  # not twice
    # Another manager of the same team is not senior: refused, nothing changes.
    plain = await g.client.post(url, headers=g.as_manager(s.team_id, sub=uuid.uuid4()))
    assert plain.status_code == 403
    assert (await plan_of(g, s))["target"] == "300000.00"
    two = await g.client.post(url, headers=g.as_admin())
    assert two.status_code == 200 and two.json()["state"] == "approved"
    assert [a["senior"] for a in two.json()["approvals"]] == [False, True]
    assert (await plan_of(g, s))["target"] == "250000.00"


async def test_the_requester_never_approves_their_own_request(goals_db):
    g = goals_db
    s = await seed(g)
    me = uuid.uuid4()
    mine = g.as_manager(s.team_id, sub=me)
    req = (await ask(g, s, 1, "99000.00", headers=mine)).json()
    assert req["requested_by"] == str(me)
    url = f"/v1/change-requests/{req['id']}/approval"
    assert (await g.client.post(url, headers=mine)).status_code == 403
    assert (await g.client.post(url, headers=g.as_admin())).json()["state"] == "approved"
    assert (await g.client.post(url, headers=g.as_admin())).status_code == 409  # decided


async def test_an_approval_on_a_target_changed_since_the_request_is_409(goals_db):
    g = goals_db
    s = await seed(g)
    req = (await ask(g, s, 0, "99000.00")).json()
    target = s.target_of(s.members[0]["id"])["id"]
    await g.client.patch(
        f"/v1/targets/{target}", json={"amount": "101000.00", "reason": "x"}, headers=g.as_admin()
    )
    r = await g.client.post(f"/v1/change-requests/{req['id']}/approval", headers=g.as_admin())
    assert r.status_code == 409 and r.json()["reason"] == "target_changed"


async def test_a_manual_edit_that_lifts_the_team_across_100_percent_waits_for_a_senior(goals_db):
    g = goals_db
    s = await seed(g)
    await project(g, s, "90000.00")  # team projected 270000 against 300000: 90 %
    rep = s.members[0]["id"]
    target = s.target_of(rep)["id"]
    manager = g.as_manager(s.team_id)
    body = {"amount": "60000.00", "reason": "Relief", "team_total_changes": True}
    held = await g.client.patch(f"/v1/targets/{target}", json=body, headers=manager)
    assert held.status_code == 202, held.text
    req = held.json()
    assert req["origin"] == "manual_edit" and req["flags"] == ["manager_incentive"]
    assert (await plan_of(g, s))["target"] == "300000.00"  # nothing moved yet
    url = f"/v1/change-requests/{req['id']}/approval"
    assert (await g.client.post(url, headers=manager)).status_code == 403  # the editor
    profile_url = f"/v1/teams/{s.team_id}/adjustment-profile?period_id={s.period['id']}"
    waiting = (await g.client.get(profile_url, headers=g.as_admin())).json()
    assert [f["status"] for f in waiting["flagged"]] == ["pending"]
    ok = await g.client.post(url, headers=g.as_admin())
    assert ok.status_code == 200 and ok.json()["state"] == "approved"
    assert (await plan_of(g, s))["target"] == "260000.00"
    history = (await g.client.get(f"/v1/targets/{target}/history", headers=g.as_admin())).json()
    assert history["items"][-1]["flag"] == "manager_incentive"
    profile = (await g.client.get(profile_url, headers=manager)).json()
    assert profile["relief"]["total"] == "40000.00"
    assert (
        profile["relief"]["top_share"] == "1.0000" and profile["relief"]["herfindahl"] == "1.0000"
    )
    assert [f["status"] for f in profile["flagged"]] == ["applied"]
    rep_view = await g.client.get(profile_url, headers=g.as_rep(rep, team=s.team_id))
    assert rep_view.status_code == 403


async def test_a_change_that_leaves_the_team_below_100_percent_is_not_flagged(goals_db):
    g = goals_db
    s = await seed(g)
    await project(g, s, "50000.00")  # 150000 against 300000
    target = s.target_of(s.members[0]["id"])["id"]
    body = {"amount": "90000.00", "reason": "x", "team_total_changes": True}
    r = await g.client.patch(f"/v1/targets/{target}", json=body, headers=g.as_manager(s.team_id))
    assert r.status_code == 200 and r.json()["amount"] == "90000.00"


async def test_a_refused_request_is_disputed_once_by_its_rep(goals_db):
    g = goals_db
    s = await seed(g)
    rep = s.members[0]["id"]
    req = (await ask(g, s, 0, "99000.00")).json()
    url = f"/v1/change-requests/{req['id']}/dispute"
    assert (
        await g.client.post(url, headers=g.as_rep(rep, team=s.team_id))
    ).status_code == 409  # pending
    await g.client.post(
        f"/v1/change-requests/{req['id']}/rejection",
        json={"rationale": "Structural changes only"},
        headers=g.as_manager(s.team_id),
    )
    assert (await g.client.post(url, headers=g.as_manager(s.team_id))).status_code == 403
    r = await g.client.post(url, headers=g.as_rep(rep, team=s.team_id))
    assert r.status_code == 202, r.text
    assert r.json()["change_request"]["dispute_id"] == r.json()["dispute_id"]
    assert "attain.goals.change_request_disputed.v1" in await outbox_types(g)
    assert (await g.client.post(url, headers=g.as_rep(rep, team=s.team_id))).status_code == 409


async def test_a_manager_of_the_team_above_is_a_senior_second_approver(goals_db):
    g = goals_db
    s = await seed(g)
    region = (
        await g.client.post(
            "/v1/teams",
            json={"name": "Region", "currency": "EUR", "manager_id": str(uuid.uuid4())},
            headers=g.as_admin(),
        )
    ).json()
    r = await g.client.patch(
        f"/v1/teams/{s.team_id}", json={"parent_team_id": region["id"]}, headers=g.as_admin()
    )
    assert r.status_code == 200, r.text
    req = (await ask(g, s, 0, "50000.00")).json()
    url = f"/v1/change-requests/{req['id']}/approval"
    await g.client.post(url, headers=g.as_manager(s.team_id))
    done = await g.client.post(url, headers=g.as_manager(region["id"]))
    assert done.status_code == 200 and done.json()["state"] == "approved"
    assert [a["senior"] for a in done.json()["approvals"]] == [False, True]


async def test_an_admins_relief_that_lifts_the_team_is_applied_and_flagged_in_the_profile(
    goals_db,
):
    g = goals_db
    s = await seed(g)
    await project(g, s, "96000.00")  # 288000 against 300000
    rep = s.members[0]["id"]
    r = await g.client.post(
        f"/v1/members/{rep}/absences",
        json={"starts_on": "2030-02-01", "ends_on": "2030-02-28", "kind": "leave"},
        headers=g.as_admin(),
    )
    assert r.status_code == 201, r.text
    plan = await plan_of(g, s)
    assert Decimal(plan["target"]) < Decimal("288000")  # absorb nobody: the total dropped
    url = f"/v1/teams/{s.team_id}/adjustment-profile?period_id={s.period['id']}"
    profile = (await g.client.get(url, headers=g.as_admin())).json()
    [flagged] = profile["flagged"]
    assert flagged["reason"] == "relief" and flagged["status"] == "applied"
    assert flagged["member_id"] == rep
    assert [m["member_id"] for m in profile["relief"]["members"]] == [rep]
