"""Dispute routes through HTTP: every route and role, problems, and the hearing rule."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select

from shared.events import feedback as events
from tests.harness import as_admin
from tests.integration.feedback.conftest import seed_team

pytestmark = pytest.mark.integration


async def _open(client, team, *, parties=None, headers=None, **extra):
    body = {
        "team_id": str(team.id),
        "kind": "sale_credit",
        "subject": "Who closed ACME?",
        "parties": [str(p) for p in (parties or team.reps[:2])],
        "related": {"sale_id": str(uuid.uuid4())},
    } | extra
    return await client.post(
        "/v1/disputes", json=body, headers=headers or team.as_rep(team.reps[0])
    )


async def _outbox_types(runtime) -> list[str]:
    table = runtime.plumbing.outbox
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(select(table.c.type).order_by(table.c.created_at))
        return [r[0] for r in rows]


async def test_a_party_opens_a_dispute_and_dispute_opened_is_emitted(client, runtime, team):
    response = await _open(client, team)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "open"
    assert body["escalated"] is False
    assert response.headers["etag"] == '"1"'
    assert await _outbox_types(runtime) == [events.DisputeOpened.TYPE]


async def test_opening_refuses_strangers_unknown_teams_and_other_orgs(client, team):
    outsider = uuid.uuid4()
    response = await _open(client, team, parties=[team.reps[0], outsider])
    assert response.status_code == 422
    assert response.json()["not_members"] == [str(outsider)]
    assert (await _open(client, team, team_id=str(uuid.uuid4()))).status_code == 404
    other = as_admin(uuid.uuid4())
    assert (await _open(client, team, headers=other)).status_code == 404
    # A teammate may not open a dispute between two others.
    assert (await _open(client, team, headers=team.as_rep(team.reps[2]))).status_code == 403
    assert (await _open(client, team, kind="gossip")).status_code == 422
    assert (await client.post("/v1/disputes", json={})).status_code == 401


async def test_decision_is_refused_with_the_missing_parties_until_everyone_is_heard(
    client, runtime, team
):
    dispute = (await _open(client, team)).json()
    url = f"/v1/disputes/{dispute['id']}"
    decision = {"summary": "Split", "rationale": "Both worked it", "actions": []}
    refused = await client.post(f"{url}/decision", json=decision, headers=team.as_manager())
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert sorted(refused.json()["missing"]) == sorted([str(team.reps[0]), str(team.reps[1])])

    said = await client.post(
        f"{url}/statements", json={"text": "Mine"}, headers=team.as_rep(team.reps[0])
    )
    assert said.status_code == 200 and said.json()["state"] == "hearing"
    refused = await client.post(f"{url}/decision", json=decision, headers=team.as_manager())
    assert refused.json()["missing"] == [str(team.reps[1])]

    waived = await client.post(
        f"{url}/waivers",
        json={"party_id": str(team.reps[1]), "reason": "On leave"},
        headers=team.as_manager(),
    )
    assert waived.status_code == 200, waived.text
    decided = await client.post(f"{url}/decision", json=decision, headers=team.as_manager())
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "decided"
    again = await client.post(f"{url}/decision", json=decision, headers=team.as_manager())
    assert again.status_code == 409
    types = await _outbox_types(runtime)
    assert types.count(events.DisputeResolved.TYPE) == 1
    assert events.WaiverRecorded.TYPE in types


async def test_the_waived_party_finds_a_notice_in_their_feed(client, team):
    dispute = (await _open(client, team)).json()
    await client.post(
        f"/v1/disputes/{dispute['id']}/waivers",
        json={"party_id": str(team.reps[1]), "reason": "On leave"},
        headers=team.as_manager(),
    )
    feed = (await client.get("/v1/feedback", headers=team.as_rep(team.reps[1]))).json()["items"]
    assert [n["kind"] for n in feed] == ["notice"]
    assert "On leave" in feed[0]["body"]
    assert (await client.get("/v1/feedback", headers=team.as_rep(team.reps[0]))).json()[
        "items"
    ] == []


async def test_statements_stay_private_until_and_after_the_decision(client, team):
    dispute = (await _open(client, team)).json()
    url = f"/v1/disputes/{dispute['id']}"
    await client.post(
        f"{url}/statements", json={"text": "A says"}, headers=team.as_rep(team.reps[0])
    )
    await client.post(
        f"{url}/statements", json={"text": "A revised"}, headers=team.as_rep(team.reps[0])
    )
    await client.post(
        f"{url}/statements", json={"text": "B says"}, headers=team.as_rep(team.reps[1])
    )

    seen_by_a = (await client.get(url, headers=team.as_rep(team.reps[0]))).json()
    assert [s["text"] for s in seen_by_a["statements"]] == ["A says", "A revised"]
    assert seen_by_a["missing_parties"] is None
    seen_by_boss = (await client.get(url, headers=team.as_manager())).json()
    assert {s["text"] for s in seen_by_boss["statements"]} == {"A says", "A revised", "B says"}
    assert seen_by_boss["missing_parties"] == []
    assert (await client.get(url, headers=team.as_rep(team.reps[2]))).status_code == 404
    assert (await client.get(url, headers=as_admin(uuid.uuid4()))).status_code == 404

    await client.post(
        f"{url}/decision",
        json={"summary": "A keeps it", "rationale": "A sourced the lead", "actions": []},
        headers=team.as_manager(),
    )
    after = (await client.get(url, headers=team.as_rep(team.reps[1]))).json()
    assert after["decision"]["rationale"] == "A sourced the lead"
    assert [s["text"] for s in after["statements"]] == ["B says"]
    late = await client.post(
        f"{url}/statements", json={"text": "late"}, headers=team.as_rep(team.reps[1])
    )
    assert late.status_code == 409


async def test_only_parties_submit_statements_and_only_deciders_waive(client, team):
    dispute = (await _open(client, team)).json()
    url = f"/v1/disputes/{dispute['id']}"
    assert (
        await client.post(f"{url}/statements", json={"text": "x"}, headers=team.as_manager())
    ).status_code == 403
    assert (
        await client.post(
            f"{url}/statements", json={"text": "x"}, headers=team.as_rep(team.reps[2])
        )
    ).status_code == 404
    waiver = {"party_id": str(team.reps[1]), "reason": "ill"}
    assert (
        await client.post(f"{url}/waivers", json=waiver, headers=team.as_rep(team.reps[0]))
    ).status_code == 403
    not_party = {"party_id": str(team.reps[2]), "reason": "ill"}
    assert (
        await client.post(f"{url}/waivers", json=not_party, headers=team.as_manager())
    ).status_code == 422
    assert (
        await client.post(f"{url}/statements", json={"text": ""}, headers=team.as_rep(team.reps[0]))
    ).status_code == 422


async def test_a_decision_with_actions_and_every_response_closes_the_dispute(client, runtime, team):
    dispute = (await _open(client, team)).json()
    url = f"/v1/disputes/{dispute['id']}"
    for i in (0, 1):
        await client.post(
            f"{url}/statements", json={"text": "mine"}, headers=team.as_rep(team.reps[i])
        )
    sale = str(uuid.uuid4())
    decision = {
        "summary": "Split",
        "rationale": "Both worked it",
        "actions": [
            {
                "type": "reassign_sale_credit",
                "sale_id": sale,
                "to_member_id": str(team.reps[1]),
                "percent": "50",
            },
            {
                "type": "adjust_target",
                "member_id": str(team.reps[0]),
                "period_id": str(uuid.uuid4()),
                "delta": "-500.00",
            },
        ],
    }
    assert (
        await client.post(f"{url}/decision", json=decision, headers=team.as_rep(team.reps[0]))
    ).status_code == 403
    decided = await client.post(f"{url}/decision", json=decision, headers=team.as_admin())
    assert decided.status_code == 200, decided.text
    assert decided.json()["decision"]["actions"][0]["percent"] == "50"

    assert (
        await client.post(f"{url}/responses", json={"accepts": True}, headers=team.as_manager())
    ).status_code == 403
    first = await client.post(
        f"{url}/responses",
        json={"accepts": False, "comment": "I disagree"},
        headers=team.as_rep(team.reps[0]),
    )
    assert first.status_code == 200 and first.json()["state"] == "decided"
    twice = await client.post(
        f"{url}/responses", json={"accepts": True}, headers=team.as_rep(team.reps[0])
    )
    assert twice.status_code == 409
    last = await client.post(
        f"{url}/responses", json={"accepts": True}, headers=team.as_rep(team.reps[1])
    )
    assert last.json()["state"] == "closed"
    assert (await _outbox_types(runtime))[-1] == events.DisputeClosed.TYPE
    bad = await client.post(
        f"{url}/responses", json={"accepts": "yes"}, headers=team.as_rep(team.reps[1])
    )
    assert bad.status_code == 422


async def test_a_decision_refuses_actions_on_non_parties(client, team):
    dispute = (await _open(client, team)).json()
    url = f"/v1/disputes/{dispute['id']}"
    for i in (0, 1):
        await client.post(
            f"{url}/statements", json={"text": "mine"}, headers=team.as_rep(team.reps[i])
        )
    decision = {
        "summary": "x",
        "rationale": "y",
        "actions": [
            {
                "type": "adjust_target",
                "member_id": str(team.reps[2]),
                "period_id": str(uuid.uuid4()),
                "delta": "5",
            }
        ],
    }
    assert (
        await client.post(f"{url}/decision", json=decision, headers=team.as_manager())
    ).status_code == 422
    empty = {"summary": "x", "rationale": " ", "actions": []}
    assert (
        await client.post(f"{url}/decision", json=empty, headers=team.as_manager())
    ).status_code == 422


async def test_when_the_manager_is_a_party_only_an_admin_decides(client, team):
    response = await _open(
        client, team, parties=[team.reps[0], team.manager], kind="conduct", related=None
    )
    assert response.status_code == 201, response.text
    dispute = response.json()
    assert dispute["escalated"] is True
    url = f"/v1/disputes/{dispute['id']}"
    await client.post(f"{url}/statements", json={"text": "rep"}, headers=team.as_rep(team.reps[0]))
    await client.post(f"{url}/statements", json={"text": "boss"}, headers=team.as_manager())
    decision = {"summary": "x", "rationale": "y", "actions": []}
    assert (
        await client.post(f"{url}/decision", json=decision, headers=team.as_manager())
    ).status_code == 403
    assert (
        await client.post(f"{url}/decision", json=decision, headers=team.as_admin())
    ).status_code == 200


async def test_the_opener_withdraws_before_the_decision_only(client, runtime, team):
    dispute = (await _open(client, team)).json()
    url = f"/v1/disputes/{dispute['id']}"
    assert (
        await client.post(f"{url}/withdrawal", headers=team.as_rep(team.reps[1]))
    ).status_code == 403
    withdrawn = await client.post(f"{url}/withdrawal", headers=team.as_rep(team.reps[0]))
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    assert (
        await client.post(f"{url}/withdrawal", headers=team.as_rep(team.reps[0]))
    ).status_code == 409
    assert (await _outbox_types(runtime))[-1] == events.DisputeWithdrawn.TYPE


async def test_a_stale_if_match_is_refused_with_412(client, team):
    dispute = (await _open(client, team)).json()
    url = f"/v1/disputes/{dispute['id']}"
    ok = await client.post(
        f"{url}/statements",
        json={"text": "a"},
        headers=team.as_rep(team.reps[0]) | {"If-Match": '"1"'},
    )
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = await client.post(
        f"{url}/statements",
        json={"text": "b"},
        headers=team.as_rep(team.reps[0]) | {"If-Match": '"1"'},
    )
    assert stale.status_code == 412


async def test_lists_show_each_role_only_what_it_may_see(client, runtime, team):
    mine = (await _open(client, team)).json()
    others = (
        await _open(
            client, team, parties=[team.reps[1], team.reps[2]], headers=team.as_rep(team.reps[1])
        )
    ).json()
    other_team = await seed_team(runtime, org=team.org)
    elsewhere = (
        await _open(
            client,
            other_team,
            parties=other_team.reps[:1],
            headers=other_team.as_rep(other_team.reps[0]),
        )
    ).json()

    def ids(response):
        return {d["id"] for d in response.json()["items"]}

    assert ids(await client.get("/v1/disputes", headers=team.as_rep(team.reps[0]))) == {mine["id"]}
    assert ids(await client.get("/v1/disputes", headers=team.as_rep(team.reps[2]))) == {
        others["id"]
    }
    assert ids(await client.get("/v1/disputes", headers=team.as_manager())) == {
        mine["id"],
        others["id"],
    }
    assert ids(await client.get("/v1/disputes", headers=team.as_admin())) == {
        mine["id"],
        others["id"],
        elsewhere["id"],
    }
    assert ids(await client.get("/v1/disputes", headers=as_admin(uuid.uuid4()))) == set()
    filtered = await client.get(
        "/v1/disputes",
        params={"team_id": str(other_team.id), "state": "open"},
        headers=team.as_admin(),
    )
    assert ids(filtered) == {elsewhere["id"]}
    page = await client.get("/v1/disputes", params={"limit": 1}, headers=team.as_manager())
    assert len(page.json()["items"]) == 1
    rest = await client.get(
        "/v1/disputes",
        params={"limit": 1, "cursor": page.json()["next_cursor"]},
        headers=team.as_manager(),
    )
    assert ids(page) | ids(rest) == {mine["id"], others["id"]}
    assert (
        await client.get("/v1/disputes", params={"state": "lost"}, headers=team.as_manager())
    ).status_code == 422


async def test_the_audit_trail_is_for_the_manager_and_admin(client, team):
    dispute = (await _open(client, team)).json()
    url = f"/v1/disputes/{dispute['id']}"
    await client.post(
        f"{url}/statements", json={"text": "secret words"}, headers=team.as_rep(team.reps[0])
    )
    audit = await client.get(f"{url}/audit", headers=team.as_manager())
    assert audit.status_code == 200
    assert [e["action"] for e in audit.json()] == ["opened", "statement_submitted"]
    assert "secret words" not in audit.text
    assert (await client.get(f"{url}/audit", headers=team.as_admin())).status_code == 200
    assert (await client.get(f"{url}/audit", headers=team.as_rep(team.reps[0]))).status_code == 403
    assert (await client.get(f"{url}/audit", headers=team.as_rep(team.reps[2]))).status_code == 404
    assert (await client.get(f"{url}/audit", headers=as_admin(uuid.uuid4()))).status_code == 404
