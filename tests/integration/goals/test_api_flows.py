"""The goals API flows: roster, periods, results, plans, allocation, publish, targets, ledger."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.integration.goals.conftest import seed

pytestmark = pytest.mark.integration


def _sum(targets) -> Decimal:
    return sum((Decimal(t["amount"]) for t in targets), Decimal(0))


async def test_team_crud_with_list_etag_and_stale_if_match(goals):
    c, admin = goals.client, goals.as_admin()
    created = await c.post(
        "/v1/teams",
        json={"name": "Nordics", "currency": "SEK", "manager_id": str(uuid.uuid4())},
        headers=admin,
    )
    assert created.status_code == 201 and created.headers["ETag"] == '"1"'
    team = created.json()
    listed = (await c.get("/v1/teams", headers=admin)).json()
    assert [t["id"] for t in listed["items"]] == [team["id"]]
    r = await c.patch(
        f"/v1/teams/{team['id']}", json={"name": "Nordics 2"}, headers={**admin, "If-Match": '"1"'}
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    stale = await c.patch(
        f"/v1/teams/{team['id']}", json={"name": "x"}, headers={**admin, "If-Match": '"1"'}
    )
    assert stale.status_code == 412 and stale.json()["current_etag"] == '"2"'
    manager = goals.as_manager(team["id"])
    assert (await c.get("/v1/teams", headers=manager)).json()["items"][0]["id"] == team["id"]
    refused = await c.patch(
        f"/v1/teams/{team['id']}", json={"manager_id": str(uuid.uuid4())}, headers=manager
    )
    assert refused.status_code == 403


async def test_member_lifecycle_versions_and_crm_ids(goals):
    s = await seed(goals, publish=False)
    c, admin = goals.client, goals.as_admin()
    r = await c.post(
        f"/v1/teams/{s.team_id}/members",
        json={
            "name": "Grace",
            "email": "grace@example.com",
            "capacity": "0.5",
            "ramp": "0.25",
            "starts_on": "2030-01-06",
            "crm_ids": {"hubspot": "77", "salesforce": "005A", "pipedrive": "9"},
        },
        headers=goals.as_manager(s.team_id),
    )
    assert r.status_code == 201, r.text
    member = r.json()
    assert member["crm_ids"]["hubspot"] == "77" and member["capacity"] == "0.5"
    r = await c.patch(
        f"/v1/members/{member['id']}",
        json={"email": "g@example.com"},
        headers={**admin, "If-Match": '"1"'},
    )
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["ETag"] == '"2"'
    stale = await c.patch(
        f"/v1/members/{member['id']}", json={"name": "G"}, headers={**admin, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    own = await c.get(
        f"/v1/members/{member['id']}", headers=goals.as_rep(member["id"], team=s.team_id)
    )
    assert own.status_code == 200
    listed = (await c.get(f"/v1/teams/{s.team_id}/members?limit=2", headers=admin)).json()
    assert len(listed["items"]) == 2 and listed["next_cursor"]
    rest = (
        await c.get(
            f"/v1/teams/{s.team_id}/members?limit=2&cursor={listed['next_cursor']}", headers=admin
        )
    ).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    gone = await c.delete(f"/v1/members/{member['id']}", headers=admin)
    assert gone.status_code == 200 and gone.json()["member"]["active"] is False
    again = await c.delete(f"/v1/members/{member['id']}", headers=admin)
    assert again.status_code == 409
    edit_left = await c.patch(f"/v1/members/{member['id']}", json={"name": "x"}, headers=admin)
    assert edit_left.status_code == 409


async def test_periods_have_bounds_in_their_time_zone_and_checked_seasonality(goals):
    c, admin = goals.client, goals.as_admin()
    r = await c.post(
        "/v1/periods",
        json={
            "name": "Q1 Berlin",
            "starts_on": "2030-01-01",
            "ends_on": "2030-03-31",
            "timezone": "Europe/Berlin",
            "seasonality": {"1": "0.2", "2": "0.3", "3": "0.5"},
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    period = r.json()
    assert period["starts_at"] == "2029-12-31T23:00:00Z"
    assert period["ends_at"] == "2030-03-31T22:00:00Z"  # start of 1 April, summer time
    assert period["seasonality"] == {"1": "0.2", "2": "0.3", "3": "0.5"}
    assert (await c.get(f"/v1/periods/{period['id']}", headers=admin)).json() == period
    assert (await c.get("/v1/periods", headers=admin)).json()["items"] == [period]
    bad = [
        {"timezone": "Mars/Olympus"},
        {"seasonality": {"1": "0.5", "2": "0.4"}},
        {"seasonality": {"1": "0.5", "7": "0.5"}},
        {"ends_on": "2029-12-01"},
    ]
    for extra in bad:
        body = {"name": "x", "starts_on": "2030-01-01", "ends_on": "2030-03-31", **extra}
        r = await c.post("/v1/periods", json=body, headers=admin)
        assert r.status_code == 422, (extra, r.text)
    r = await c.post(
        "/v1/periods",
        json={"name": "x", "starts_on": "2030-01-01", "ends_on": "2030-01-31"},
        headers=goals.as_manager(uuid.uuid4()),
    )
    assert r.status_code == 403


async def test_historical_allocation_uses_imported_results_and_the_median_for_newcomers(goals):
    s = await seed(goals, publish=False, target="600.00")
    c, admin = goals.client, goals.as_admin()
    a, b, newcomer = (m["id"] for m in s.members)
    for member, achieved in ((a, "100.00"), (b, "300.00")):
        r = await c.post(
            f"/v1/members/{member}/results",
            json={
                "period_name": "Q4",
                "starts_on": "2029-10-01",
                "ends_on": "2029-12-31",
                "achieved": achieved,
            },
            headers=admin,
        )
        assert r.status_code == 201, r.text
    results = (
        await c.get(f"/v1/members/{a}/results", headers=goals.as_rep(a, team=s.team_id))
    ).json()
    assert results["items"][0]["achieved"] == "100.00"
    base = f"/v1/teams/{s.team_id}/plans/{s.period['id']}"
    preview = await c.post(
        f"{base}/allocation", json={"method": "historical", "dry_run": True}, headers=admin
    )
    assert preview.status_code == 200, preview.text
    amounts = {t["member_id"]: t["amount"] for t in preview.json()["targets"]}
    # Weights 100 : 300 : median 200.
    assert amounts == {a: "100.00", b: "300.00", newcomer: "200.00"}
    by_member = {t["member_id"]: t for t in preview.json()["targets"]}
    assert by_member[newcomer]["derivation"]["inputs"]["source"] == "team_median"
    stored = (await c.get(base, headers=admin)).json()
    assert stored["method"] == "equal"  # the dry run stored nothing


async def test_allocation_with_overrides_keeps_the_total_and_stores_the_derivation(goals):
    s = await seed(goals, publish=False, target="1000.00")
    c, admin = goals.client, goals.as_admin()
    first = s.members[0]["id"]
    base = f"/v1/teams/{s.team_id}/plans/{s.period['id']}"
    r = await c.post(
        f"{base}/allocation",
        json={"method": "capacity", "overrides": {first: "400.00"}},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    plan = (await c.get(base, headers=admin)).json()
    assert _sum(plan["targets"]) == Decimal("1000.00")
    mine = next(t for t in plan["targets"] if t["member_id"] == first)
    assert mine["amount"] == "400.00" and mine["derivation"]["overridden"] is True
    others = [t for t in plan["targets"] if t["member_id"] != first]
    assert sorted(t["amount"] for t in others) == ["300.00", "300.00"]
    history = (await c.get(f"/v1/targets/{mine['id']}/history", headers=admin)).json()
    reasons = [(h["reason"], h["old"], h["new"]) for h in history["items"]]
    first_share = reasons[0][2]
    assert first_share in ("333.33", "333.34")
    assert reasons == [("allocation", "0.00", first_share), ("allocation", first_share, "400.00")]
    assert [h["version"] for h in history["items"]] == [1, 2]
    too_much = await c.post(
        f"{base}/allocation", json={"method": "equal", "overrides": {first: "2000"}}, headers=admin
    )
    assert too_much.status_code == 422
    stranger = await c.post(
        f"{base}/allocation",
        json={"method": "equal", "overrides": {str(uuid.uuid4()): "1"}},
        headers=admin,
    )
    assert stranger.status_code == 422


async def test_publish_needs_an_allocation_and_happens_once(goals):
    c, admin = goals.client, goals.as_admin()
    s = await seed(goals, publish=False)
    other_period = (
        await c.post(
            "/v1/periods",
            json={"name": "Q2", "starts_on": "2030-04-01", "ends_on": "2030-06-30"},
            headers=admin,
        )
    ).json()
    base = f"/v1/teams/{s.team_id}/plans/{other_period['id']}"
    assert (await c.post(f"{base}/publish", headers=admin)).status_code == 404  # no plan yet
    assert (await c.put(base, json={"target": "10.00"}, headers=admin)).status_code == 201
    no_alloc = await c.post(f"{base}/publish", headers=admin)
    assert no_alloc.status_code == 409 and "allocate" in no_alloc.json()["detail"]
    await c.post(f"{base}/allocation", json={"method": "equal"}, headers=admin)
    stale = await c.post(f"{base}/publish", headers={**admin, "If-Match": '"1"'})
    assert stale.status_code == 412
    published = await c.post(f"{base}/publish", headers=admin)
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert (await c.post(f"{base}/publish", headers=admin)).status_code == 409
    reallocate = await c.post(f"{base}/allocation", json={"method": "equal"}, headers=admin)
    assert reallocate.status_code == 409
    retarget = await c.put(base, json={"target": "11.00"}, headers=admin)
    assert retarget.status_code == 409


async def test_plan_put_is_versioned_and_changing_the_target_needs_a_new_allocation(goals):
    s = await seed(goals, publish=False)
    c, admin = goals.client, goals.as_admin()
    base = f"/v1/teams/{s.team_id}/plans/{s.period['id']}"
    current = await c.get(base, headers=admin)
    etag = current.headers["ETag"]
    body = {
        "target": "360000.00",
        "strategy": {"summary": "Win DACH", "initiatives": ["webinars", "partners"]},
        "measures": ["10 calls a day"],
    }
    r = await c.put(base, json=body, headers={**admin, "If-Match": etag})
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["strategy"]["initiatives"] == ["webinars", "partners"]
    assert plan["method"] is None and plan["measures"] == ["10 calls a day"]
    stale = await c.put(base, json=body, headers={**admin, "If-Match": etag})
    assert stale.status_code == 412
    assert (await c.post(f"{base}/publish", headers=admin)).status_code == 409


async def test_reps_read_their_own_target_and_acknowledge_it_once(goals):
    s = await seed(goals)
    c = goals.client
    me, other = s.members[0]["id"], s.members[1]["id"]
    rep = goals.as_rep(me, team=s.team_id)
    mine, theirs = s.target_of(me)["id"], s.target_of(other)["id"]
    assert (await c.get(f"/v1/targets/{mine}", headers=rep)).json()["amount"] == "100000.00"
    assert (await c.get(f"/v1/targets/{theirs}", headers=rep)).status_code == 404
    assert (await c.get(f"/v1/targets/{theirs}/history", headers=rep)).status_code == 404
    assert (await c.post(f"/v1/targets/{theirs}/acknowledgement", headers=rep)).status_code == 404
    manager = goals.as_manager(s.team_id)
    assert (await c.post(f"/v1/targets/{mine}/acknowledgement", headers=manager)).status_code == 403
    first = await c.post(f"/v1/targets/{mine}/acknowledgement", headers=rep)
    again = await c.post(f"/v1/targets/{mine}/acknowledgement", headers=rep)
    assert first.status_code == again.status_code == 200
    assert first.json()["acknowledged_at"] == again.json()["acknowledged_at"]
    plan = (await c.get(f"/v1/teams/{s.team_id}/plans/{s.period['id']}", headers=rep)).json()
    assert plan["acknowledged"] == [me]
    assert sorted(plan["not_acknowledged"]) == sorted(m["id"] for m in s.members[1:])
    outbox = goals.runtime.plumbing.outbox
    async with goals.runtime.engine.connect() as conn:
        acks = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(outbox)
                .where(outbox.c.type == "attain.goals.target_acknowledged.v1")
            )
        ).scalar_one()
    assert acks == 1


async def test_acknowledging_a_draft_target_is_a_conflict(goals):
    s = await seed(goals, publish=False)
    me = s.members[0]["id"]
    r = await goals.client.post(
        f"/v1/targets/{s.target_of(me)['id']}/acknowledgement",
        headers=goals.as_rep(me, team=s.team_id),
    )
    assert r.status_code == 409


async def test_manual_edit_respreads_the_difference_and_records_the_ledger(goals):
    s = await seed(goals)
    c, manager = goals.client, goals.as_manager(s.team_id)
    me = s.members[0]["id"]
    target = s.target_of(me)
    r = await c.patch(
        f"/v1/targets/{target['id']}",
        json={"amount": "130000.00", "reason": "takes Acme"},
        headers={**manager, "If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.headers["ETag"] == '"2"'
    plan = (await c.get(f"/v1/teams/{s.team_id}/plans/{s.period['id']}", headers=manager)).json()
    assert _sum(plan["targets"]) == Decimal("300000.00")
    assert sorted(t["amount"] for t in plan["targets"]) == ["130000.00", "85000.00", "85000.00"]
    history = (await c.get(f"/v1/targets/{target['id']}/history", headers=manager)).json()
    last = history["items"][-1]
    assert (last["old"], last["new"], last["delta"], last["reason"], last["note"]) == (
        "100000.00",
        "130000.00",
        "30000.00",
        "manual",
        "takes Acme",
    )
    assert last["version"] == 2 and last["actor"]
    stale = await c.patch(
        f"/v1/targets/{target['id']}",
        json={"amount": "1", "reason": "x"},
        headers={**manager, "If-Match": '"1"'},
    )
    assert stale.status_code == 412


async def test_manual_edit_with_team_total_changes_moves_the_plan_target(goals):
    s = await seed(goals)
    c, admin = goals.client, goals.as_admin()
    target = s.target_of(s.members[0]["id"])
    r = await c.patch(
        f"/v1/targets/{target['id']}",
        json={"amount": "90000.00", "reason": "part-time", "team_total_changes": True},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    plan = (await c.get(f"/v1/teams/{s.team_id}/plans/{s.period['id']}", headers=admin)).json()
    assert plan["target"] == "290000.00" and _sum(plan["targets"]) == Decimal("290000.00")
