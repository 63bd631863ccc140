"""Queries of the goals tables; every one is scoped by organisation and none commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, QueryableAttribute
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

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


class _OrgScoped(Protocol):
    @property
    def org_id(self) -> uuid.UUID: ...


#: A row that belongs to one organisation.
Scoped = TypeVar("Scoped", bound=_OrgScoped)

# Ledger reasons written by the rebalancing itself; every other reason is a person's decision.
AUTOMATIC_REASONS = ("rebalance", "proposal_approved", "give_back")


def _attribute_name(column: Mapped[Any]) -> str:
    """The model attribute a col() stands for (typed as Mapped, it is an InstrumentedAttribute)."""
    if not isinstance(column, QueryableAttribute):
        raise TypeError(f"not a model attribute: {column!r}")
    return column.key


class GoalsRepository:
    """Load and add goals records of one organisation."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, row: SQLModel) -> None:
        """Stage a new or changed row."""
        self._session.add(row)

    async def delete(self, row: SQLModel) -> None:
        """Stage the removal of a row."""
        await self._session.delete(row)

    async def flush(self) -> None:
        """Send staged rows to the database (to surface constraint errors early)."""
        await self._session.flush()

    async def find(self, model: type[Scoped], *, org_id: uuid.UUID, id: uuid.UUID) -> Scoped | None:
        """A row of this org by id, else None (other orgs' ids included)."""
        row = await self._session.get(model, id)
        return row if row is not None and row.org_id == org_id else None

    async def get(
        self, model: type[Scoped], *, org_id: uuid.UUID, id: uuid.UUID, what: str
    ) -> Scoped:
        """A row of this org by id, else NotFound (other orgs' ids included)."""
        row = await self.find(model, org_id=org_id, id=id)
        if row is None:
            raise NotFound(f"{what} {id} not found")
        return row

    async def _page(
        self,
        stmt: SelectOfScalar[M],
        columns: Sequence[Mapped[Any]],
        cursor: str | None,
        limit: int,
    ) -> tuple[list[M], str | None]:
        """One keyset page of stmt ordered by columns, and the cursor of the next."""
        rows = (await self._session.exec(keyset(stmt, columns, cursor, limit))).all()
        names = [_attribute_name(c) for c in columns]
        return page_of(rows, limit, lambda r: tuple(getattr(r, n) for n in names))

    # ---------------------------------------------------------------- roster and periods

    async def teams(
        self, *, org_id: uuid.UUID, only: set[uuid.UUID] | None, cursor: str | None, limit: int
    ) -> tuple[list[Team], str | None]:
        """A page of the org's teams by name, optionally only some ids."""
        stmt = select(Team).where(Team.org_id == org_id)
        if only is not None:
            stmt = stmt.where(col(Team.id).in_(only))
        return await self._page(stmt, [col(Team.name), col(Team.id)], cursor, limit)

    async def members(
        self,
        *,
        org_id: uuid.UUID,
        team_id: uuid.UUID,
        include_left: bool,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Member], str | None]:
        """A page of a team's members by name, optionally with those who left."""
        stmt = select(Member).where(Member.org_id == org_id, Member.team_id == team_id)
        if not include_left:
            stmt = stmt.where(col(Member.left_at).is_(None))
        return await self._page(stmt, [col(Member.name), col(Member.id)], cursor, limit)

    async def active_members(self, *, org_id: uuid.UUID, team_id: uuid.UUID) -> list[Member]:
        """Members still on the team, by id."""
        stmt = (
            select(Member)
            .where(
                Member.org_id == org_id, Member.team_id == team_id, col(Member.left_at).is_(None)
            )
            .order_by(col(Member.id))
        )
        return list((await self._session.exec(stmt)).all())

    async def periods(
        self, *, org_id: uuid.UUID, cursor: str | None, limit: int
    ) -> tuple[list[Period], str | None]:
        """A page of the org's periods by start date."""
        stmt = select(Period).where(Period.org_id == org_id)
        return await self._page(stmt, [col(Period.starts_on), col(Period.id)], cursor, limit)

    async def results(
        self, *, org_id: uuid.UUID, member_id: uuid.UUID, cursor: str | None, limit: int
    ) -> tuple[list[PastResult], str | None]:
        """A page of a member's past results by start date."""
        stmt = select(PastResult).where(
            PastResult.org_id == org_id, PastResult.member_id == member_id
        )
        order = [col(PastResult.starts_on), col(PastResult.id)]
        return await self._page(stmt, order, cursor, limit)

    async def result_for(
        self, *, org_id: uuid.UUID, member_id: uuid.UUID, starts_on: date, ends_on: date
    ) -> PastResult | None:
        """The result of a member for exact period bounds, if recorded."""
        stmt = select(PastResult).where(
            PastResult.org_id == org_id,
            PastResult.member_id == member_id,
            PastResult.starts_on == starts_on,
            PastResult.ends_on == ends_on,
        )
        return (await self._session.exec(stmt)).first()

    async def history_of(
        self, *, org_id: uuid.UUID, member_ids: Sequence[uuid.UUID], before: date
    ) -> dict[uuid.UUID, list[PastResult]]:
        """Results that ended before a date, most recent first, per member."""
        stmt = (
            select(PastResult)
            .where(
                PastResult.org_id == org_id,
                col(PastResult.member_id).in_(member_ids),
                PastResult.ends_on < before,
            )
            .order_by(col(PastResult.ends_on).desc())
        )
        out: dict[uuid.UUID, list[PastResult]] = {m: [] for m in member_ids}
        for row in (await self._session.exec(stmt)).all():
            out[row.member_id].append(row)
        return out

    # ---------------------------------------------------------------- plans and targets

    async def plan_of(
        self, *, org_id: uuid.UUID, team_id: uuid.UUID, period_id: uuid.UUID
    ) -> Plan | None:
        """The plan of a team for a period, if any."""
        stmt = select(Plan).where(
            Plan.org_id == org_id, Plan.team_id == team_id, Plan.period_id == period_id
        )
        return (await self._session.exec(stmt)).first()

    async def targets_of(self, *, org_id: uuid.UUID, plan_id: uuid.UUID) -> list[Target]:
        """Every target of a plan, by member id."""
        stmt = (
            select(Target)
            .where(Target.org_id == org_id, Target.plan_id == plan_id)
            .order_by(col(Target.member_id))
        )
        return list((await self._session.exec(stmt)).all())

    async def open_targets_of_member(
        self, *, org_id: uuid.UUID, member_id: uuid.UUID, now: datetime
    ) -> list[tuple[Target, Plan, Period]]:
        """The member's targets in plans whose period has not ended yet."""
        stmt = (
            select(Target, Plan, Period)
            .join(Plan, col(Plan.id) == Target.plan_id)
            .join(Period, col(Period.id) == Plan.period_id)
            .where(Target.org_id == org_id, Target.member_id == member_id, Period.ends_at > now)
        )
        return [(t, p, q) for t, p, q in (await self._session.exec(stmt)).all()]

    async def changes(
        self, *, org_id: uuid.UUID, target_id: uuid.UUID, cursor: str | None, limit: int
    ) -> tuple[list[TargetChange], str | None]:
        """A page of a target's ledger in version order."""
        stmt = select(TargetChange).where(
            TargetChange.org_id == org_id, TargetChange.target_id == target_id
        )
        return await self._page(stmt, [col(TargetChange.version)], cursor, limit)

    async def ledger(
        self, *, org_id: uuid.UUID, target_id: uuid.UUID, after_version: int | None = None
    ) -> list[TargetChange]:
        """Ledger rows of a target in version order, optionally only those after a version."""
        stmt = select(TargetChange).where(
            TargetChange.org_id == org_id, TargetChange.target_id == target_id
        )
        if after_version is not None:
            stmt = stmt.where(TargetChange.version > after_version)
        return list((await self._session.exec(stmt.order_by(col(TargetChange.version)))).all())

    async def standings(
        self, *, org_id: uuid.UUID, period_id: uuid.UUID, member_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, MemberStanding]:
        """Latest known standing of members in a period."""
        stmt = select(MemberStanding).where(
            MemberStanding.org_id == org_id,
            MemberStanding.period_id == period_id,
            col(MemberStanding.member_id).in_(member_ids),
        )
        return {s.member_id: s for s in (await self._session.exec(stmt)).all()}

    async def standing(
        self, *, org_id: uuid.UUID, member_id: uuid.UUID, period_id: uuid.UUID
    ) -> MemberStanding | None:
        """One member's standing in a period."""
        return await self._session.get(MemberStanding, (org_id, member_id, period_id))

    # ---------------------------------------------------------------- hierarchy

    async def thresholds_of(
        self, *, org_id: uuid.UUID, team_id: uuid.UUID
    ) -> TeamThresholds | None:
        """A team's pace thresholds as performance last announced them."""
        row = await self._session.get(TeamThresholds, team_id)
        return row if row is not None and row.org_id == org_id else None

    async def child_teams(self, *, org_id: uuid.UUID, team_id: uuid.UUID) -> list[Team]:
        """The teams directly under a team, by name."""
        stmt = (
            select(Team)
            .where(Team.org_id == org_id, Team.parent_team_id == team_id)
            .order_by(col(Team.name), col(Team.id))
        )
        return list((await self._session.exec(stmt)).all())

    async def parent_links(self, *, org_id: uuid.UUID) -> dict[uuid.UUID, uuid.UUID | None]:
        """Every team of the org and its parent (a few hundred rows at most)."""
        stmt = select(Team.id, Team.parent_team_id).where(Team.org_id == org_id)
        return {row[0]: row[1] for row in (await self._session.exec(stmt)).all()}

    # ---------------------------------------------------------------- absences and relief

    async def absences(
        self, *, org_id: uuid.UUID, member_id: uuid.UUID, cursor: str | None, limit: int
    ) -> tuple[list[Absence], str | None]:
        """A page of a member's absences, earliest first."""
        stmt = select(Absence).where(Absence.org_id == org_id, Absence.member_id == member_id)
        return await self._page(stmt, [col(Absence.starts_on), col(Absence.id)], cursor, limit)

    async def absences_of(self, *, org_id: uuid.UUID, member_id: uuid.UUID) -> list[Absence]:
        """Every absence of a member, earliest first."""
        stmt = (
            select(Absence)
            .where(Absence.org_id == org_id, Absence.member_id == member_id)
            .order_by(col(Absence.starts_on))
        )
        return list((await self._session.exec(stmt)).all())

    async def absences_by_member(
        self, *, org_id: uuid.UUID, member_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[tuple[date, date]]]:
        """Every absence of these members as (first, last) days, earliest first."""
        stmt = (
            select(Absence)
            .where(Absence.org_id == org_id, col(Absence.member_id).in_(member_ids))
            .order_by(col(Absence.starts_on))
        )
        found: dict[uuid.UUID, list[tuple[date, date]]] = {}
        for a in (await self._session.exec(stmt)).all():
            found.setdefault(a.member_id, []).append((a.starts_on, a.ends_on))
        return found

    async def absent_between(
        self,
        *,
        org_id: uuid.UUID,
        member_ids: Sequence[uuid.UUID],
        starts_on: date,
        ends_on: date,
    ) -> set[uuid.UUID]:
        """The members with an absence on any day of [starts_on, ends_on]."""
        stmt = select(Absence.member_id).where(
            Absence.org_id == org_id,
            col(Absence.member_id).in_(member_ids),
            Absence.starts_on <= ends_on,
            Absence.ends_on >= starts_on,
        )
        return set((await self._session.exec(stmt)).all())

    async def relief_policy_of(
        self, *, org_id: uuid.UUID, team_id: uuid.UUID
    ) -> ReliefPolicy | None:
        """A team's stored relief policy."""
        row = await self._session.get(ReliefPolicy, team_id)
        return row if row is not None and row.org_id == org_id else None

    # ---------------------------------------------------------------- rebalancing

    async def policy_of(self, *, org_id: uuid.UUID, team_id: uuid.UUID) -> RebalancePolicy | None:
        """A team's stored rebalance policy."""
        row = await self._session.get(RebalancePolicy, team_id)
        return row if row is not None and row.org_id == org_id else None

    async def conversations_in(
        self, *, org_id: uuid.UUID, shortfall_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Which of these shortfall episodes had a conversation."""
        if not shortfall_ids:
            return set()
        stmt = select(EpisodeConversation.shortfall_id).where(
            EpisodeConversation.org_id == org_id,
            col(EpisodeConversation.shortfall_id).in_(list(shortfall_ids)),
        )
        return set((await self._session.exec(stmt)).all())

    async def episode_conversation(
        self, *, org_id: uuid.UUID, shortfall_id: uuid.UUID
    ) -> EpisodeConversation | None:
        """The first conversation of a shortfall episode, if one was held."""
        key = {"org_id": org_id, "shortfall_id": shortfall_id}
        return await self._session.get(EpisodeConversation, key)

    async def rebalance_by_source(
        self, *, org_id: uuid.UUID, source_event_id: str
    ) -> Rebalance | None:
        """The rebalance an event already produced, if any."""
        stmt = select(Rebalance).where(
            Rebalance.org_id == org_id, Rebalance.source_event_id == source_event_id
        )
        return (await self._session.exec(stmt)).first()

    async def changed_by_person(
        self, *, org_id: uuid.UUID, target_ids: Sequence[uuid.UUID], after: datetime
    ) -> list[uuid.UUID]:
        """Targets that a person (not a rebalance) changed after an instant."""
        if not target_ids:
            return []
        stmt = (
            select(TargetChange.target_id)
            .where(
                TargetChange.org_id == org_id,
                col(TargetChange.target_id).in_(target_ids),
                col(TargetChange.at) > after,
                col(TargetChange.reason).not_in(AUTOMATIC_REASONS),
            )
            .distinct()
        )
        return list((await self._session.exec(stmt)).all())

    async def changed_by_person_since(
        self, *, org_id: uuid.UUID, versions: dict[uuid.UUID, int]
    ) -> list[uuid.UUID]:
        """Targets that a person (not a rebalance) changed after the given versions."""
        if not versions:
            return []
        stmt = select(TargetChange.target_id, TargetChange.version).where(
            TargetChange.org_id == org_id,
            col(TargetChange.target_id).in_(list(versions)),
            col(TargetChange.reason).not_in(AUTOMATIC_REASONS),
        )
        rows = (await self._session.exec(stmt)).all()
        return sorted({t for t, v in rows if v > versions[t]}, key=str)

    async def team_rebalances(
        self, *, org_id: uuid.UUID, team_id: uuid.UUID, period_id: uuid.UUID
    ) -> list[Rebalance]:
        """Every rebalance of a team in a period, oldest first."""
        stmt = (
            select(Rebalance)
            .where(
                Rebalance.org_id == org_id,
                Rebalance.team_id == team_id,
                Rebalance.period_id == period_id,
            )
            .order_by(col(Rebalance.created_at))
        )
        return list((await self._session.exec(stmt)).all())

    async def offers_of(
        self, *, org_id: uuid.UUID, rebalance_id: uuid.UUID
    ) -> list[RebalanceOffer]:
        """The offers of an offer round, by member id."""
        stmt = (
            select(RebalanceOffer)
            .where(RebalanceOffer.org_id == org_id, RebalanceOffer.rebalance_id == rebalance_id)
            .order_by(col(RebalanceOffer.member_id))
        )
        return list((await self._session.exec(stmt)).all())

    async def hold_open_round(self, *, org_id: uuid.UUID, rebalance_id: uuid.UUID) -> bool:
        """Lock an offer round that is still open (False once settled) until the commit.

        A no-op UPDATE conditional on the status: of an answer and a settlement racing, the
        second waits for the first and then sees the status the first left.
        """
        table = Rebalance.__table__
        result = await self._session.exec(
            sa.update(table)
            .where(
                table.c.org_id == org_id, table.c.id == rebalance_id, table.c.status == "offered"
            )
            .values(status="offered")
        )
        return bool(result.rowcount)

    async def expired_offer_rounds(self, *, now: datetime) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(org, rebalance id) of every open offer round that expired by an instant, any org."""
        stmt = select(Rebalance.org_id, Rebalance.id).where(
            Rebalance.status == "offered", col(Rebalance.expires_at) <= now
        )
        return [(org, rid) for org, rid in (await self._session.exec(stmt)).all()]

    async def rebalances(
        self,
        *,
        org_id: uuid.UUID,
        team_id: uuid.UUID,
        status: str | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Rebalance], str | None]:
        """A page of a team's rebalances, oldest first, optionally of one status."""
        stmt = select(Rebalance).where(Rebalance.org_id == org_id, Rebalance.team_id == team_id)
        if status is not None:
            stmt = stmt.where(Rebalance.status == status)
        return await self._page(stmt, [col(Rebalance.created_at), col(Rebalance.id)], cursor, limit)

    # ---------------------------------------------------------------- change requests

    async def counted_change_requests(self, *, org_id: uuid.UUID, target_id: uuid.UUID) -> int:
        """Pending or approved requests of a target (what the per-rep limit counts)."""
        stmt = select(sa.func.count()).where(
            ChangeRequest.org_id == org_id,
            ChangeRequest.target_id == target_id,
            ChangeRequest.origin == "request",
            col(ChangeRequest.state).in_(("pending", "approved")),
        )
        return int((await self._session.exec(stmt)).one())

    async def change_requests(
        self,
        *,
        org_id: uuid.UUID,
        team_id: uuid.UUID,
        state: str | None,
        member_id: uuid.UUID | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[ChangeRequest], str | None]:
        """A page of a team's change requests, oldest first, optionally of one state or member."""
        stmt = select(ChangeRequest).where(
            ChangeRequest.org_id == org_id, ChangeRequest.team_id == team_id
        )
        if state is not None:
            stmt = stmt.where(ChangeRequest.state == state)
        if member_id is not None:
            stmt = stmt.where(ChangeRequest.member_id == member_id)
        order = [col(ChangeRequest.created_at), col(ChangeRequest.id)]
        return await self._page(stmt, order, cursor, limit)

    async def period_change_requests(
        self, *, org_id: uuid.UUID, team_id: uuid.UUID, period_id: uuid.UUID
    ) -> list[ChangeRequest]:
        """A team's change requests of one period, oldest first."""
        stmt = (
            select(ChangeRequest)
            .where(
                ChangeRequest.org_id == org_id,
                ChangeRequest.team_id == team_id,
                ChangeRequest.period_id == period_id,
            )
            .order_by(col(ChangeRequest.created_at))
        )
        return list((await self._session.exec(stmt)).all())

    async def pending_reliefs(
        self, *, org_id: uuid.UUID, absence_ids: Sequence[uuid.UUID]
    ) -> list[ChangeRequest]:
        """Pending change requests that hold the relief of these absences, oldest first."""
        stmt = (
            select(ChangeRequest)
            .where(
                ChangeRequest.org_id == org_id,
                col(ChangeRequest.absence_id).in_(absence_ids),
                ChangeRequest.state == "pending",
            )
            .order_by(col(ChangeRequest.created_at), col(ChangeRequest.id))
        )
        return list((await self._session.exec(stmt)).all())

    async def plan_changes(
        self, *, org_id: uuid.UUID, plan_id: uuid.UUID
    ) -> list[tuple[TargetChange, uuid.UUID]]:
        """Every ledger row of a plan's targets with the member, oldest first."""
        stmt = (
            select(TargetChange, Target.member_id)
            .join(Target, col(Target.id) == TargetChange.target_id)
            .where(TargetChange.org_id == org_id, Target.plan_id == plan_id)
            .order_by(col(TargetChange.at), col(TargetChange.version))
        )
        return [(change, member) for change, member in (await self._session.exec(stmt)).all()]
