"""Repositories of the feedback service: every query is scoped by organisation; none commits."""

from __future__ import annotations

import builtins
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from services.feedback.adapters.orm import (
    ActionItem,
    DisputeEvidence,
    DisputeParty,
    DisputePolicy,
    FeedbackNote,
    IntelItem,
    IntelTag,
    Meeting,
    MeetingNote,
    Member,
    MemberFact,
    OneOnOne,
    OneOnOneNote,
    ShortfallEpisode,
    Team,
    WebhookDelivery,
    WebhookSubscription,
)
from services.feedback.adapters.orm import (
    Dispute as DisputeRow,
)
from services.feedback.adapters.outbound import PUBLIC_TYPES, body_of, public_data
from services.feedback.domain.dispute import Dispute, DisputeState
from shared.domain_errors import StaleWrite
from shared.events import Envelope
from shared.http import keyset, page_of

_DISPUTE = TypeAdapter(Dispute)


#: A table model a repository stores as it is.
R = TypeVar("R", bound=SQLModel)


class DirectoryRepository:
    """Teams and members as goals publishes them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def team(self, *, org_id: UUID, team_id: UUID) -> Team | None:
        """Return the team of this organisation, if known."""
        row = await self._session.get(Team, team_id)
        return row if row is not None and row.org_id == org_id else None

    async def member(self, *, org_id: UUID, member_id: UUID) -> Member | None:
        """Return the member of this organisation, if known."""
        row = await self._session.get(Member, member_id)
        return row if row is not None and row.org_id == org_id else None

    async def active_member_ids(self, *, org_id: UUID, team_id: UUID) -> set[UUID]:
        """Return the ids of the members currently on the team."""
        stmt = select(Member.id).where(
            Member.org_id == org_id, Member.team_id == team_id, col(Member.active).is_(True)
        )
        return set((await self._session.exec(stmt)).all())

    async def teams_managed_by(self, *, org_id: UUID, member_id: UUID) -> list[Team]:
        """Return the teams of this organisation a member manages."""
        stmt = select(Team).where(Team.org_id == org_id, Team.manager_id == member_id)
        return list((await self._session.exec(stmt)).all())

    async def teams_of_member(self, *, org_id: UUID, member_id: UUID) -> set[UUID]:
        """Return the teams a member is currently on or manages."""
        member = await self.member(org_id=org_id, member_id=member_id)
        teams = {member.team_id} if member is not None and member.active else set()
        managed = await self.teams_managed_by(org_id=org_id, member_id=member_id)
        return teams | {team.id for team in managed}

    async def put_team(self, *, org_id: UUID, team_id: UUID, name: str, manager_id: UUID) -> bool:
        """Create or update a team; True when it was not known before."""
        row = await self._session.get(Team, team_id)
        if row is None:
            data = {"id": team_id, "org_id": org_id, "name": name, "manager_id": manager_id}
            self._session.add(Team.model_validate(data))
            return True
        row.name, row.manager_id = name, manager_id
        self._session.add(row)
        return False

    async def put_member(
        self, *, org_id: UUID, member_id: UUID, team_id: UUID, name: str, version: int
    ) -> None:
        """Create or update a member; an older version than the one held is ignored."""
        row = await self._session.get(Member, member_id)
        if row is None:
            data = {
                "id": member_id,
                "org_id": org_id,
                "team_id": team_id,
                "name": name,
                "active": True,
                "version": version,
            }
            self._session.add(Member.model_validate(data))
            return
        if version <= row.version:
            return
        row.team_id, row.name, row.version, row.active = team_id, name, version, True
        self._session.add(row)

    async def member_left(self, *, org_id: UUID, member_id: UUID, team_id: UUID) -> None:
        """Mark a member as gone from the team (kept, since disputes and notes name them)."""
        row = await self.member(org_id=org_id, member_id=member_id)
        if row is None:
            data = {"id": member_id, "org_id": org_id, "team_id": team_id, "name": ""}
            row = Member.model_validate(data | {"active": False})
        elif row.team_id != team_id:
            return
        row.active = False
        self._session.add(row)


class DisputeRepository:
    """Disputes stored as their entity state plus queryable columns and a party index."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._versions: dict[UUID, int] = {}

    async def evidence(self, *, org_id: UUID, dispute_id: UUID) -> list[DisputeEvidence]:
        """A dispute's evidence entries, in chain order."""
        stmt = select(DisputeEvidence).where(
            DisputeEvidence.org_id == org_id, DisputeEvidence.dispute_id == dispute_id
        )
        return list((await self._session.exec(stmt.order_by(col(DisputeEvidence.seq)))).all())

    async def append_evidence(self, rows: list[DisputeEvidence]) -> None:
        """Append entries; the primary key (dispute, seq) refuses a concurrent second head."""
        self._session.add_all(rows)
        await self._session.flush()

    async def add(self, dispute: Dispute) -> None:
        """Store a new dispute and its parties."""
        row = DisputeRow.model_validate(self._columns(dispute) | {"id": dispute.id, "version": 1})
        self._session.add(row)
        await self._session.flush()
        for party_id in dispute.parties:
            data = {"dispute_id": dispute.id, "party_id": party_id, "org_id": dispute.org_id}
            self._session.add(DisputeParty.model_validate(data))
        self._versions[dispute.id] = 1

    async def get(self, *, org_id: UUID, dispute_id: UUID) -> Dispute | None:
        """Load a dispute of this organisation, remembering its version for save()."""
        row = await self._session.get(DisputeRow, dispute_id)
        if row is None or row.org_id != org_id:
            return None
        self._versions[dispute_id] = row.version
        return _DISPUTE.validate_python(row.data)

    def version_of(self, dispute_id: UUID) -> int:
        """Return the version the dispute had when loaded (or last saved)."""
        return self._versions[dispute_id]

    async def save(self, dispute: Dispute) -> int:
        """Write a changed dispute; someone else's change since loading is a 409."""
        expected = self._versions[dispute.id]
        table = DisputeRow.__table__
        result = await self._session.exec(
            sa.update(table)
            .where(table.c.id == dispute.id, table.c.version == expected)
            .values(**self._columns(dispute), version=expected + 1)
        )
        if result.rowcount != 1:
            raise StaleWrite("the dispute was changed meanwhile; reload it and retry")
        self._versions[dispute.id] = expected + 1
        return expected + 1

    async def list_visible(
        self,
        *,
        org_id: UUID,
        everything: bool,
        team_ids: frozenset[UUID],
        member_id: UUID | None,
        sub: str,
        team_id: UUID | None,
        state: str | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Dispute], str | None]:
        """List the disputes a caller may see: their teams', their own, and those they opened."""
        stmt = select(DisputeRow).where(DisputeRow.org_id == org_id)
        if not everything:
            seen: list[Any] = [col(DisputeRow.opened_by_sub) == sub]
            if team_ids:
                seen.append(col(DisputeRow.team_id).in_(team_ids))
            if member_id is not None:
                parties = select(DisputeParty.dispute_id).where(
                    DisputeParty.org_id == org_id, DisputeParty.party_id == member_id
                )
                seen.append(col(DisputeRow.id).in_(parties))
            stmt = stmt.where(sa.or_(*seen))
        if team_id is not None:
            stmt = stmt.where(DisputeRow.team_id == team_id)
        if state is not None:
            stmt = stmt.where(DisputeRow.state == state)
        stmt = keyset(stmt, [col(DisputeRow.opened_at), col(DisputeRow.id)], cursor, limit)
        rows = (await self._session.exec(stmt)).all()
        items, next_cursor = page_of(rows, limit, lambda r: (_iso(r.opened_at), r.id))
        disputes = []
        for row in items:
            self._versions[row.id] = row.version
            disputes.append(_DISPUTE.validate_python(row.data))
        return disputes, next_cursor

    async def decided_before(
        self, *, cutoff: datetime, limit: int = 100
    ) -> list[tuple[UUID, UUID]]:
        """Return (org, dispute) ids of decided disputes whose decision is older than cutoff."""
        stmt = (
            select(DisputeRow.org_id, DisputeRow.id)
            .where(
                DisputeRow.state == DisputeState.DECIDED.value,
                col(DisputeRow.decided_at) <= cutoff,
            )
            .order_by(col(DisputeRow.decided_at))
            .limit(limit)
        )
        return [(org, id_) for org, id_ in (await self._session.exec(stmt)).all()]

    async def overdue(self, *, now: datetime, limit: int = 100) -> list[tuple[UUID, UUID]]:
        """Return (org, dispute) ids of disputes with a deadline to announce that has passed."""
        stmt = (
            select(DisputeRow.org_id, DisputeRow.id)
            .where(col(DisputeRow.next_due_at) <= now)
            .order_by(col(DisputeRow.next_due_at))
            .limit(limit)
        )
        return [(org, id_) for org, id_ in (await self._session.exec(stmt)).all()]

    async def policy(self, *, org_id: UUID, team_id: UUID) -> DisputePolicy | None:
        """Return a team's dispute policy, if it set one."""
        row = await self._session.get(DisputePolicy, team_id)
        return row if row is not None and row.org_id == org_id else None

    async def put_policy(self, row: DisputePolicy) -> DisputePolicy:
        """Store a team's dispute policy."""
        merged = await self._session.merge(row)
        await self._session.flush()
        return merged

    @staticmethod
    def _columns(dispute: Dispute) -> dict[str, Any]:
        return {
            "org_id": dispute.org_id,
            "team_id": dispute.team_id,
            "kind": dispute.kind.value,
            "state": dispute.state.value,
            "subject": dispute.subject,
            "opened_by_sub": dispute.opened_by_sub,
            "opened_at": dispute.opened_at,
            "decided_at": dispute.decision.decided_at if dispute.decision else None,
            "escalated": dispute.escalated,
            "data": _DISPUTE.dump_python(dispute, mode="json"),
            "next_due_at": dispute.next_due_at(),
        }


def _iso(value: datetime) -> str:
    return value.isoformat()


class FeedbackRepository:
    """Coaching notes, check-ins and notices."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, data: dict[str, Any]) -> FeedbackNote:
        """Store a note."""
        row = FeedbackNote.model_validate(data)
        self._session.add(row)
        await self._session.flush()
        return row

    async def address_orphan_check_ins(
        self, *, org_id: UUID, team_id: UUID, manager_id: UUID
    ) -> int:
        """Address to the manager the check-ins opened before feedback knew the team."""
        table = FeedbackNote.__table__
        result = await self._session.exec(
            sa.update(table)
            .where(
                table.c.org_id == org_id,
                table.c.team_id == team_id,
                table.c.kind == "check_in",
                table.c.addressee_id.is_(None),
            )
            .values(addressee_id=manager_id)
        )
        return result.rowcount or 0

    async def check_in(self, *, org_id: UUID, note_id: UUID) -> FeedbackNote | None:
        """Return a check-in of this organisation, if any (other kinds of note are not one)."""
        row = await self._session.get(FeedbackNote, note_id)
        return row if row is not None and row.org_id == org_id and row.kind == "check_in" else None

    async def by_shortfall(self, *, org_id: UUID, shortfall_id: UUID) -> FeedbackNote | None:
        """Return the check-in opened for a shortfall, if any."""
        stmt = select(FeedbackNote).where(
            FeedbackNote.org_id == org_id, FeedbackNote.shortfall_id == shortfall_id
        )
        return (await self._session.exec(stmt)).first()

    async def list_visible(
        self,
        *,
        org_id: UUID,
        everything: bool,
        viewer_id: UUID | None,
        viewer_sub: str,
        member_id: UUID | None,
        kind: str | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[FeedbackNote], str | None]:
        """List notes the viewer takes part in (all for admins), optionally about one member."""
        stmt = select(FeedbackNote).where(FeedbackNote.org_id == org_id)
        if not everything:
            mine: list[Any] = [col(FeedbackNote.author_sub) == viewer_sub]
            if viewer_id is not None:
                mine += [
                    col(FeedbackNote.member_id) == viewer_id,
                    col(FeedbackNote.addressee_id) == viewer_id,
                    col(FeedbackNote.author_id) == viewer_id,
                ]
            stmt = stmt.where(sa.or_(*mine))
        if member_id is not None:
            stmt = stmt.where(
                sa.or_(
                    col(FeedbackNote.member_id) == member_id,
                    col(FeedbackNote.addressee_id) == member_id,
                    col(FeedbackNote.author_id) == member_id,
                )
            )
        if kind is not None:
            stmt = stmt.where(FeedbackNote.kind == kind)
        stmt = keyset(stmt, [col(FeedbackNote.created_at), col(FeedbackNote.id)], cursor, limit)
        rows = (await self._session.exec(stmt)).all()
        return page_of(rows, limit, lambda r: (_iso(r.created_at), r.id))


class MeetingRepository:
    """Team meetings and their notes."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, data: dict[str, Any]) -> Meeting:
        """Store a meeting."""
        row = Meeting.model_validate(data)
        self._session.add(row)
        await self._session.flush()
        return row

    async def get(self, *, org_id: UUID, meeting_id: UUID) -> Meeting | None:
        """Return a meeting of this organisation, if any."""
        row = await self._session.get(Meeting, meeting_id)
        return row if row is not None and row.org_id == org_id else None

    async def list_for_team(
        self, *, org_id: UUID, team_id: UUID, cursor: str | None, limit: int
    ) -> tuple[list[Meeting], str | None]:
        """List a team's meetings by scheduled time."""
        stmt = select(Meeting).where(Meeting.org_id == org_id, Meeting.team_id == team_id)
        stmt = keyset(stmt, [col(Meeting.scheduled_at), col(Meeting.id)], cursor, limit)
        rows = (await self._session.exec(stmt)).all()
        return page_of(rows, limit, lambda r: (_iso(r.scheduled_at), r.id))

    async def all_for_team(self, *, org_id: UUID, team_id: UUID) -> list[Meeting]:
        """Every meeting of a team (a team has a handful of series, not thousands)."""
        stmt = select(Meeting).where(Meeting.org_id == org_id, Meeting.team_id == team_id)
        return list((await self._session.exec(stmt.order_by(col(Meeting.scheduled_at)))).all())

    async def add_note(self, data: dict[str, Any]) -> MeetingNote:
        """Store a meeting note."""
        row = MeetingNote.model_validate(data)
        self._session.add(row)
        await self._session.flush()
        return row

    async def notes(self, *, org_id: UUID, meeting_id: UUID) -> list[MeetingNote]:
        """Return a meeting's notes, oldest first."""
        stmt = (
            select(MeetingNote)
            .where(MeetingNote.org_id == org_id, MeetingNote.meeting_id == meeting_id)
            .order_by(col(MeetingNote.created_at), col(MeetingNote.id))
        )
        return list((await self._session.exec(stmt)).all())


class CoachingRepository:
    """1:1s, their notes, action items, the facts agendas are built from, shortfall episodes."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: R) -> R:
        """Store a validated row."""
        self._session.add(row)
        await self._session.flush()
        return row

    async def one_on_one(self, *, org_id: UUID, one_on_one_id: UUID) -> OneOnOne | None:
        """Return a 1:1 of this organisation, if any."""
        row = await self._session.get(OneOnOne, one_on_one_id)
        return row if row is not None and row.org_id == org_id else None

    async def one_on_ones_of(
        self, *, org_id: UUID, member_id: UUID, cursor: str | None, limit: int
    ) -> tuple[list[OneOnOne], str | None]:
        """List a rep's 1:1s by scheduled time."""
        stmt = select(OneOnOne).where(OneOnOne.org_id == org_id, OneOnOne.member_id == member_id)
        stmt = keyset(stmt, [col(OneOnOne.scheduled_at), col(OneOnOne.id)], cursor, limit)
        rows = (await self._session.exec(stmt)).all()
        return page_of(rows, limit, lambda r: (_iso(r.scheduled_at), r.id))

    async def upcoming_one_on_one(
        self, *, org_id: UUID, member_id: UUID, after: datetime
    ) -> OneOnOne | None:
        """Return the rep's next proposed or scheduled 1:1 at or after a moment."""
        stmt = (
            select(OneOnOne)
            .where(
                OneOnOne.org_id == org_id,
                OneOnOne.member_id == member_id,
                col(OneOnOne.status).in_(("proposed", "scheduled")),
                col(OneOnOne.scheduled_at) >= after,
            )
            .order_by(col(OneOnOne.scheduled_at))
            .limit(1)
        )
        return (await self._session.exec(stmt)).first()

    async def previous_one_on_one(self, *, row: OneOnOne) -> OneOnOne | None:
        """Return the rep's last 1:1 before this one that was not cancelled."""
        stmt = (
            select(OneOnOne)
            .where(
                OneOnOne.org_id == row.org_id,
                OneOnOne.member_id == row.member_id,
                OneOnOne.id != row.id,
                OneOnOne.status != "cancelled",
                col(OneOnOne.scheduled_at) < row.scheduled_at,
            )
            .order_by(col(OneOnOne.scheduled_at).desc())
            .limit(1)
        )
        return (await self._session.exec(stmt)).first()

    async def held_one_on_ones(self, *, org_id: UUID, member_ids: Sequence[UUID]) -> list[OneOnOne]:
        """Return the held 1:1s of some reps."""
        stmt = select(OneOnOne).where(
            OneOnOne.org_id == org_id,
            col(OneOnOne.member_id).in_(list(member_ids)),
            OneOnOne.status == "held",
        )
        return list((await self._session.exec(stmt)).all())

    async def notes(self, *, org_id: UUID, one_on_one_id: UUID) -> list[OneOnOneNote]:
        """Return a 1:1's notes, oldest first."""
        stmt = (
            select(OneOnOneNote)
            .where(OneOnOneNote.org_id == org_id, OneOnOneNote.one_on_one_id == one_on_one_id)
            .order_by(col(OneOnOneNote.created_at), col(OneOnOneNote.id))
        )
        return list((await self._session.exec(stmt)).all())

    async def action_item(self, *, org_id: UUID, item_id: UUID) -> ActionItem | None:
        """Return an action item of this organisation, if any."""
        row = await self._session.get(ActionItem, item_id)
        return row if row is not None and row.org_id == org_id else None

    async def action_items(
        self,
        *,
        org_id: UUID,
        team_ids: Sequence[UUID] | None = None,
        visible_teams: Sequence[UUID] | None = None,
        viewer_id: UUID | None = None,
        owner_id: UUID | None = None,
        status: str | None = None,
        source_id: UUID | None = None,
        cursor: str | None = None,
        limit: int = 500,
    ) -> tuple[list[ActionItem], str | None]:
        """List action items; visible_teams (with the viewer's own items) limits a non-admin."""
        stmt = select(ActionItem).where(ActionItem.org_id == org_id)
        if visible_teams is not None:
            seen: list[Any] = [col(ActionItem.team_id).in_(list(visible_teams))]
            if viewer_id is not None:
                seen.append(col(ActionItem.owner_id) == viewer_id)
            stmt = stmt.where(sa.or_(*seen))
        if team_ids is not None:
            stmt = stmt.where(col(ActionItem.team_id).in_(list(team_ids)))
        if owner_id is not None:
            stmt = stmt.where(ActionItem.owner_id == owner_id)
        if status is not None:
            stmt = stmt.where(ActionItem.status == status)
        if source_id is not None:
            stmt = stmt.where(ActionItem.source_id == source_id)
        stmt = keyset(stmt, [col(ActionItem.created_at), col(ActionItem.id)], cursor, limit)
        rows = (await self._session.exec(stmt)).all()
        return page_of(rows, limit, lambda r: (_iso(r.created_at), r.id))

    async def newly_overdue(self, *, today: Any, limit: int) -> list[ActionItem]:
        """Return open items due before today that were not announced overdue yet."""
        stmt = (
            select(ActionItem)
            .where(
                ActionItem.status == "open",
                col(ActionItem.overdue_at).is_(None),
                col(ActionItem.due_on) < today,
            )
            .order_by(col(ActionItem.due_on), col(ActionItem.id))
            .limit(limit)
        )
        if self._session.bind is not None and self._session.bind.dialect.name == "postgresql":
            # Replicas running the sweep at once each take different items.
            stmt = stmt.with_for_update(skip_locked=True)
        return list((await self._session.exec(stmt)).all())

    async def has_fact(self, *, org_id: UUID, event_id: str) -> bool:
        """Tell whether an event already became a fact."""
        stmt = select(MemberFact.id).where(
            MemberFact.org_id == org_id, MemberFact.event_id == event_id
        )
        return (await self._session.exec(stmt)).first() is not None

    async def latest_fact(
        self, *, org_id: UUID, member_id: UUID, period_id: UUID, kind: str
    ) -> MemberFact | None:
        """Return the newest fact of a kind about a rep in a period."""
        stmt = (
            select(MemberFact)
            .where(
                MemberFact.org_id == org_id,
                MemberFact.member_id == member_id,
                MemberFact.period_id == period_id,
                MemberFact.kind == kind,
            )
            .order_by(col(MemberFact.at).desc(), col(MemberFact.id).desc())
            .limit(1)
        )
        return (await self._session.exec(stmt)).first()

    async def facts(
        self,
        *,
        org_id: UUID,
        member_ids: Sequence[UUID],
        since: datetime | None,
        period_id: UUID | None = None,
    ) -> list[MemberFact]:
        """Return facts about some reps since a moment, oldest first."""
        stmt = select(MemberFact).where(
            MemberFact.org_id == org_id, col(MemberFact.member_id).in_(list(member_ids))
        )
        if since is not None:
            stmt = stmt.where(col(MemberFact.at) >= since)
        if period_id is not None:
            stmt = stmt.where(MemberFact.period_id == period_id)
        stmt = stmt.order_by(col(MemberFact.at), col(MemberFact.id))
        return list((await self._session.exec(stmt)).all())

    async def open_check_ins(self, *, org_id: UUID, member_id: UUID) -> list[FeedbackNote]:
        """Return a rep's check-ins nobody answered yet."""
        stmt = (
            select(FeedbackNote)
            .where(
                FeedbackNote.org_id == org_id,
                FeedbackNote.member_id == member_id,
                FeedbackNote.kind == "check_in",
                col(FeedbackNote.answered_at).is_(None),
            )
            .order_by(col(FeedbackNote.created_at))
        )
        return list((await self._session.exec(stmt)).all())

    async def check_ins_of(
        self, *, org_id: UUID, shortfall_ids: Sequence[UUID]
    ) -> list[FeedbackNote]:
        """Return the check-ins of some shortfall episodes."""
        stmt = select(FeedbackNote).where(
            FeedbackNote.org_id == org_id,
            col(FeedbackNote.shortfall_id).in_(list(shortfall_ids)),
        )
        return list((await self._session.exec(stmt)).all())

    async def intel_by(
        self, *, org_id: UUID, author_id: UUID, since: datetime | None
    ) -> list[IntelItem]:
        """Return the intel a rep shared since a moment, oldest first."""
        stmt = select(IntelItem).where(IntelItem.org_id == org_id, IntelItem.author_id == author_id)
        if since is not None:
            stmt = stmt.where(col(IntelItem.created_at) >= since)
        return list((await self._session.exec(stmt.order_by(col(IntelItem.created_at)))).all())

    async def episode(self, *, org_id: UUID, shortfall_id: UUID) -> ShortfallEpisode | None:
        """Return a shortfall episode of this organisation, if known."""
        row = await self._session.get(ShortfallEpisode, shortfall_id)
        return row if row is not None and row.org_id == org_id else None

    async def open_episodes_of(self, *, org_id: UUID, member_id: UUID) -> list[ShortfallEpisode]:
        """Return a rep's shortfall episodes not recovered yet, oldest first."""
        stmt = select(ShortfallEpisode).where(
            ShortfallEpisode.org_id == org_id,
            ShortfallEpisode.member_id == member_id,
            col(ShortfallEpisode.recovered_at).is_(None),
        )
        stmt = stmt.order_by(col(ShortfallEpisode.started_at), col(ShortfallEpisode.shortfall_id))
        return list((await self._session.exec(stmt)).all())

    async def episodes(
        self, *, org_id: UUID, team_id: UUID, period_id: UUID | None
    ) -> list[ShortfallEpisode]:
        """Return a team's shortfall episodes, oldest first."""
        stmt = select(ShortfallEpisode).where(
            ShortfallEpisode.org_id == org_id, ShortfallEpisode.team_id == team_id
        )
        if period_id is not None:
            stmt = stmt.where(ShortfallEpisode.period_id == period_id)
        stmt = stmt.order_by(col(ShortfallEpisode.started_at), col(ShortfallEpisode.shortfall_id))
        return list((await self._session.exec(stmt)).all())


class SubscriptionRepository:
    """Outbound webhook subscriptions and their delivery log."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @property
    def _postgres(self) -> bool:
        return self._session.bind is not None and self._session.bind.dialect.name == "postgresql"

    async def add(self, row: R) -> R:
        """Store a validated row."""
        self._session.add(row)
        await self._session.flush()
        return row

    async def get(self, *, org_id: UUID, subscription_id: UUID) -> WebhookSubscription | None:
        """Return a subscription of this organisation, if any."""
        row = await self._session.get(WebhookSubscription, subscription_id)
        return row if row is not None and row.org_id == org_id else None

    async def list(
        self, *, org_id: UUID, cursor: str | None, limit: int
    ) -> tuple[list[WebhookSubscription], str | None]:
        """List an organisation's subscriptions, oldest first."""
        stmt = select(WebhookSubscription).where(WebhookSubscription.org_id == org_id)
        stmt = keyset(
            stmt, [col(WebhookSubscription.created_at), col(WebhookSubscription.id)], cursor, limit
        )
        rows = (await self._session.exec(stmt)).all()
        return page_of(rows, limit, lambda r: (_iso(r.created_at), r.id))

    async def deliveries(
        self,
        *,
        org_id: UUID,
        subscription_id: UUID,
        status: str | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[builtins.list[WebhookDelivery], str | None]:
        """The delivery log of a subscription, oldest first."""
        stmt = select(WebhookDelivery).where(
            WebhookDelivery.org_id == org_id, WebhookDelivery.subscription_id == subscription_id
        )
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        stmt = keyset(
            stmt, [col(WebhookDelivery.created_at), col(WebhookDelivery.id)], cursor, limit
        )
        rows = (await self._session.exec(stmt)).all()
        return page_of(rows, limit, lambda r: (_iso(r.created_at), r.id))

    async def queue_deliveries(self, envelope: Envelope) -> int:
        """Queue a public fact for every active subscription of its org that wants it."""
        public_type = PUBLIC_TYPES.get(envelope.type)
        if public_type is None or envelope.tenantid is None:
            return 0
        data = public_data(envelope)
        if data is None:
            return 0
        org_id = UUID(envelope.tenantid)
        team_id = data.get("team_id")
        stmt = select(WebhookSubscription).where(
            WebhookSubscription.org_id == org_id, col(WebhookSubscription.active).is_(True)
        )
        queued = 0
        now = datetime.now(UTC)
        for sub in (await self._session.exec(stmt)).all():
            if public_type not in sub.types:
                continue
            if sub.team_id is not None and str(sub.team_id) != team_id:
                continue
            already = select(WebhookDelivery.id).where(
                WebhookDelivery.subscription_id == sub.id, WebhookDelivery.event_id == envelope.id
            )
            if (await self._session.exec(already)).first() is not None:
                continue  # the fact was consumed before: a redelivery queues nothing twice
            row = {
                "id": uuid.uuid4(),
                "org_id": org_id,
                "subscription_id": sub.id,
                "event_id": envelope.id,
                "type": public_type,
                "payload": body_of(public_type=public_type, at=envelope.time, data=data),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            self._session.add(WebhookDelivery.model_validate(row))
            queued += 1
        return queued

    async def delivery(self, delivery_id: UUID) -> WebhookDelivery | None:
        """Return a delivery by id."""
        return await self._session.get(WebhookDelivery, delivery_id)

    async def due(self, *, now: datetime, limit: int) -> builtins.list[WebhookDelivery]:
        """Pending deliveries of active subscriptions whose next attempt is due."""
        active = select(WebhookSubscription.id).where(col(WebhookSubscription.active).is_(True))
        stmt = (
            select(WebhookDelivery)
            .where(
                WebhookDelivery.status == "pending",
                col(WebhookDelivery.next_attempt_at) <= now,
                col(WebhookDelivery.subscription_id).in_(active),
            )
            .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
            .limit(limit)
        )
        if self._postgres:
            # Replicas claim different deliveries.
            stmt = stmt.with_for_update(skip_locked=True, of=WebhookDelivery)
        return list((await self._session.exec(stmt)).all())


_Items = SelectOfScalar[IntelItem]


class IntelRepository:
    """Market intelligence with full-text search; subclasses supply the dialect's search."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, data: dict[str, Any]) -> IntelItem:
        """Store an item, its tags and its search entry."""
        row = IntelItem.model_validate(data)
        self._session.add(row)
        await self._session.flush()
        for tag in row.tags:
            self._session.add(
                IntelTag.model_validate({"item_id": row.id, "tag": tag, "org_id": row.org_id})
            )
        await self._index(row)
        return row

    async def search(
        self,
        *,
        org_id: UUID,
        team_ids: Sequence[UUID] | None,
        q: str | None,
        tag: str | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[IntelItem], str | None]:
        """List items of the given teams (None: all of the org) matching words and a tag."""
        stmt = select(IntelItem).where(IntelItem.org_id == org_id)
        if team_ids is not None:
            stmt = stmt.where(col(IntelItem.team_id).in_(list(team_ids)))
        if tag:
            tagged = select(IntelTag.item_id).where(
                IntelTag.org_id == org_id, IntelTag.tag == normalise_tag(tag)
            )
            stmt = stmt.where(col(IntelItem.id).in_(tagged))
        if q and q.strip():
            stmt = self._matching(stmt, q)
        stmt = keyset(stmt, [col(IntelItem.created_at), col(IntelItem.id)], cursor, limit)
        rows = (await self._session.exec(stmt)).all()
        return page_of(rows, limit, lambda r: (_iso(r.created_at), r.id))

    async def shared_between(
        self, *, org_id: UUID, team_id: UUID, since: datetime | None, until: datetime
    ) -> list[IntelItem]:
        """The team's items shared in [since, until), oldest first (since None: from the start)."""
        stmt = select(IntelItem).where(
            IntelItem.org_id == org_id,
            IntelItem.team_id == team_id,
            col(IntelItem.created_at) < until,
        )
        if since is not None:
            stmt = stmt.where(col(IntelItem.created_at) >= since)
        return list((await self._session.exec(stmt.order_by(col(IntelItem.created_at)))).all())

    async def latest_about(
        self, *, org_id: UUID, team_id: UUID, competitor_keys: Sequence[str]
    ) -> dict[str, IntelItem]:
        """The team's newest item about each of these competitors (matched by key)."""
        if not competitor_keys:
            return {}
        newest = (
            sa.select(
                col(IntelItem.competitor_key).label("key"),
                sa.func.max(IntelItem.created_at).label("at"),
            )
            .where(
                col(IntelItem.org_id) == org_id,
                col(IntelItem.team_id) == team_id,
                col(IntelItem.competitor_key).in_(list(competitor_keys)),
            )
            .group_by(col(IntelItem.competitor_key))
            .subquery()
        )
        stmt = (
            select(IntelItem)
            .join(
                newest,
                sa.and_(
                    col(IntelItem.competitor_key) == newest.c.key,
                    col(IntelItem.created_at) == newest.c.at,
                ),
            )
            .where(IntelItem.org_id == org_id, IntelItem.team_id == team_id)
            .order_by(col(IntelItem.id))
        )
        latest: dict[str, IntelItem] = {}
        for row in (await self._session.exec(stmt)).all():
            latest.setdefault(row.competitor_key or "", row)
        return latest

    async def _index(self, row: IntelItem) -> None:
        raise NotImplementedError

    def _matching(self, stmt: _Items, q: str) -> _Items:
        raise NotImplementedError


class SqliteIntelRepository(IntelRepository):
    """Search through an FTS5 table kept beside intel_item."""

    async def _index(self, row: IntelItem) -> None:
        await self._session.execute(
            sa.text(
                "INSERT INTO intel_search (item_id, title, body, tags) "
                "VALUES (:item_id, :title, :body, :tags)"
            ),
            {
                "item_id": row.id.hex,
                "title": row.title,
                "body": row.body,
                "tags": " ".join(row.tags),
            },
        )

    def _matching(self, stmt: _Items, q: str) -> _Items:
        words = re.findall(r"\w+", q)
        if not words:
            return stmt
        # Each word quoted: user text never becomes FTS5 query syntax; words are ANDed.
        query = " ".join('"' + w + '"' for w in words)
        matches = sa.text(
            "SELECT item_id FROM intel_search WHERE intel_search MATCH :q"
        ).bindparams(q=query)
        hex_ids: sa.Select[str] = sa.select(sa.column("item_id")).select_from(
            matches.columns().subquery()
        )
        return stmt.where(col(IntelItem.id).in_(hex_ids))


class PostgresIntelRepository(IntelRepository):
    """Search through the generated tsvector column (GIN-indexed)."""

    async def _index(self, row: IntelItem) -> None:
        return None  # the generated column indexes itself

    def _matching(self, stmt: _Items, q: str) -> _Items:
        return stmt.where(
            sa.text("intel_item.search @@ websearch_to_tsquery('english', :q)").bindparams(q=q)
        )


def normalise_tag(tag: str) -> str:
    """Tags compare case-insensitively and without surrounding blanks."""
    return tag.strip().lower()


def intel_repository(session: AsyncSession) -> IntelRepository:
    """The intel repository for the session's database dialect."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        return PostgresIntelRepository(session)
    return SqliteIntelRepository(session)
