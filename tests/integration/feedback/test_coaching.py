"""1:1s with an agenda built from data, notes with visibility, action items with a status."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select

from services.feedback.handlers import events as reactions
from services.feedback.handlers.coaching import announce_overdue_action_items, proposed_time
from services.feedback.main import create_app
from shared.events import feedback as events
from shared.events import wrap
from shared.events.goals import TargetChanged
from shared.events.performance import (
    AttainmentChanged,
    MemberShortfall,
    ShortfallRecovered,
    TeamShortfallsDetected,
)
from tests.harness import as_admin
from tests.integration.feedback.conftest import Team, seed_team, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture
async def app(db_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, object, Team]]:
    """A feedback app on SQLite and on PostgreSQL, with a seeded team."""
    application = create_app(settings_for(db_url))
    runtime = application.state.runtime
    await runtime.create_schema()
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    async with (
        LifespanManager(application),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        yield client, runtime, await seed_team(runtime)


async def outbox_types(runtime) -> list[str]:
    """The types of the events written to the outbox, oldest first."""
    table = runtime.plumbing.outbox
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(select(table.c.type).order_by(table.c.created_at))
        return [r[0] for r in rows]


def team_shortfall(team: Team, member: uuid.UUID, *, period_id=None, shortfall_id=None):
    """A team evaluation naming one newly struggling rep."""
    now = datetime.now(UTC)
    return TeamShortfallsDetected(
        org_id=team.org,
        team_id=team.id,
        evaluation_id=uuid.uuid4(),
        period_id=period_id or uuid.uuid4(),
        currency="EUR",
        as_of=now,
        period_ends_at=now + timedelta(days=40),
        shortfalls=[
            MemberShortfall(
                shortfall_id=shortfall_id or uuid.uuid4(),
                member_id=member,
                episode=1,
                shortfall=Decimal("4200.00"),
                new=True,
            )
        ],
        standings=[],
    )


def attainment(team: Team, member: uuid.UUID, period_id: uuid.UUID, status: str, at=None):
    """An attainment fact for a rep with the given status."""
    return AttainmentChanged(
        org_id=team.org,
        team_id=team.id,
        member_id=member,
        period_id=period_id,
        target=Decimal("10000.00"),
        achieved=Decimal("1000.00"),
        percent=Decimal("10"),
        expected_to_date=Decimal("3000.00"),
        projected=Decimal("3300.00"),
        status=status,
        currency="EUR",
        as_of=at or datetime.now(UTC),
    )


def target_changed(team: Team, member: uuid.UUID, period_id: uuid.UUID, version: int = 2):
    """A rebalance lowered the rep's target."""
    return TargetChanged(
        org_id=team.org,
        team_id=team.id,
        target_id=uuid.uuid4(),
        member_id=member,
        period_id=period_id,
        old_amount=Decimal("10000.00"),
        new_amount=Decimal("8000.00"),
        currency="EUR",
        version=version,
        reason="rebalance",
    )


async def deliver(runtime, handler, event, envelope=None) -> None:
    """Apply a reaction in its own transaction, as the consumer would."""
    async with runtime.uow() as uow:
        await handler(event, envelope or wrap(event), uow)
        await uow.commit()


async def test_a_shortfall_proposes_one_1on1_whose_agenda_shows_the_shortfall(app):
    """A shortfall check-in proposes the rep's next 1:1 once; its agenda shows what happened."""
    client, runtime, team = app
    rep = team.reps[0]
    fact = team_shortfall(team, rep)
    await deliver(runtime, reactions.on_team_shortfalls_detected, fact)
    # A redelivery under a new envelope (a replay) proposes nothing more.
    await deliver(runtime, reactions.on_team_shortfalls_detected, fact)
    period = fact.period_id
    await deliver(
        runtime, reactions.on_attainment_changed, attainment(team, rep, period, "at_risk")
    )
    moved = attainment(team, rep, period, "struggling")
    await deliver(runtime, reactions.on_attainment_changed, moved)
    # The same status again is no agenda material.
    await deliver(
        runtime, reactions.on_attainment_changed, attainment(team, rep, period, "struggling")
    )
    change = target_changed(team, rep, period)
    envelope = wrap(change)
    await deliver(runtime, reactions.on_target_changed, change, envelope)
    await deliver(runtime, reactions.on_target_changed, change, envelope)
    intel = {"team_id": str(team.id), "title": "Rival cuts prices", "body": "20 % off", "tags": []}
    assert (
        await client.post(
            "/v1/intel", json=intel | {"kind": "competitor"}, headers=team.as_rep(team.reps[0])
        )
    ).status_code == 201

    listed = await client.get(f"/v1/members/{rep}/one-on-ones", headers=team.as_manager())
    assert listed.status_code == 200, listed.text
    [proposal] = listed.json()["items"]
    assert proposal["status"] == "proposed"
    assert proposal["shortfall_id"] == str(fact.shortfalls[0].shortfall_id)
    assert datetime.fromisoformat(proposal["scheduled_at"]) == proposed_time(datetime.now(UTC))
    assert events.OneOnOneProposed.TYPE in await outbox_types(runtime)

    agenda = await client.get(
        f"/v1/one-on-ones/{proposal['id']}/agenda", headers=team.as_rep(team.reps[0])
    )
    assert agenda.status_code == 200, agenda.text
    body = agenda.json()
    assert body["since"] is None
    [check_in] = body["open_check_ins"]
    assert "4200.00 EUR" in check_in["body"]
    assert [p["details"]["status"] for p in body["pace_changes"]] == ["at_risk", "struggling"]
    assert [t["details"]["new_amount"] for t in body["target_changes"]] == ["8000.00"]
    assert [i["title"] for i in body["intel_shared"]] == ["Rival cuts prices"]
    # A teammate sees neither the 1:1 nor its agenda.
    assert (
        await client.get(
            f"/v1/one-on-ones/{proposal['id']}/agenda", headers=team.as_rep(team.reps[1])
        )
    ).status_code == 404
    other_org = as_admin(uuid.uuid4())
    assert (
        await client.get(f"/v1/one-on-ones/{proposal['id']}", headers=other_org)
    ).status_code == 404


async def test_a_new_shortfall_does_not_propose_a_second_1on1_while_one_is_coming_up(app):
    """With a 1:1 already scheduled, a shortfall adds to its agenda instead of proposing one."""
    client, runtime, team = app
    rep = team.reps[1]
    soon = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    created = await client.post(
        f"/v1/members/{rep}/one-on-ones", json={"scheduled_at": soon}, headers=team.as_manager()
    )
    assert created.status_code == 201, created.text
    await deliver(runtime, reactions.on_team_shortfalls_detected, team_shortfall(team, rep))
    items = (await client.get(f"/v1/members/{rep}/one-on-ones", headers=team.as_manager())).json()[
        "items"
    ]
    assert [i["status"] for i in items] == ["scheduled"]
    agenda = (
        await client.get(f"/v1/one-on-ones/{items[0]['id']}/agenda", headers=team.as_manager())
    ).json()
    assert len(agenda["open_check_ins"]) == 1


async def test_the_rep_does_not_see_notes_meant_for_the_manager_only(app):
    """Shared notes are seen by the rep; manager-only notes by the manager alone."""
    client, _, team = app
    when = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    url = f"/v1/members/{team.reps[0]}/one-on-ones"
    assert (
        await client.post(url, json={"scheduled_at": when}, headers=team.as_rep(team.reps[0]))
    ).status_code == 403
    assert (
        await client.post(
            url, json={"scheduled_at": "2030-01-01T09:00:00"}, headers=team.as_manager()
        )
    ).status_code == 422
    one = (
        await client.post(
            url, json={"scheduled_at": when, "cadence": "biweekly"}, headers=team.as_manager()
        )
    ).json()
    notes = f"/v1/one-on-ones/{one['id']}/notes"
    shared = {"body": "Two deals stuck at legal", "visibility": "shared"}
    private = {"body": "Consider a PIP if no progress", "visibility": "manager_only"}
    assert (await client.post(notes, json=shared, headers=team.as_manager())).status_code == 201
    assert (await client.post(notes, json=private, headers=team.as_manager())).status_code == 201
    assert (
        await client.post(notes, json=private, headers=team.as_rep(team.reps[0]))
    ).status_code == 403
    assert (
        await client.post(
            notes,
            json={"body": "Thanks", "visibility": "shared"},
            headers=team.as_rep(team.reps[0]),
        )
    ).status_code == 201
    assert (
        await client.post(
            notes, json={"body": "x", "visibility": "public"}, headers=team.as_manager()
        )
    ).status_code == 422

    as_rep = (
        await client.get(f"/v1/one-on-ones/{one['id']}", headers=team.as_rep(team.reps[0]))
    ).json()
    as_boss = (await client.get(f"/v1/one-on-ones/{one['id']}", headers=team.as_manager())).json()
    assert [n["body"] for n in as_rep["notes"]] == ["Two deals stuck at legal", "Thanks"]
    assert len(as_boss["notes"]) == 3
    assert (
        await client.post(notes, json=shared, headers=team.as_rep(team.reps[1]))
    ).status_code == 404


async def test_action_items_have_a_status_and_an_overdue_item_is_announced_once(app):
    """Action items from 1:1s and meetings get a status; an overdue one is announced once."""
    client, runtime, team = app
    when = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    one = (
        await client.post(
            f"/v1/members/{team.reps[0]}/one-on-ones",
            json={"scheduled_at": when},
            headers=team.as_manager(),
        )
    ).json()
    yesterday = (date.today() - timedelta(days=2)).isoformat()
    note = {
        "body": "Follow-ups",
        "action_items": [
            {"description": "Call ACME", "owner_id": str(team.reps[0]), "due_on": yesterday},
            {"description": "Review pricing", "owner_id": str(team.manager)},
        ],
    }
    stranger = {"body": "x", "action_items": [{"description": "y", "owner_id": str(team.reps[1])}]}
    assert (
        await client.post(
            f"/v1/one-on-ones/{one['id']}/notes", json=stranger, headers=team.as_manager()
        )
    ).status_code == 422
    created = await client.post(
        f"/v1/one-on-ones/{one['id']}/notes", json=note, headers=team.as_manager()
    )
    assert created.status_code == 201, created.text
    call, review = created.json()["action_items"]
    assert call["status"] == "open" and call["overdue"] is True and review["overdue"] is False

    meeting = (
        await client.post(
            f"/v1/teams/{team.id}/meetings",
            json={"title": "Weekly", "scheduled_at": when},
            headers=team.as_manager(),
        )
    ).json()
    meeting_note = {
        "body": "Pipeline",
        "action_items": [
            {"description": "Update CRM", "owner_id": str(team.reps[1]), "due_on": yesterday}
        ],
    }
    assert (
        await client.post(
            f"/v1/meetings/{meeting['id']}/notes", json=meeting_note, headers=team.as_manager()
        )
    ).status_code == 201

    mine = (await client.get("/v1/action-items", headers=team.as_rep(team.reps[0]))).json()["items"]
    assert [i["description"] for i in mine] == ["Call ACME"]
    everyone = (
        await client.get(
            "/v1/action-items", params={"team_id": str(team.id)}, headers=team.as_manager()
        )
    ).json()["items"]
    assert {i["source"] for i in everyone} == {"one_on_one", "meeting"} and len(everyone) == 3

    assert await announce_overdue_action_items(uow_factory=runtime.uow) == 2
    assert await announce_overdue_action_items(uow_factory=runtime.uow) == 0
    assert (await outbox_types(runtime)).count(events.ActionItemOverdue.TYPE) == 2

    item_url = f"/v1/action-items/{call['id']}"
    assert (
        await client.patch(item_url, json={"status": "done"}, headers=team.as_rep(team.reps[1]))
    ).status_code == 404
    assert (
        await client.patch(item_url, json={"status": "finished"}, headers=team.as_rep(team.reps[0]))
    ).status_code == 422
    done = await client.patch(item_url, json={"status": "done"}, headers=team.as_rep(team.reps[0]))
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done" and done.json()["closed_at"] is not None
    agenda = (
        await client.get(f"/v1/one-on-ones/{one['id']}/agenda", headers=team.as_manager())
    ).json()
    assert agenda["open_action_items"] == []


async def test_a_held_1on1_and_an_answered_check_in_are_conversations(app):
    """Holding a 1:1 or answering a check-in emits conversation_held; held is final."""
    client, runtime, team = app
    shortfall = team_shortfall(team, team.reps[0])
    await deliver(runtime, reactions.on_team_shortfalls_detected, shortfall)
    [proposal] = (
        await client.get(f"/v1/members/{team.reps[0]}/one-on-ones", headers=team.as_manager())
    ).json()["items"]
    url = f"/v1/one-on-ones/{proposal['id']}"
    assert (
        await client.patch(url, json={"status": "held"}, headers=team.as_rep(team.reps[0]))
    ).status_code == 403
    held = await client.patch(url, json={"status": "held"}, headers=team.as_manager())
    assert held.status_code == 200, held.text
    assert held.json()["held_at"] is not None
    assert (
        await client.patch(url, json={"status": "scheduled"}, headers=team.as_manager())
    ).status_code == 409
    assert (
        await client.patch(url, json={"status": "later"}, headers=team.as_manager())
    ).status_code == 422

    feed = (
        await client.get("/v1/feedback", params={"kind": "check_in"}, headers=team.as_manager())
    ).json()["items"]
    answer = f"/v1/check-ins/{feed[0]['id']}/answer"
    assert (
        await client.post(answer, json={"body": "Talked"}, headers=team.as_rep(team.reps[0]))
    ).status_code == 404
    answered = await client.post(
        answer, json={"body": "Talked it through"}, headers=team.as_manager()
    )
    assert answered.status_code == 200, answered.text
    assert (
        await client.post(answer, json={"body": "again"}, headers=team.as_manager())
    ).status_code == 409
    assert (await outbox_types(runtime)).count(events.ConversationHeld.TYPE) == 2
    # Both name the open episode, so goals can tell a conversation was held in it.
    table = runtime.plumbing.outbox
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(table.c.payload).where(table.c.type == events.ConversationHeld.TYPE)
        )
        payloads = [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in rows]
    episode = {str(shortfall.shortfalls[0].shortfall_id), str(shortfall.period_id)}
    assert [{p["shortfall_id"], p["period_id"]} for p in payloads] == [episode, episode]

    # The next 1:1's agenda starts after the held one and has no open check-in left.
    later = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    nxt = (
        await client.post(
            f"/v1/members/{team.reps[0]}/one-on-ones",
            json={"scheduled_at": later},
            headers=team.as_manager(),
        )
    ).json()
    agenda = (
        await client.get(f"/v1/one-on-ones/{nxt['id']}/agenda", headers=team.as_manager())
    ).json()
    assert agenda["since"] is not None and agenda["open_check_ins"] == []


async def test_a_recovery_closes_the_episode(app):
    """shortfall_recovered marks the episode recovered (once)."""
    _, runtime, team = app
    fact = team_shortfall(team, team.reps[2])
    await deliver(runtime, reactions.on_team_shortfalls_detected, fact)
    recovered = ShortfallRecovered(
        org_id=team.org,
        team_id=team.id,
        member_id=team.reps[2],
        period_id=fact.period_id,
        shortfall_id=fact.shortfalls[0].shortfall_id,
        episode=1,
        currency="EUR",
        as_of=datetime.now(UTC),
        standings=[],
    )
    await deliver(runtime, reactions.on_shortfall_recovered, recovered)
    async with runtime.uow() as uow:
        row = await uow.coaching.episode(
            org_id=team.org, shortfall_id=fact.shortfalls[0].shortfall_id
        )
        assert row is not None and row.recovered_at is not None


async def test_the_episode_timeline_traces_conversation_actions_target_moves_and_recovery(app):
    """Each episode shows its start, first conversation, actions done, target moves, recovery."""
    client, runtime, team = app
    period = uuid.uuid4()
    rep, quiet = team.reps[0], team.reps[1]
    first = team_shortfall(team, rep, period_id=period)
    await deliver(runtime, reactions.on_team_shortfalls_detected, first)
    await deliver(
        runtime,
        reactions.on_team_shortfalls_detected,
        team_shortfall(team, quiet, period_id=period),
    )
    # Another period's episode stays off this period's timeline.
    await deliver(
        runtime, reactions.on_team_shortfalls_detected, team_shortfall(team, team.reps[2])
    )
    await deliver(runtime, reactions.on_target_changed, target_changed(team, rep, period))
    [proposal] = (
        await client.get(f"/v1/members/{rep}/one-on-ones", headers=team.as_manager())
    ).json()["items"]
    note = {"body": "Plan", "action_items": [{"description": "Call ACME", "owner_id": str(rep)}]}
    [item] = (
        await client.post(
            f"/v1/one-on-ones/{proposal['id']}/notes", json=note, headers=team.as_manager()
        )
    ).json()["action_items"]
    await client.patch(
        f"/v1/one-on-ones/{proposal['id']}", json={"status": "held"}, headers=team.as_manager()
    )
    await client.patch(
        f"/v1/action-items/{item['id']}", json={"status": "done"}, headers=team.as_rep(team.reps[0])
    )
    recovered = ShortfallRecovered(
        org_id=team.org,
        team_id=team.id,
        member_id=rep,
        period_id=period,
        shortfall_id=first.shortfalls[0].shortfall_id,
        episode=1,
        currency="EUR",
        as_of=datetime.now(UTC) + timedelta(seconds=1),
        standings=[],
    )
    await deliver(runtime, reactions.on_shortfall_recovered, recovered)

    url = f"/v1/teams/{team.id}/episodes"
    response = await client.get(url, params={"period_id": str(period)}, headers=team.as_manager())
    assert response.status_code == 200, response.text
    lines = {e["member_id"]: e for e in response.json()["items"]}
    assert set(lines) == {str(rep), str(quiet)}
    line = lines[str(rep)]
    assert line["first_conversation"]["kind"] == "one_on_one_held"
    assert line["first_conversation"]["reference_id"] == proposal["id"]
    assert line["hours_to_first_conversation"] >= 0
    assert [a["description"] for a in line["actions_done"]] == ["Call ACME"]
    assert [m["details"]["new_amount"] for m in line["target_moves"]] == ["8000.00"]
    assert line["recovered"] is True and line["shortfall"] == "4200.00"
    silent = lines[str(quiet)]
    assert silent["first_conversation"] is None and silent["recovered"] is False

    # A rep sees only their own episodes; a stranger's org sees no team.
    own = (
        await client.get(url, params={"period_id": str(period)}, headers=team.as_rep(team.reps[1]))
    ).json()
    assert [e["member_id"] for e in own["items"]] == [str(quiet)]
    assert (await client.get(url, headers=as_admin(uuid.uuid4()))).status_code == 404
    assert (
        await client.get(url, params={"period_id": "nope"}, headers=team.as_manager())
    ).status_code == 422
    everything = (await client.get(url, headers=team.as_admin())).json()["items"]
    assert len(everything) == 3


async def test_a_shortfall_that_arrives_before_its_team_is_addressed_once_the_team_is_known(
    runtime,
):
    """Topics have no order between them: a check-in opened first gets its manager later."""
    from sqlmodel import select as model_select

    from services.feedback.adapters.orm import FeedbackNote
    from shared.events.goals import TeamCreated

    team = Team(org=uuid.uuid4(), id=uuid.uuid4(), manager=uuid.uuid4(), reps=[uuid.uuid4()])
    await deliver(
        runtime, reactions.on_team_shortfalls_detected, team_shortfall(team, team.reps[0])
    )
    created = TeamCreated(
        org_id=team.org, team_id=team.id, name="Late", currency="EUR", manager_id=team.manager
    )
    await deliver(runtime, reactions.on_team_created, created)
    async with runtime.uow() as uow:
        [note] = (await uow.session.exec(model_select(FeedbackNote).where(FeedbackNote.org_id == team.org))).all()  # fmt: skip
    assert note.kind == "check_in" and note.addressee_id == team.manager
