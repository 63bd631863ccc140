"""Queries of the goals tables; every one is scoped by organisation and none commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.goals.adapters.orm import (
    Absence,
    ChangeRequest,
    EpisodeConversation,
    Member,
    MemberStanding,
    PastResult,
    Period,
    Plan,
    Rebalance,
    RebalanceOffer,
    RebalancePolicy,
    ReliefPolicy,
    Target,
    TargetChange,
    Team,
    TeamThresholds,
)
from shared.domain_errors import NotFound
from shared.http import keyset, page_of

M = TypeVar("M", bound=SQLModel)

# Ledger reasons written by the rebalancing itself; every other reason is a person's decision.
AUTOMATIC_REASONS = ("rebalance", "proposal_approved", "give_back")


class GoalsRepository:
    """Load and add goals records of one organisation."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: SQLModel) -> None:
        """Stage a new or changed row."""
        self.session.add(row)

    async def flush(self) -> None:
        """Send staged rows to the database (to surface constraint errors early)."""
        await self.session.flush()

    async def find(self, model: type[M], *, org: uuid.UUID, id: uuid.UUID) -> M | None:
        """A row of this org by id, else None (other orgs' ids included)."""
        row = await self.session.get(model, id)
        return row if row is not None and row.org_id == org else None

    async def get(self, model: type[M], *, org: uuid.UUID, id: uuid.UUID, what: str) -> M:
        """A row of this org by id, else NotFound (other orgs' ids included)."""
        row = await self.find(model, org=org, id=id)
        if row is None:
            raise NotFound(f"{what} {id} not found")
        return row

    async def page(
        self, stmt: sa.Select, columns: Sequence[sa.ColumnElement], cursor: str | None, limit: int
    ) -> tuple[list, str | None]:
        """One keyset page of stmt ordered by columns."""
        rows = (await self.session.exec(keyset(stmt, columns, cursor, limit))).all()
        names = [c.key for c in columns]
        return page_of(rows, limit, lambda r: tuple(getattr(r, n) for n in names))

    # ---------------------------------------------------------------- roster and periods

    def teams(self, org: uuid.UUID, only: set[uuid.UUID] | None) -> sa.Select:
        """Teams of an org, optionally restricted to some ids."""
        stmt = select(Team).where(Team.org_id == org)
        return stmt if only is None else stmt.where(Team.id.in_(only))

    def members(self, org: uuid.UUID, team_id: uuid.UUID, *, include_left: bool) -> sa.Select:
        """Members of a team."""
        stmt = select(Member).where(Member.org_id == org, Member.team_id == team_id)
        return stmt if include_left else stmt.where(Member.left_at.is_(None))

    async def active_members(self, org: uuid.UUID, team_id: uuid.UUID) -> list[Member]:
        """Members still on the team, by id."""
        stmt = self.members(org, team_id, include_left=False).order_by(Member.id)
        return list((await self.session.exec(stmt)).all())

    def periods(self, org: uuid.UUID) -> sa.Select:
        """Periods of an org."""
        return select(Period).where(Period.org_id == org)

    def results(self, org: uuid.UUID, member_id: uuid.UUID) -> sa.Select:
        """Past results of a member."""
        return select(PastResult).where(PastResult.org_id == org, PastResult.member_id == member_id)

    async def result_for(
        self, org: uuid.UUID, member_id: uuid.UUID, starts_on: object, ends_on: object
    ) -> PastResult | None:
        """The result of a member for exact period bounds, if recorded."""
        stmt = self.results(org, member_id).where(
            PastResult.starts_on == starts_on, PastResult.ends_on == ends_on
        )
        return (await self.session.exec(stmt)).first()

    async def history_of(
        self, org: uuid.UUID, member_ids: Sequence[uuid.UUID], before: object
    ) -> dict[uuid.UUID, list[PastResult]]:
        """Results that ended before a date, most recent first, per member."""
        stmt = (
            select(PastResult)
            .where(
                PastResult.org_id == org,
                PastResult.member_id.in_(member_ids),
                PastResult.ends_on < before,
            )
            .order_by(PastResult.ends_on.desc())
        )
        out: dict[uuid.UUID, list[PastResult]] = {m: [] for m in member_ids}
        for row in (await self.session.exec(stmt)).all():
            out[row.member_id].append(row)
        return out

    # ---------------------------------------------------------------- plans and targets

    async def plan_of(
        self, org: uuid.UUID, team_id: uuid.UUID, period_id: uuid.UUID
    ) -> Plan | None:
        """The plan of a team for a period, if any."""
        stmt = select(Plan).where(
            Plan.org_id == org, Plan.team_id == team_id, Plan.period_id == period_id
        )
        return (await self.session.exec(stmt)).first()

    async def targets_of(self, org: uuid.UUID, plan_id: uuid.UUID) -> list[Target]:
        """Every target of a plan, by member id."""
        stmt = (
            select(Target)
            .where(Target.org_id == org, Target.plan_id == plan_id)
            .order_by(Target.member_id)
        )
        return list((await self.session.exec(stmt)).all())

    async def open_targets_of_member(
        self, org: uuid.UUID, member_id: uuid.UUID, now: datetime
    ) -> list[tuple[Target, Plan, Period]]:
        """The member's targets in plans whose period has not ended yet."""
        stmt = (
            select(Target, Plan, Period)
            .join(Plan, Plan.id == Target.plan_id)
            .join(Period, Period.id == Plan.period_id)
            .where(Target.org_id == org, Target.member_id == member_id, Period.ends_at > now)
        )
        return [tuple(r) for r in (await self.session.exec(stmt)).all()]

    def changes(self, org: uuid.UUID, target_id: uuid.UUID) -> sa.Select:
        """Ledger rows of a target."""
        return select(TargetChange).where(
            TargetChange.org_id == org, TargetChange.target_id == target_id
        )

    async def ledger(
        self, org: uuid.UUID, target_id: uuid.UUID, *, after_version: int | None = None
    ) -> list[TargetChange]:
        """Ledger rows of a target in version order, optionally only those after a version."""
        stmt = self.changes(org, target_id)
        if after_version is not None:
            stmt = stmt.where(TargetChange.version > after_version)
        return list((await self.session.exec(stmt.order_by(col(TargetChange.version)))).all())

    async def standings(
        self, org: uuid.UUID, period_id: uuid.UUID, member_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, MemberStanding]:
        """Latest known standing of members in a period."""
        stmt = select(MemberStanding).where(
            MemberStanding.org_id == org,
            MemberStanding.period_id == period_id,
            MemberStanding.member_id.in_(member_ids),
        )
        return {s.member_id: s for s in (await self.session.exec(stmt)).all()}

    async def standing(
        self, org: uuid.UUID, member_id: uuid.UUID, period_id: uuid.UUID
    ) -> MemberStanding | None:
        """One member's standing in a period."""
        return await self.session.get(MemberStanding, (org, member_id, period_id))

    # ---------------------------------------------------------------- hierarchy

    async def thresholds_of(self, org: uuid.UUID, team_id: uuid.UUID) -> TeamThresholds | None:
        """A team's pace thresholds as performance last announced them."""
        row = await self.session.get(TeamThresholds, team_id)
        return row if row is not None and row.org_id == org else None

    async def child_teams(self, org: uuid.UUID, team_id: uuid.UUID) -> list[Team]:
        """The teams directly under a team, by name."""
        stmt = (
            select(Team)
            .where(Team.org_id == org, Team.parent_team_id == team_id)
            .order_by(Team.name, Team.id)
        )
        return list((await self.session.exec(stmt)).all())

    async def parent_links(self, org: uuid.UUID) -> dict[uuid.UUID, uuid.UUID | None]:
        """Every team of the org and its parent (a few hundred rows at most)."""
        stmt = select(Team.id, Team.parent_team_id).where(Team.org_id == org)
        return {row[0]: row[1] for row in (await self.session.exec(stmt)).all()}

    # ---------------------------------------------------------------- absences and relief

    def absences(self, org: uuid.UUID, member_id: uuid.UUID) -> sa.Select:
        """A member's absences."""
        return select(Absence).where(Absence.org_id == org, Absence.member_id == member_id)

    async def absences_of(self, org: uuid.UUID, member_id: uuid.UUID) -> list[Absence]:
        """Every absence of a member, earliest first."""
        stmt = self.absences(org, member_id).order_by(Absence.starts_on)
        return list((await self.session.exec(stmt)).all())

    async def absences_by_member(
        self, org: uuid.UUID, member_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[tuple[date, date]]]:
        """Every absence of these members as (first, last) days, earliest first."""
        stmt = (
            select(Absence)
            .where(Absence.org_id == org, Absence.member_id.in_(member_ids))
            .order_by(Absence.starts_on)
        )
        found: dict[uuid.UUID, list[tuple[date, date]]] = {}
        for a in (await self.session.exec(stmt)).all():
            found.setdefault(a.member_id, []).append((a.starts_on, a.ends_on))
        return found

    async def absent_between(
        self, org: uuid.UUID, member_ids: Sequence[uuid.UUID], starts_on: date, ends_on: date
    ) -> set[uuid.UUID]:
        """The members with an absence on any day of [starts_on, ends_on]."""
        stmt = select(Absence.member_id).where(
            Absence.org_id == org,
            Absence.member_id.in_(member_ids),
            Absence.starts_on <= ends_on,
            Absence.ends_on >= starts_on,
        )
        return set((await self.session.exec(stmt)).all())

    async def relief_policy_of(self, org: uuid.UUID, team_id: uuid.UUID) -> ReliefPolicy | None:
        """A team's stored relief policy."""
        row = await self.session.get(ReliefPolicy, team_id)
        return row if row is not None and row.org_id == org else None

    # ---------------------------------------------------------------- rebalancing

    async def policy_of(self, org: uuid.UUID, team_id: uuid.UUID) -> RebalancePolicy | None:
        """A team's stored rebalance policy."""
        row = await self.session.get(RebalancePolicy, team_id)
        return row if row is not None and row.org_id == org else None

    async def conversations_in(
        self, org: uuid.UUID, shortfall_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Which of these shortfall episodes had a conversation."""
        if not shortfall_ids:
            return set()
        stmt = select(EpisodeConversation.shortfall_id).where(
            EpisodeConversation.org_id == org,
            col(EpisodeConversation.shortfall_id).in_(list(shortfall_ids)),
        )
        return set((await self.session.exec(stmt)).all())

    async def episode_conversation(
        self, org: uuid.UUID, shortfall_id: uuid.UUID
    ) -> EpisodeConversation | None:
        """The first conversation of a shortfall episode, if one was held."""
        key = {"org_id": org, "shortfall_id": shortfall_id}
        return await self.session.get(EpisodeConversation, key)

    async def rebalance_by_source(self, org: uuid.UUID, source_event_id: str) -> Rebalance | None:
        """The rebalance an event already produced, if any."""
        stmt = select(Rebalance).where(
            Rebalance.org_id == org, Rebalance.source_event_id == source_event_id
        )
        return (await self.session.exec(stmt)).first()

    async def changed_by_person(
        self, org: uuid.UUID, target_ids: Sequence[uuid.UUID], after: datetime
    ) -> list[uuid.UUID]:
        """Targets that a person (not a rebalance) changed after an instant."""
        if not target_ids:
            return []
        stmt = (
            select(TargetChange.target_id)
            .where(
                TargetChange.org_id == org,
                col(TargetChange.target_id).in_(target_ids),
                col(TargetChange.at) > after,
                col(TargetChange.reason).not_in(AUTOMATIC_REASONS),
            )
            .distinct()
        )
        return list((await self.session.exec(stmt)).all())

    async def changed_by_person_since(
        self, org: uuid.UUID, versions: dict[uuid.UUID, int]
    ) -> list[uuid.UUID]:
        """Targets that a person (not a rebalance) changed after the given versions."""
        if not versions:
            return []
        stmt = select(TargetChange.target_id, TargetChange.version).where(
            TargetChange.org_id == org,
            col(TargetChange.target_id).in_(list(versions)),
            col(TargetChange.reason).not_in(AUTOMATIC_REASONS),
        )
        rows = (await self.session.exec(stmt)).all()
        return sorted({t for t, v in rows if v > versions[t]}, key=str)

    async def team_rebalances(
        self, org: uuid.UUID, team_id: uuid.UUID, period_id: uuid.UUID
    ) -> list[Rebalance]:
        """Every rebalance of a team in a period, oldest first."""
        stmt = (
            select(Rebalance)
            .where(
                Rebalance.org_id == org,
                Rebalance.team_id == team_id,
                Rebalance.period_id == period_id,
            )
            .order_by(col(Rebalance.created_at))
        )
        return list((await self.session.exec(stmt)).all())

    async def offers_of(self, org: uuid.UUID, rebalance_id: uuid.UUID) -> list[RebalanceOffer]:
        """The offers of an offer round, by member id."""
        stmt = (
            select(RebalanceOffer)
            .where(RebalanceOffer.org_id == org, RebalanceOffer.rebalance_id == rebalance_id)
            .order_by(col(RebalanceOffer.member_id))
        )
        return list((await self.session.exec(stmt)).all())

    async def hold_open_round(self, org: uuid.UUID, rebalance_id: uuid.UUID) -> bool:
        """Lock an offer round that is still open (False once settled) until the commit.

        A no-op UPDATE conditional on the status: of an answer and a settlement racing, the
        second waits for the first and then sees the status the first left.
        """
        table = Rebalance.__table__
        result = await self.session.execute(
            sa.update(table)
            .where(table.c.org_id == org, table.c.id == rebalance_id, table.c.status == "offered")
            .values(status="offered")
        )
        return bool(result.rowcount)

    async def expired_offer_rounds(self, now: datetime) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(org, rebalance id) of every open offer round that expired by an instant, any org."""
        stmt = select(Rebalance.org_id, Rebalance.id).where(
            Rebalance.status == "offered", col(Rebalance.expires_at) <= now
        )
        return [(org, rid) for org, rid in (await self.session.exec(stmt)).all()]

    def rebalances(self, org: uuid.UUID, team_id: uuid.UUID, status: str | None) -> sa.Select:
        """Rebalances of a team, optionally of one status."""
        stmt = select(Rebalance).where(Rebalance.org_id == org, Rebalance.team_id == team_id)
        return stmt if status is None else stmt.where(Rebalance.status == status)

    # ---------------------------------------------------------------- change requests

    async def counted_change_requests(self, org: uuid.UUID, target_id: uuid.UUID) -> int:
        """Pending or approved requests of a target (what the per-rep limit counts)."""
        stmt = select(sa.func.count()).where(
            ChangeRequest.org_id == org,
            ChangeRequest.target_id == target_id,
            ChangeRequest.origin == "request",
            col(ChangeRequest.state).in_(("pending", "approved")),
        )
        return int((await self.session.exec(stmt)).one())

    def change_requests(
        self,
        org: uuid.UUID,
        team_id: uuid.UUID,
        *,
        state: str | None = None,
        member_id: uuid.UUID | None = None,
        period_id: uuid.UUID | None = None,
    ) -> sa.Select:
        """Change requests of a team, optionally of one state, member or period."""
        stmt = select(ChangeRequest).where(
            ChangeRequest.org_id == org, ChangeRequest.team_id == team_id
        )
        if state is not None:
            stmt = stmt.where(ChangeRequest.state == state)
        if member_id is not None:
            stmt = stmt.where(ChangeRequest.member_id == member_id)
        if period_id is not None:
            stmt = stmt.where(ChangeRequest.period_id == period_id)
        return stmt

    async def period_change_requests(
        self, org: uuid.UUID, team_id: uuid.UUID, period_id: uuid.UUID
    ) -> list[ChangeRequest]:
        """A team's change requests of one period, oldest first."""
        stmt = self.change_requests(org, team_id, period_id=period_id)
        return list((await self.session.exec(stmt.order_by(col(ChangeRequest.created_at)))).all())

    async def pending_reliefs(
        self, org: uuid.UUID, absence_ids: Sequence[uuid.UUID]
    ) -> list[ChangeRequest]:
        """Pending change requests that hold the relief of these absences, oldest first."""
        stmt = (
            select(ChangeRequest)
            .where(
                ChangeRequest.org_id == org,
                col(ChangeRequest.absence_id).in_(absence_ids),
                ChangeRequest.state == "pending",
            )
            .order_by(col(ChangeRequest.created_at), col(ChangeRequest.id))
        )
        return list((await self.session.exec(stmt)).all())

    async def plan_changes(
        self, org: uuid.UUID, plan_id: uuid.UUID
    ) -> list[tuple[TargetChange, uuid.UUID]]:
        """Every ledger row of a plan's targets with the member, oldest first."""
        stmt = (
            select(TargetChange, Target.member_id)
            .join(Target, Target.id == TargetChange.target_id)
            .where(TargetChange.org_id == org, Target.plan_id == plan_id)
            .order_by(col(TargetChange.at), col(TargetChange.version))
        )
        return [tuple(r) for r in (await self.session.exec(stmt)).all()]
