"""Reactions to goals and performance facts, and the response-window sweep."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import select

from services.feedback.adapters.orm import Dispute as DisputeRow
from services.feedback.adapters.orm import FeedbackNote
from services.feedback.handlers import events as reactions
from services.feedback.handlers.disputes import close_expired_disputes, on_change_request_disputed
from shared.events import feedback as events
from shared.events import to_kafka, wrap
from shared.events.goals import (
    ChangeRequestDisputed,
    MemberLeft,
    TargetsRebalanced,
    TeamUpdated,
    Transfer,
)
from shared.events.performance import MemberShortfall, ShortfallDetected, TeamShortfallsDetected
from tests.integration.feedback.conftest import member_joined

pytestmark = pytest.mark.integration


@dataclass
class _Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list


def shortfall(team, member=None, shortfall_id=None) -> ShortfallDetected:
    """A shortfall fact for a rep of the team."""
    now = datetime.now(UTC)
    return ShortfallDetected(
        org_id=team.org,
        team_id=team.id,
        shortfall_id=shortfall_id or uuid.uuid4(),
        member_id=member or team.reps[0],
        period_id=uuid.uuid4(),
        shortfall=Decimal("1200.00"),
        currency="EUR",
        as_of=now,
        period_ends_at=now + timedelta(days=30),
        snapshot=[],
    )


def record_of(event, offset: int = 0, envelope=None) -> _Record:
    """A Kafka record carrying the event, as the consumer would receive it."""
    message = to_kafka(envelope or wrap(event))
    return _Record(
        topic=event.topic(),
        partition=0,
        offset=offset,
        key=event.partition_key().encode(),
        value=message.value,
        headers=list(message.headers.items()),
    )


async def _check_ins(runtime) -> list[FeedbackNote]:
    async with runtime.uow() as uow:
        stmt = select(FeedbackNote).where(FeedbackNote.kind == "check_in")
        return list((await uow.session.exec(stmt)).all())


async def _outbox_types(runtime) -> list[str]:
    table = runtime.plumbing.outbox
    async with runtime.engine.connect() as conn:
        return [r[0] for r in await conn.execute(select(table.c.type))]


async def test_a_shortfall_opens_a_check_in_addressed_to_the_manager(client, runtime, team):
    event = shortfall(team)
    async with runtime.uow() as uow:
        await reactions.on_shortfall_detected(event, wrap(event), uow)
        await uow.commit()
    [note] = await _check_ins(runtime)
    assert note.member_id == team.reps[0] and note.addressee_id == team.manager
    assert note.shortfall_id == event.shortfall_id
    # The check-in also proposes the rep's next 1:1.
    assert await _outbox_types(runtime) == [
        events.CheckInOpened.TYPE,
        events.OneOnOneProposed.TYPE,
    ]
    for headers in (team.as_rep(team.reps[0]), team.as_manager()):
        listed = await client.get(
            "/v1/feedback", params={"member_id": str(team.reps[0])}, headers=headers
        )
        assert [n["kind"] for n in listed.json()["items"]] == ["check_in"]
    assert (await client.get("/v1/feedback", headers=team.as_rep(team.reps[1]))).json()[
        "items"
    ] == []


async def test_a_shortfall_delivered_twice_opens_one_check_in(runtime, team):
    event = shortfall(team)
    processor = runtime.consumer._processor
    envelope = wrap(event)
    first = await processor.process(record_of(event, 0, envelope))
    second = await processor.process(record_of(event, 1, envelope))
    assert (first.status, second.status) == ("applied", "duplicate")
    # A second event about the same shortfall episode (new event id) opens nothing either.
    again = shortfall(team, shortfall_id=event.shortfall_id)
    assert (await processor.process(record_of(again, 2))).status == "applied"
    assert len(await _check_ins(runtime)) == 1
    assert (await _outbox_types(runtime)).count(events.CheckInOpened.TYPE) == 1


def team_shortfalls(team, members, *, new=True) -> TeamShortfallsDetected:
    """One team evaluation naming these reps as newly struggling."""
    now = datetime.now(UTC)
    return TeamShortfallsDetected(
        org_id=team.org,
        team_id=team.id,
        evaluation_id=uuid.uuid4(),
        period_id=uuid.uuid4(),
        currency="EUR",
        as_of=now,
        period_ends_at=now + timedelta(days=30),
        shortfalls=[
            MemberShortfall(
                shortfall_id=uuid.uuid4(),
                member_id=m,
                episode=1,
                shortfall=Decimal("1200.00"),
                new=new,
            )
            for m in members
        ],
        standings=[],
    )


async def _notes(runtime, kind: str) -> list[FeedbackNote]:
    async with runtime.uow() as uow:
        stmt = select(FeedbackNote).where(FeedbackNote.kind == kind)
        return list((await uow.session.exec(stmt)).all())


async def test_a_team_evaluation_opens_a_check_in_per_newly_struggling_rep(runtime, team):
    processor = runtime.consumer._processor
    assert (await processor.process(record_of(team_shortfalls(team, team.reps[:1])))).status == (
        "applied"
    )
    [note] = await _check_ins(runtime)
    assert note.member_id == team.reps[0] and note.addressee_id == team.manager
    # Reps already struggling in an open episode are not new: no second check-in.
    repeat = team_shortfalls(team, team.reps[:1], new=False)
    assert (await processor.process(record_of(repeat))).status == "applied"
    assert len(await _check_ins(runtime)) == 1
    assert await _notes(runtime, "notice") == []


async def test_many_reps_struggling_at_once_give_the_manager_one_digest(runtime, team):
    reps = team.reps[:3]
    event = team_shortfalls(team, reps)
    assert (await runtime.consumer._processor.process(record_of(event))).status == "applied"
    check_ins = await _check_ins(runtime)
    assert sorted(n.member_id for n in check_ins) == sorted(reps)
    assert {n.addressee_id for n in check_ins} == {None}  # not three notifications
    [digest] = await _notes(runtime, "notice")
    assert digest.addressee_id == team.manager and digest.body.count("\n- ") == 3
    assert (await _outbox_types(runtime)).count(events.CheckInOpened.TYPE) == 3


async def test_older_member_versions_are_ignored_and_leavers_cannot_be_parties(
    client, runtime, team
):
    newer = member_joined(team, team.reps[0], version=5)
    older = member_joined(team, team.reps[0], version=3).model_copy(update={"name": "Old"})
    left = MemberLeft(
        org_id=team.org, team_id=team.id, member_id=team.reps[1], left_at=datetime.now(UTC)
    )
    moved = TeamUpdated(
        org_id=team.org, team_id=team.id, name="North", currency="EUR", manager_id=team.reps[2]
    )
    processor = runtime.consumer._processor
    for offset, event in enumerate((newer, older, left, moved)):
        assert (await processor.process(record_of(event, offset))).status == "applied"
    async with runtime.uow() as uow:
        member = await uow.directory.member(org_id=team.org, member_id=team.reps[0])
        assert (member.name, member.version) == (newer.name, 5)
    body = {
        "team_id": str(team.id),
        "kind": "other",
        "subject": "x",
        "parties": [str(team.reps[0]), str(team.reps[1])],
    }
    refused = await client.post("/v1/disputes", json=body, headers=team.as_admin())
    assert refused.status_code == 422
    assert refused.json()["not_members"] == [str(team.reps[1])]
    # The new manager is on the roster: naming them escalates the dispute.
    body["parties"] = [str(team.reps[0]), str(team.reps[2])]
    opened = await client.post("/v1/disputes", json=body, headers=team.as_admin())
    assert opened.json()["escalated"] is True


async def test_decided_disputes_close_when_the_response_window_runs_out(client, runtime, team):
    body = {
        "team_id": str(team.id),
        "kind": "other",
        "subject": "x",
        "parties": [str(team.reps[0])],
    }
    dispute = (
        await client.post("/v1/disputes", json=body, headers=team.as_rep(team.reps[0]))
    ).json()
    url = f"/v1/disputes/{dispute['id']}"
    await client.post(f"{url}/statements", json={"text": "mine"}, headers=team.as_rep(team.reps[0]))
    decision = {"summary": "x", "rationale": "y", "actions": []}
    assert (
        await client.post(f"{url}/decision", json=decision, headers=team.as_manager())
    ).status_code == 200

    assert await close_expired_disputes(uow_factory=runtime.uow, window_hours=1) == 0
    # Move the decision two hours into the past, as if time had passed.
    async with runtime.uow() as uow:
        row = await uow.session.get(DisputeRow, uuid.UUID(dispute["id"]))
        past = datetime.now(UTC) - timedelta(hours=2)
        row.data["decision"]["decided_at"] = past.isoformat()
        await uow.session.execute(
            sa.update(DisputeRow)
            .where(DisputeRow.id == row.id)
            .values(decided_at=past, data=row.data)
        )
        await uow.commit()
    assert await close_expired_disputes(uow_factory=runtime.uow, window_hours=1) == 1
    assert await close_expired_disputes(uow_factory=runtime.uow, window_hours=1) == 0
    closed = (await client.get(url, headers=team.as_rep(team.reps[0]))).json()
    assert closed["state"] == "closed"
    assert closed["closed_reason"] == "response_window_elapsed"
    assert (await _outbox_types(runtime)).count(events.DisputeClosed.TYPE) == 1


def change_request_disputed(team) -> ChangeRequestDisputed:
    """A rep of the team disputes their refused change request."""
    return ChangeRequestDisputed(
        org_id=team.org,
        team_id=team.id,
        change_request_id=uuid.uuid4(),
        target_id=uuid.uuid4(),
        member_id=team.reps[0],
        period_id=uuid.uuid4(),
        old_amount=Decimal("100000.00"),
        new_amount=Decimal("80000.00"),
        currency="EUR",
        origin="request",
        reason="Lost the Acme territory",
        dispute_id=uuid.uuid4(),
        rejected_by=str(team.manager),
        rationale="Territory changes wait for next period",
    )


async def test_a_disputed_change_request_opens_one_escalated_target_dispute(client, runtime, team):
    event = change_request_disputed(team)
    processor, envelope = runtime.consumer._processor, wrap(event)
    assert (await processor.process(record_of(event, envelope=envelope))).status == "applied"
    again = record_of(event, offset=1, envelope=envelope)
    assert (await processor.process(again)).status == "duplicate"
    r = await client.get(f"/v1/disputes/{event.dispute_id}", headers=team.as_rep(team.reps[0]))
    assert r.status_code == 200, r.text
    dispute = r.json()
    assert dispute["kind"] == "target" and dispute["escalated"] is True
    assert dispute["parties"] == [str(team.reps[0]), str(team.manager)]
    assert dispute["related"] == {"target_id": str(event.target_id)}
    assert "Territory changes wait" in dispute["subject"]
    # The same fact under another envelope id (a replay by goals) opens nothing new.
    async with runtime.uow() as uow:
        await on_change_request_disputed(event, wrap(event), uow)
        await uow.commit()
    assert (await _outbox_types(runtime)).count(events.DisputeOpened.TYPE) == 1


def rebalanced(team, takes: dict, applied: str) -> TargetsRebalanced:
    """A rebalance from rep 0 to the reps in `takes` (member -> amount)."""
    moved = sum(takes.values(), Decimal(0))
    return TargetsRebalanced(
        org_id=team.org,
        team_id=team.id,
        rebalance_id=uuid.uuid4(),
        period_id=uuid.uuid4(),
        giver_id=team.reps[0],
        requested=moved,
        moved=moved,
        uncovered=Decimal(0),
        currency="EUR",
        transfers=[
            Transfer(from_member_id=team.reps[0], to_member_id=m, amount=a)
            for m, a in takes.items()
        ],
        applied=applied,
    )


async def test_a_settled_offer_round_thanks_each_volunteer_once(runtime, team):
    processor = runtime.consumer._processor
    auto = rebalanced(team, {team.reps[1]: Decimal("500.00")}, "auto")
    assert (await processor.process(record_of(auto))).status == "applied"
    assert await _notes(runtime, "recognition") == []  # nobody volunteered for an auto move
    offer = rebalanced(team, {team.reps[2]: Decimal("1250.00")}, "offer")
    envelope = wrap(offer)
    assert (await processor.process(record_of(offer, 0, envelope))).status == "applied"
    assert (await processor.process(record_of(offer, 1, envelope))).status == "duplicate"
    [note] = await _notes(runtime, "recognition")
    assert (note.member_id, note.addressee_id) == (team.reps[2], team.reps[2])
    assert "1250.00 EUR" in note.body
