"""Coaching use cases: 1:1s with a data-built agenda, their notes, action items with a status."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from services.feedback.adapters.orm import (
    ActionItem,
    FeedbackNote,
    IntelItem,
    MemberFact,
    OneOnOne,
    OneOnOneNote,
    ShortfallEpisode,
    Team,
)
from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.feedback.handlers.access import caller_team_ids, known_team
from shared.auth import Principal
from shared.domain_errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.events import feedback as feedback_events

# The same cadences as team meetings.
CADENCES = ("none", "weekly", "biweekly", "monthly")
ONE_ON_ONE_STATUSES = ("proposed", "scheduled", "held", "cancelled")
# Which status a 1:1 may move to from each status; held and cancelled are final.
_TRANSITIONS = {
    "proposed": {"scheduled", "held", "cancelled"},
    "scheduled": {"held", "cancelled"},
    "held": set(),
    "cancelled": set(),
}
VISIBILITIES = ("shared", "manager_only")
ACTION_ITEM_STATUSES = ("open", "done", "dropped")
SYSTEM = "system"


@dataclass(frozen=True, kw_only=True)
class NewActionItem:
    """Something one person will do after a 1:1 or a meeting."""

    description: str
    owner_id: UUID
    due_on: date | None = None


@dataclass(frozen=True, kw_only=True)
class ScheduleOneOnOne:
    """Schedule a 1:1 with a rep."""

    member_id: UUID
    scheduled_at: datetime
    cadence: str = "none"


@dataclass(frozen=True, kw_only=True)
class UpdateOneOnOne:
    """Confirm, move, hold or cancel a 1:1."""

    one_on_one_id: UUID
    status: str | None = None
    scheduled_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class AddOneOnOneNote:
    """Write a note of a 1:1, with action items."""

    one_on_one_id: UUID
    body: str
    visibility: str = "shared"
    action_items: list[NewActionItem] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class OneOnOneDetail:
    """A 1:1 with the notes the caller may read."""

    one_on_one: OneOnOne
    notes: list[OneOnOneNote]
    action_items: list[ActionItem]


@dataclass(frozen=True, kw_only=True)
class Agenda:
    """What to talk about, built from what happened since the rep's previous 1:1."""

    one_on_one: OneOnOne
    since: datetime | None
    pace_changes: list[MemberFact]
    target_changes: list[MemberFact]
    open_action_items: list[ActionItem]
    open_check_ins: list[FeedbackNote]
    intel_shared: list[IntelItem]


def _is_manager(principal: Principal, team: Team) -> bool:
    return principal.manages(team.id) or (
        principal.member_id is not None and principal.member_id == team.manager_id
    )


async def _team_of_member(uow: FeedbackUnitOfWork, principal: Principal, member_id: UUID) -> Team:
    member = await uow.directory.member(org_id=principal.org, member_id=member_id)
    if member is None or not member.active:
        raise NotFound("member not found")
    team = await known_team(uow, principal, member.team_id)
    if not _is_manager(principal, team) and principal.member_id != member_id:
        raise NotFound("member not found")
    return team


async def _visible_one_on_one(
    uow: FeedbackUnitOfWork, principal: Principal, one_on_one_id: UUID
) -> tuple[OneOnOne, Team]:
    """A 1:1 is seen by its rep, the team's manager and admins; anyone else gets 404."""
    row = await uow.coaching.one_on_one(org_id=principal.org, one_on_one_id=one_on_one_id)
    if row is None:
        raise NotFound("1:1 not found")
    team = await uow.directory.team(org_id=principal.org, team_id=row.team_id)
    if team is None or not (_is_manager(principal, team) or principal.member_id == row.member_id):
        raise NotFound("1:1 not found")
    return row, team


def _check_items(items: list[NewActionItem], allowed: set[UUID], *, prefix: str) -> None:
    for index, item in enumerate(items):
        if not item.description.strip():
            raise InvalidInput("description is required", field=f"{prefix}[{index}].description")
        if item.owner_id not in allowed:
            raise InvalidInput(
                "the owner must take part (the rep or the manager for a 1:1, the team for a "
                "meeting)",
                field=f"{prefix}[{index}].owner_id",
            )


async def add_action_items(
    uow: FeedbackUnitOfWork,
    *,
    principal: Principal,
    team_id: UUID,
    source: str,
    source_id: UUID,
    items: list[NewActionItem],
) -> list[ActionItem]:
    """Store action items inside the caller's transaction (their owners are checked already)."""
    now = datetime.now(UTC)
    rows = []
    for item in items:
        data = {
            "id": uuid.uuid4(),
            "org_id": principal.org,
            "team_id": team_id,
            "owner_id": item.owner_id,
            "description": item.description.strip(),
            "due_on": item.due_on,
            "status": "open",
            "source": source,
            "source_id": source_id,
            "created_by_sub": principal.sub,
            "created_at": now,
        }
        rows.append(await uow.coaching.add(ActionItem.model_validate(data)))
    return rows


async def schedule_one_on_one(
    cmd: ScheduleOneOnOne, *, uow: FeedbackUnitOfWork, principal: Principal
) -> OneOnOne:
    """Schedule a 1:1 with a rep of your team (the team's manager or an admin)."""
    if cmd.cadence not in CADENCES:
        raise InvalidInput(f"cadence must be one of {', '.join(CADENCES)}", field="cadence")
    async with uow:
        team = await _team_of_member(uow, principal, cmd.member_id)
        if not _is_manager(principal, team):
            raise Forbidden("only the rep's manager or an admin schedules a 1:1")
        if cmd.member_id == team.manager_id:
            raise InvalidInput("a 1:1 is with a rep of the team", field="member_id")
        data = {
            "id": uuid.uuid4(),
            "org_id": principal.org,
            "team_id": team.id,
            "member_id": cmd.member_id,
            "scheduled_at": cmd.scheduled_at.astimezone(UTC),
            "cadence": cmd.cadence,
            "status": "scheduled",
            "created_by_sub": principal.sub,
            "created_at": datetime.now(UTC),
        }
        row = await uow.coaching.add(OneOnOne.model_validate(data))
        await uow.commit()
        return row


async def list_one_on_ones(
    member_id: UUID,
    *,
    uow: FeedbackUnitOfWork,
    principal: Principal,
    cursor: str | None,
    limit: int,
) -> tuple[list[OneOnOne], str | None]:
    """List a rep's 1:1s: the rep, their manager, admins."""
    async with uow:
        await _team_of_member(uow, principal, member_id)
        return await uow.coaching.one_on_ones_of(
            org_id=principal.org, member_id=member_id, cursor=cursor, limit=limit
        )


async def get_one_on_one(
    one_on_one_id: UUID, *, uow: FeedbackUnitOfWork, principal: Principal
) -> OneOnOneDetail:
    """Return a 1:1; the rep does not see notes meant for the manager only."""
    async with uow:
        row, team = await _visible_one_on_one(uow, principal, one_on_one_id)
        notes = await uow.coaching.notes(org_id=principal.org, one_on_one_id=row.id)
        if not _is_manager(principal, team):
            notes = [n for n in notes if n.visibility == "shared"]
        items, _ = await uow.coaching.action_items(org_id=principal.org, source_id=row.id)
        return OneOnOneDetail(one_on_one=row, notes=notes, action_items=items)


async def update_one_on_one(
    cmd: UpdateOneOnOne, *, uow: FeedbackUnitOfWork, principal: Principal
) -> OneOnOne:
    """Confirm, move, hold or cancel a 1:1 (the manager or an admin); holding one is announced."""
    if cmd.status is not None and cmd.status not in ONE_ON_ONE_STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(ONE_ON_ONE_STATUSES)}", field="status"
        )
    async with uow:
        row, team = await _visible_one_on_one(uow, principal, cmd.one_on_one_id)
        if not _is_manager(principal, team):
            raise Forbidden("only the rep's manager or an admin changes a 1:1")
        now = datetime.now(UTC)
        if cmd.status is not None and cmd.status != row.status:
            if cmd.status not in _TRANSITIONS[row.status]:
                raise Conflict(f"a {row.status} 1:1 cannot become {cmd.status}")
            row.status = cmd.status
            if cmd.status == "held":
                row.held_at = now
                await _announce_conversation(
                    uow,
                    team_id=row.team_id,
                    member_id=row.member_id,
                    kind="one_on_one_held",
                    reference_id=row.id,
                    held_at=now,
                    episodes=await uow.coaching.open_episodes_of(
                        org_id=row.org_id, member_id=row.member_id
                    ),
                    org_id=row.org_id,
                )
        if cmd.scheduled_at is not None:
            if row.status in ("held", "cancelled"):
                raise Conflict(f"a {row.status} 1:1 cannot be moved")
            row.scheduled_at = cmd.scheduled_at.astimezone(UTC)
        await uow.coaching.add(row)
        await uow.commit()
        return row


async def add_one_on_one_note(
    cmd: AddOneOnOneNote, *, uow: FeedbackUnitOfWork, principal: Principal
) -> tuple[OneOnOneNote, list[ActionItem]]:
    """Write a 1:1 note; only the manager writes manager-only notes."""
    if cmd.visibility not in VISIBILITIES:
        raise InvalidInput(
            f"visibility must be one of {', '.join(VISIBILITIES)}", field="visibility"
        )
    if not cmd.body.strip():
        raise InvalidInput("body is required", field="body")
    async with uow:
        row, team = await _visible_one_on_one(uow, principal, cmd.one_on_one_id)
        if cmd.visibility == "manager_only" and not _is_manager(principal, team):
            raise Forbidden("only the manager writes notes the rep does not see")
        _check_items(cmd.action_items, {row.member_id, team.manager_id}, prefix="action_items")
        data = {
            "id": uuid.uuid4(),
            "org_id": principal.org,
            "one_on_one_id": row.id,
            "body": cmd.body.strip(),
            "visibility": cmd.visibility,
            "author_sub": principal.sub,
            "created_at": datetime.now(UTC),
        }
        note = await uow.coaching.add(OneOnOneNote.model_validate(data))
        items = await add_action_items(
            uow,
            principal=principal,
            team_id=team.id,
            source="one_on_one",
            source_id=row.id,
            items=cmd.action_items,
        )
        await uow.commit()
        return note, items


async def build_agenda(
    one_on_one_id: UUID, *, uow: FeedbackUnitOfWork, principal: Principal
) -> Agenda:
    """Build a 1:1's agenda from what happened since the rep's previous 1:1."""
    async with uow:
        row, _ = await _visible_one_on_one(uow, principal, one_on_one_id)
        previous = await uow.coaching.previous_one_on_one(row=row)
        since = None
        if previous is not None:
            since = previous.held_at or previous.scheduled_at
        facts = await uow.coaching.facts(org_id=row.org_id, member_ids=[row.member_id], since=since)
        items, _ = await uow.coaching.action_items(
            org_id=row.org_id, owner_id=row.member_id, status="open"
        )
        return Agenda(
            one_on_one=row,
            since=since,
            pace_changes=[f for f in facts if f.kind == "pace_change"],
            target_changes=[f for f in facts if f.kind == "target_change"],
            open_action_items=items,
            open_check_ins=await uow.coaching.open_check_ins(
                org_id=row.org_id, member_id=row.member_id
            ),
            intel_shared=await uow.coaching.intel_by(
                org_id=row.org_id, author_id=row.member_id, since=since
            ),
        )


async def list_action_items(
    *,
    uow: FeedbackUnitOfWork,
    principal: Principal,
    owner_id: UUID | None,
    status: str | None,
    team_id: UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[ActionItem], str | None]:
    """List action items: admins all, managers their teams', everyone the items they own."""
    async with uow:
        managed: list[UUID] | None = None
        me = principal.member_id
        if not principal.is_admin:
            teams = await caller_team_ids(uow, principal)
            if team_id is not None and team_id not in teams:
                raise NotFound("team not found")
            managed = []
            for candidate in sorted(teams):
                team = await uow.directory.team(org_id=principal.org, team_id=candidate)
                if team is not None and _is_manager(principal, team):
                    managed.append(candidate)
        return await uow.coaching.action_items(
            org_id=principal.org,
            team_ids=[team_id] if team_id is not None else None,
            visible_teams=managed,
            viewer_id=me,
            owner_id=owner_id,
            status=status,
            cursor=cursor,
            limit=limit,
        )


async def set_action_item_status(
    item_id: UUID, *, status: str, uow: FeedbackUnitOfWork, principal: Principal
) -> ActionItem:
    """Mark an action item done, dropped or open again (its owner, the manager or an admin)."""
    if status not in ACTION_ITEM_STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(ACTION_ITEM_STATUSES)}", field="status"
        )
    async with uow:
        item = await uow.coaching.action_item(org_id=principal.org, item_id=item_id)
        if item is None:
            raise NotFound("action item not found")
        team = await uow.directory.team(org_id=principal.org, team_id=item.team_id)
        owner = principal.member_id == item.owner_id
        if team is None or not (owner or _is_manager(principal, team)):
            raise NotFound("action item not found")
        if status != item.status:
            item.status = status
            item.closed_at = None if status == "open" else datetime.now(UTC)
            await uow.coaching.add(item)
        await uow.commit()
        return item


async def answer_check_in(
    feedback_id: UUID, *, answer: str, uow: FeedbackUnitOfWork, principal: Principal
) -> FeedbackNote:
    """Record that the manager talked with the rep a check-in was about."""
    if not answer.strip():
        raise InvalidInput("body is required", field="body")
    async with uow:
        note = await uow.feedback.check_in(org_id=principal.org, note_id=feedback_id)
        if note is None:
            raise NotFound("check-in not found")
        team = (
            await uow.directory.team(org_id=principal.org, team_id=note.team_id)
            if note.team_id
            else None
        )
        if team is None or not _is_manager(principal, team):
            raise NotFound("check-in not found")
        if note.answered_at is not None:
            raise Conflict("the check-in is answered already")
        now = datetime.now(UTC)
        note.answer, note.answered_at = answer.strip(), now
        await uow.coaching.add(note)
        episode = (
            await uow.coaching.episode(org_id=note.org_id, shortfall_id=note.shortfall_id)
            if note.shortfall_id is not None
            else None
        )
        await _announce_conversation(
            uow,
            org_id=note.org_id,
            team_id=team.id,
            member_id=note.member_id,
            kind="check_in_answered",
            reference_id=note.id,
            held_at=now,
            episodes=[episode] if episode is not None and episode.recovered_at is None else [],
        )
        await uow.commit()
        return note


async def _announce_conversation(
    uow: FeedbackUnitOfWork,
    *,
    org_id: UUID,
    team_id: UUID,
    member_id: UUID,
    kind: str,
    reference_id: UUID,
    held_at: datetime,
    episodes: list[ShortfallEpisode],
) -> None:
    """Emit conversation_held once per open episode it falls in (once, bare, outside any)."""
    within_episodes: list[ShortfallEpisode | None] = [*episodes] or [None]
    for episode in within_episodes:
        uow.emit(
            feedback_events.ConversationHeld(
                org_id=org_id,
                team_id=team_id,
                member_id=member_id,
                kind=kind,
                reference_id=reference_id,
                held_at=held_at,
                shortfall_id=episode.shortfall_id if episode else None,
                period_id=episode.period_id if episode else None,
            )
        )


def proposed_time(as_of: datetime) -> datetime:
    """The next working day at 09:00 UTC after a moment: when a proposed 1:1 is put."""
    day = as_of.astimezone(UTC).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


async def propose_one_on_one(
    uow: FeedbackUnitOfWork,
    *,
    org_id: UUID,
    team_id: UUID,
    member_id: UUID,
    shortfall_id: UUID,
    as_of: datetime,
) -> OneOnOne | None:
    """Propose the rep's next 1:1 for a shortfall, unless one is already coming up."""
    now = datetime.now(UTC)
    if await uow.coaching.upcoming_one_on_one(org_id=org_id, member_id=member_id, after=now):
        return None
    data = {
        "id": uuid.uuid4(),
        "org_id": org_id,
        "team_id": team_id,
        "member_id": member_id,
        "scheduled_at": max(proposed_time(as_of), proposed_time(now)),
        "cadence": "none",
        "status": "proposed",
        "shortfall_id": shortfall_id,
        "created_by_sub": SYSTEM,
        "created_at": now,
    }
    row = await uow.coaching.add(OneOnOne.model_validate(data))
    uow.emit(
        feedback_events.OneOnOneProposed(
            org_id=org_id,
            team_id=team_id,
            one_on_one_id=row.id,
            member_id=member_id,
            scheduled_at=row.scheduled_at,
            shortfall_id=shortfall_id,
        )
    )
    return row


async def announce_overdue_action_items(
    *, uow_factory: Callable[[], FeedbackUnitOfWork], today: date | None = None, batch: int = 200
) -> int:
    """Announce each open action item whose due date has passed, once."""
    today = today or datetime.now(UTC).date()
    total = 0
    while True:
        async with uow_factory() as uow:
            items = await uow.coaching.newly_overdue(today=today, limit=batch)
            now = datetime.now(UTC)
            for item in items:
                item.overdue_at = now
                await uow.coaching.add(item)
                uow.emit(
                    feedback_events.ActionItemOverdue(
                        org_id=item.org_id,
                        team_id=item.team_id,
                        action_item_id=item.id,
                        owner_id=item.owner_id,
                        description=item.description,
                        due_on=item.due_on,
                        source=item.source,
                        source_id=item.source_id,
                    )
                )
            await uow.commit()
        total += len(items)
        if len(items) < batch:
            return total


def fact_data(row: MemberFact) -> dict[str, Any]:
    """A fact as shown on an agenda or a timeline."""
    return {"kind": row.kind, "at": row.at, "period_id": row.period_id, **row.data}


@dataclass(frozen=True, kw_only=True)
class EpisodeLine:
    """One shortfall episode, from its start to the rep's recovery."""

    episode: ShortfallEpisode
    first_conversation: tuple[str, UUID, datetime] | None
    actions_done: list[ActionItem]
    target_moves: list[MemberFact]


async def episode_timeline(
    team_id: UUID,
    *,
    period_id: UUID | None,
    uow: FeedbackUnitOfWork,
    principal: Principal,
) -> list[EpisodeLine]:
    """Trace each shortfall episode of a team: conversation, actions, target moves, recovery."""
    async with uow:
        team = await known_team(uow, principal, team_id)
        manager = _is_manager(principal, team)
        if not manager and principal.member_id is None:
            raise NotFound("team not found")
        episodes = await uow.coaching.episodes(
            org_id=principal.org, team_id=team.id, period_id=period_id
        )
        if not manager:
            # A rep sees their own episodes only; a stranger to the team sees none (404).
            if principal.member_id not in await uow.directory.active_member_ids(
                org_id=principal.org, team_id=team.id
            ):
                raise NotFound("team not found")
            episodes = [e for e in episodes if e.member_id == principal.member_id]
        members = sorted({e.member_id for e in episodes})
        if not members:
            return []
        held = await uow.coaching.held_one_on_ones(org_id=principal.org, member_ids=members)
        check_ins = await uow.coaching.check_ins_of(
            org_id=principal.org, shortfall_ids=[e.shortfall_id for e in episodes]
        )
        done, _ = await uow.coaching.action_items(
            org_id=principal.org, team_ids=[team.id], status="done", limit=10_000
        )
        facts = await uow.coaching.facts(
            org_id=principal.org, member_ids=members, since=None, period_id=period_id
        )
        lines = []
        for episode in episodes:
            start = episode.started_at
            end = episode.recovered_at

            def within(
                moment: datetime | None, start: datetime = start, end: datetime | None = end
            ) -> bool:
                at = moment
                return at is not None and at >= start and (end is None or at <= end)

            talks: list[tuple[str, UUID, datetime]] = [
                ("one_on_one_held", o.id, o.held_at)
                for o in held
                if o.held_at is not None and o.member_id == episode.member_id and within(o.held_at)
            ]
            talks += [
                ("check_in_answered", c.id, c.answered_at)
                for c in check_ins
                if c.shortfall_id == episode.shortfall_id and c.answered_at is not None
            ]
            lines.append(
                EpisodeLine(
                    episode=episode,
                    first_conversation=min(talks, key=lambda t: t[2]) if talks else None,
                    actions_done=[
                        i for i in done if i.owner_id == episode.member_id and within(i.closed_at)
                    ],
                    target_moves=[
                        f
                        for f in facts
                        if f.kind == "target_change"
                        and f.member_id == episode.member_id
                        and f.period_id == episode.period_id
                        and within(f.at)
                    ],
                )
            )
        return lines
