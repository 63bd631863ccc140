"""Every goals route answers 401 without a token, 404 to another org, 403 to a rep who may not."""

from __future__ import annotations

import uuid

import pytest

from tests.harness import as_admin
from tests.integration.goals.conftest import seed

pytestmark = pytest.mark.integration


def _routes(s, rebalance_id: str) -> list[tuple[str, str, dict | None, bool]]:
    """(method, path, body, rep_may) for every route, with real ids of the seeded org."""
    team, member, period = s.team_id, s.members[0]["id"], s.period["id"]
    target = s.target_of(member)["id"]
    plan = f"/v1/teams/{team}/plans/{period}"
    return [
        ("POST", "/v1/teams", {"name": "x", "currency": "EUR", "manager_id": member}, False),
        ("GET", f"/v1/teams/{team}", None, True),
        ("PATCH", f"/v1/teams/{team}", {"name": "y"}, False),
        ("POST", f"/v1/teams/{team}/members", {"name": "n", "email": "n@x.io"}, False),
        ("GET", f"/v1/teams/{team}/members", None, True),
        ("GET", f"/v1/members/{member}", None, True),
        ("PATCH", f"/v1/members/{member}", {"name": "z"}, False),
        ("DELETE", f"/v1/members/{member}", None, False),
        (
            "POST",
            f"/v1/members/{member}/results",
            {
                "period_name": "p",
                "starts_on": "2029-01-01",
                "ends_on": "2029-03-31",
                "achieved": "1",
            },
            False,
        ),
        ("GET", f"/v1/members/{member}/results", None, True),
        (
            "POST",
            "/v1/periods",
            {"name": "p", "starts_on": "2031-01-01", "ends_on": "2031-01-31"},
            False,
        ),
        ("GET", f"/v1/periods/{period}", None, True),
        ("PUT", plan, {"target": "1.00"}, False),
        ("GET", plan, None, True),
        ("POST", f"{plan}/allocation", {"method": "equal", "dry_run": True}, False),
        ("POST", f"{plan}/publish", None, False),
        ("GET", f"/v1/targets/{target}", None, True),
        ("PATCH", f"/v1/targets/{target}", {"amount": "1", "reason": "r"}, False),
        ("GET", f"/v1/targets/{target}/history", None, True),
        ("POST", f"/v1/targets/{target}/acknowledgement", None, True),
        ("PUT", f"/v1/teams/{team}/rebalance-policy", {"mode": "off"}, False),
        ("GET", f"/v1/teams/{team}/rebalance-policy", None, True),
        ("GET", f"/v1/teams/{team}/rebalances", None, False),
        # A rep offered uplift may read the round and answer their own offer (test_offers.py).
        ("GET", f"/v1/rebalances/{rebalance_id}", None, True),
        (
            "POST",
            f"/v1/rebalances/{rebalance_id}/offers/{s.members[0]['id']}/acceptance",
            {"amount": "1.00"},
            True,
        ),
        ("POST", f"/v1/rebalances/{rebalance_id}/approval", None, False),
        ("POST", f"/v1/rebalances/{rebalance_id}/rejection", None, False),
    ]


async def test_every_route_refuses_a_missing_token_with_a_401_problem(goals):
    s = await seed(goals)
    for method, path, body, _ in _routes(s, str(uuid.uuid4())):
        r = await goals.client.request(method, path, json=body)
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 401


async def test_another_orgs_ids_are_404_on_every_route_with_an_id(goals):
    s = await seed(goals)
    stranger = as_admin(uuid.uuid4())
    for method, path, body, _ in _routes(s, str(uuid.uuid4())):
        if path in ("/v1/teams", "/v1/periods"):
            continue  # creates without an id of the other org
        r = await goals.client.request(method, path, json=body, headers=stranger)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["type"] == "urn:attain:problem:not-found"


async def test_a_rep_may_not_call_writing_or_manager_routes(goals):
    s = await seed(goals)
    other = s.members[1]["id"]
    rep = goals.as_rep(other, team=s.team_id)
    for method, path, body, rep_may in _routes(s, str(uuid.uuid4())):
        if rep_may:
            continue
        r = await goals.client.request(method, path, json=body, headers=rep)
        assert r.status_code == 403, (method, path, r.text)


async def test_a_manager_of_another_team_is_forbidden(goals):
    s = await seed(goals)
    outsider = goals.as_manager(uuid.uuid4())
    r = await goals.client.get(f"/v1/teams/{s.team_id}", headers=outsider)
    assert r.status_code == 403
    r = await goals.client.put(
        f"/v1/teams/{s.team_id}/plans/{s.period['id']}", json={"target": "1"}, headers=outsider
    )
    assert r.status_code == 403
    r = await goals.client.get(
        f"/v1/targets/{s.target_of(s.members[0]['id'])['id']}", headers=outsider
    )
    assert r.status_code == 404  # not their team: ids of other teams' targets do not leak


async def test_malformed_bodies_and_ids_are_422_problems_with_field_errors(goals):
    s = await seed(goals)
    admin = goals.as_admin()
    cases = [
        ("POST", "/v1/teams", {"name": "x", "currency": "euro", "manager_id": "nope"}),
        ("POST", f"/v1/teams/{s.team_id}/members", {"name": "n", "email": "not-an-email"}),
        ("POST", f"/v1/teams/{s.team_id}/members", {"name": "n", "email": "a@b.io", "ramp": "2"}),
        ("GET", "/v1/teams/not-a-uuid", None),
        ("PUT", f"/v1/teams/{s.team_id}/plans/{s.period['id']}", {"target": "-5"}),
        ("PUT", f"/v1/teams/{s.team_id}/plans/{s.period['id']}", {"target": "lots"}),
        ("POST", f"/v1/teams/{s.team_id}/plans/{s.period['id']}/allocation", {"method": "lucky"}),
        ("PUT", f"/v1/teams/{s.team_id}/rebalance-policy", {"mode": "sometimes"}),
    ]
    for method, path, body in cases:
        r = await goals.client.request(method, path, json=body, headers=admin)
        assert r.status_code == 422, (method, path, r.text)
        assert r.json()["errors"], r.text


async def test_amounts_finer_than_the_currency_are_refused(goals):
    s = await seed(goals, publish=False)
    r = await goals.client.put(
        f"/v1/teams/{s.team_id}/plans/{s.period['id']}",
        json={"target": "100.001"},
        headers=goals.as_admin(),
    )
    assert r.status_code == 422
    assert "decimals" in r.json()["detail"]
