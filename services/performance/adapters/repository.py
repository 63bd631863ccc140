"""Queries of the performance service; every one is scoped by org, and none of them commits.

`by_id` is the exception: an event consumer learns rows under the producer's ids and must tell
an id it never saw from one another org holds, so it checks the org itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.performance.adapters.orm import (
    Absence,
    Attainment,
    CrmSettings,
    EvaluationDue,
    Member,
    Period,
    PeriodClose,
    Sale,
    SaleCredit,
    ShortfallEpisode,
    Target,
    Team,
    TeamEvaluation,
    WebhookEvent,
    WebhookRejection,
    WebhookSecret,
)
from shared.http import keyset, page_of

M = TypeVar("M", bound=SQLModel)

CRM_COLUMNS = {
    "hubspot": Member.crm_hubspot,
    "salesforce": Member.crm_salesforce,
    "pipedrive": Member.crm_pipedrive,
}


class PerformanceRepository:
    """Reads and writes of one unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # Members by id, for this unit of work only: a sale looks up the same few members
        # several times (owner mapping, credits, the team's evaluation). Members are changed
        # through these same ORM objects, never by bulk SQL, so a remembered one is never stale.
        self._members: dict[uuid.UUID, Member] = {}

    def _insert(self, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
        dialect = self._session.bind.dialect.name if self._session.bind else "sqlite"
        return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)

    def add(self, row: Any) -> None:
        """Stage a new or changed row."""
        self._session.add(row)

    async def flush(self) -> None:
        """Send staged changes inside the transaction."""
        await self._session.flush()

    async def by_id(self, model: type[M], id: uuid.UUID) -> M | None:
        """A row by id, of whichever org (the caller checks the org)."""
        return await self._session.get(model, id)

    # -- read models ------------------------------------------------------------------------

    async def team(self, *, org_id: uuid.UUID, team_id: uuid.UUID) -> Team | None:
        """A team of the org."""
        team = await self.by_id(Team, team_id)
        return team if team is not None and team.org_id == org_id else None

    async def lock_team(self, *, org_id: uuid.UUID, team_id: uuid.UUID) -> None:
        """Hold the team's row until commit (PostgreSQL; SQLite has a single writer anyway)."""
        # Concurrent sales of one team then update its attainment rows one after the other
        # instead of deadlocking on them in different orders.
        await self._session.execute(
            select(Team.id).where(Team.id == team_id, Team.org_id == org_id).with_for_update()
        )

    async def member(self, *, org_id: uuid.UUID, member_id: uuid.UUID) -> Member | None:
        """A member of the org (also one who left)."""
        member = await self.by_id(Member, member_id)
        return member if member is not None and member.org_id == org_id else None

    async def forget_absence(self, *, org_id: uuid.UUID, absence_id: uuid.UUID) -> None:
        """Delete an absence of the org (an unknown one, or another org's, is left alone)."""
        absence = await self.by_id(Absence, absence_id)
        if absence is not None and absence.org_id == org_id:
            await self._session.delete(absence)

    async def absences(
        self, *, org_id: uuid.UUID, member_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, list[tuple[date, date]]]:
        """Known absences of members, as (first day, last day) pairs by member."""
        wanted = list(member_ids)
        found: dict[uuid.UUID, list[tuple[date, date]]] = {}
        if not wanted:
            return found
        stmt = select(Absence).where(
            Absence.org_id == org_id,
            col(Absence.member_id).in_(wanted),
        )
        for row in (await self._session.exec(stmt)).all():
            found.setdefault(row.member_id, []).append((row.starts_on, row.ends_on))
        return found

    async def members(
        self, *, org_id: uuid.UUID, ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, Member]:
        """Members of the org by id."""
        wanted = set(ids)
        missing = [m for m in wanted if m not in self._members]
        if missing:
            rows = await self._session.exec(select(Member).where(col(Member.id).in_(missing)))
            self._remember(*rows.all())
        found = (self._members.get(m) for m in wanted)
        return {m.id: m for m in found if m is not None and m.org_id == org_id}

    def _remember(self, *members: Member | None) -> None:
        self._members.update((m.id, m) for m in members if m is not None)

    async def member_for_owner(
        self, *, org_id: uuid.UUID, source: str, owner_ref: str | None, email: str | None
    ) -> Member | None:
        """Map a CRM owner to an active member: by the source's CRM id, else by e-mail."""
        column = CRM_COLUMNS.get(source)
        if column is not None and owner_ref:
            found = await self._session.exec(
                select(Member).where(Member.org_id == org_id, column == owner_ref, Member.active)
            )
            member = found.first()
            if member is not None:
                self._remember(member)
                return member
        if email:
            found = await self._session.exec(
                select(Member).where(
                    Member.org_id == org_id,
                    sa.func.lower(Member.email) == email.strip().lower(),
                    Member.active,
                )
            )
            member = found.first()
            self._remember(member)
            return member
        return None

    async def period(self, *, org_id: uuid.UUID, period_id: uuid.UUID) -> Period | None:
        """A period of the org."""
        period = await self.by_id(Period, period_id)
        return period if period is not None and period.org_id == org_id else None

    async def periods_containing(self, *, org_id: uuid.UUID, instant: datetime) -> list[Period]:
        """Every period of the org whose [starts_at, ends_at) holds the instant."""
        at = instant
        rows = await self._session.exec(
            select(Period).where(
                Period.org_id == org_id, Period.starts_at <= at, Period.ends_at > at
            )
        )
        return list(rows.all())

    async def timezone_for_day(self, *, org_id: uuid.UUID, day: date) -> str:
        """The time zone of a period covering a calendar day (UTC when none does)."""
        rows = await self._session.exec(
            select(Period.timezone).where(
                Period.org_id == org_id, Period.starts_on <= day, Period.ends_on >= day
            )
        )
        return rows.first() or "UTC"

    async def targets_by_ids(self, target_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Target]:
        """Targets by id, of whichever org (the caller checks the org)."""
        wanted = list(set(target_ids))
        if not wanted:
            return {}
        rows = await self._session.exec(select(Target).where(col(Target.id).in_(wanted)))
        return {t.id: t for t in rows.all()}

    async def targets(self, *, team_id: uuid.UUID, period_id: uuid.UUID) -> list[Target]:
        """The team's individual targets for a period."""
        rows = await self._session.exec(
            select(Target).where(Target.team_id == team_id, Target.period_id == period_id)
        )
        return list(rows.all())

    async def pace_page(
        self,
        *,
        org_id: uuid.UUID,
        team_id: uuid.UUID,
        period_id: uuid.UUID,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[sa.Row[Any]], str | None]:
        """A page of the team's targeted active members with what their pace needs: one query.

        Plain rows, not ORM objects: hydrating 600 entities was most of a page's time.
        """
        target, member, attainment = Target.__table__, Member.__table__, Attainment.__table__
        stmt = (
            sa.select(
                target.c.id,
                target.c.version,
                target.c.member_id,
                target.c.amount_minor,
                target.c.currency,
                member.c.starts_on,
                member.c.ramp_schedule,
                attainment.c.achieved_minor,
                attainment.c.status,
            )
            .join(member, member.c.id == target.c.member_id)
            .outerjoin(
                attainment,
                sa.and_(
                    attainment.c.member_id == target.c.member_id,
                    attainment.c.period_id == target.c.period_id,
                ),
            )
            .where(
                target.c.team_id == team_id,
                target.c.period_id == period_id,
                member.c.org_id == org_id,
                member.c.active.is_(True),
            )
        )
        rows = (
            await self._session.execute(keyset(stmt, [target.c.member_id], cursor, limit))
        ).all()
        return page_of(rows, limit, lambda row: (row.member_id,))

    async def member_targets(self, *, member_id: uuid.UUID) -> list[Target]:
        """Every target of a member."""
        rows = await self._session.exec(select(Target).where(Target.member_id == member_id))
        return list(rows.all())

    # -- webhook secrets --------------------------------------------------------------------

    async def active_secrets(
        self, *, org_id: uuid.UUID, source: str, now: datetime
    ) -> list[WebhookSecret]:
        """Secrets valid now, newest first."""
        rows = await self._session.exec(
            select(WebhookSecret)
            .where(
                WebhookSecret.org_id == org_id,
                WebhookSecret.source == source,
                sa.or_(
                    col(WebhookSecret.valid_until).is_(None),
                    col(WebhookSecret.valid_until) > now,
                ),
            )
            .order_by(col(WebhookSecret.created_at).desc())
        )
        return list(rows.all())

    async def crm_settings(self, *, org_id: uuid.UUID, source: str) -> CrmSettings | None:
        """The org's settings for a CRM source, if it set any."""
        return await self._session.get(CrmSettings, (org_id, source))

    async def rejection_count(self) -> int:
        """How many rejected-delivery records are kept now."""
        result = await self._session.execute(
            sa.select(sa.func.count()).select_from(WebhookRejection)
        )
        return int(result.scalar_one())

    async def purge_rejections(self, *, before: datetime) -> int:
        """Forget rejected-delivery records received before an instant."""
        result = await self._session.exec(
            sa.delete(WebhookRejection).where(col(WebhookRejection.received_at) < before)
        )
        return result.rowcount or 0

    async def claim_webhook_event(self, row: Mapping[str, Any]) -> bool:
        """Record a CRM change; False when (org, source, dedupe key) was already recorded.

        ON CONFLICT DO NOTHING waits for a concurrent inserter to finish, so of two
        simultaneous deliveries exactly one sees True.
        """
        table = WebhookEvent.__table__
        result = await self._session.exec(
            self._insert(table).values(**row).on_conflict_do_nothing()
        )
        return result.rowcount == 1

    # -- sales ------------------------------------------------------------------------------

    async def sale(self, *, org_id: uuid.UUID, sale_id: uuid.UUID) -> Sale | None:
        """A sale of the org."""
        sale = await self._session.get(Sale, sale_id)
        return sale if sale is not None and sale.org_id == org_id else None

    async def sale_by_external_id(
        self, *, org_id: uuid.UUID, source: str, external_id: str
    ) -> Sale | None:
        """The sale a CRM deal became."""
        rows = await self._session.exec(
            select(Sale).where(
                Sale.org_id == org_id, Sale.source == source, Sale.external_id == external_id
            )
        )
        return rows.first()

    async def credits(self, *, sale_id: uuid.UUID) -> list[SaleCredit]:
        """The credit rows of a sale."""
        rows = await self._session.exec(select(SaleCredit).where(SaleCredit.sale_id == sale_id))
        return list(rows.all())

    async def credits_of(self, sale_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[SaleCredit]]:
        """Credit rows of several sales."""
        wanted = list(sale_ids)
        result: dict[uuid.UUID, list[SaleCredit]] = {s: [] for s in wanted}
        if wanted:
            rows = await self._session.exec(
                select(SaleCredit).where(col(SaleCredit.sale_id).in_(wanted))
            )
            for credit in rows.all():
                result[credit.sale_id].append(credit)
        return result

    async def replace_credits(
        self,
        *,
        sale_id: uuid.UUID,
        credits: Mapping[uuid.UUID, tuple[str, int]],
        new_sale: bool = False,
    ) -> None:
        """Replace a sale's credit rows with member -> (percent, credited_minor)."""
        if not new_sale:  # a sale inserted in this unit of work has no rows to delete
            await self._session.execute(
                sa.delete(SaleCredit.__table__).where(SaleCredit.__table__.c.sale_id == sale_id)
            )
        for member_id, (percent, minor) in credits.items():
            self._session.add(
                SaleCredit.model_validate(
                    {
                        "sale_id": sale_id,
                        "member_id": member_id,
                        "percent": percent,
                        "credited_minor": minor,
                    }
                )
            )
        await self._session.flush()

    async def list_sales(
        self,
        *,
        org_id: uuid.UUID,
        member_id: uuid.UUID | None,
        period: Period | None,
        unassigned: bool | None,
        team_ids: set[uuid.UUID] | None,
        credited_to: uuid.UUID | None,
        cursor: str | None,
        limit: int,
    ) -> list[Sale]:
        """Sales of the org by close time, filtered; team_ids/credited_to narrow by role."""
        stmt = select(Sale).where(Sale.org_id == org_id)
        for member in {m for m in (member_id, credited_to) if m is not None}:
            stmt = stmt.where(
                col(Sale.id).in_(select(SaleCredit.sale_id).where(SaleCredit.member_id == member))
            )
        if period is not None:
            stmt = stmt.where(Sale.closed_at >= period.starts_at, Sale.closed_at < period.ends_at)
        if unassigned is not None:
            stmt = stmt.where(Sale.unassigned == unassigned)
        if team_ids is not None:
            # Managers see their teams' sales and the unassigned ones they may assign.
            stmt = stmt.where(sa.or_(col(Sale.team_id).in_(team_ids), col(Sale.unassigned)))
        stmt = keyset(stmt, [col(Sale.closed_at), col(Sale.id)], cursor, limit)
        return list((await self._session.exec(stmt)).all())

    # -- attainment -------------------------------------------------------------------------

    async def add_achieved(
        self,
        *,
        org_id: uuid.UUID,
        team_id: uuid.UUID,
        member_id: uuid.UUID,
        period_id: uuid.UUID,
        delta_minor: int,
    ) -> None:
        """Add to a member's achieved amount atomically (no read-modify-write race)."""
        table = Attainment.__table__
        insert = self._insert(table).values(
            id=uuid.uuid4(),
            org_id=org_id,
            team_id=team_id,
            member_id=member_id,
            period_id=period_id,
            achieved_minor=delta_minor,
        )
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=["member_id", "period_id"],
                set_={"achieved_minor": table.c.achieved_minor + insert.excluded.achieved_minor},
            )
        )

    async def ensure_attainments(
        self,
        *,
        org_id: uuid.UUID,
        team_id: uuid.UUID,
        period_id: uuid.UUID,
        member_ids: list[uuid.UUID],
    ) -> None:
        """Create the missing attainment rows of members for a period, in one statement."""
        if not member_ids:
            return
        rows = [
            {
                "id": uuid.uuid4(),
                "org_id": org_id,
                "team_id": team_id,
                "member_id": member_id,
                "period_id": period_id,
                "achieved_minor": 0,
            }
            for member_id in member_ids
        ]
        await self._session.execute(
            self._insert(Attainment.__table__).values(rows).on_conflict_do_nothing()
        )

    async def ensure_attainment(
        self, *, org_id: uuid.UUID, team_id: uuid.UUID, member_id: uuid.UUID, period_id: uuid.UUID
    ) -> None:
        """Create a member's attainment row for a period if it is missing."""
        await self._session.execute(
            self._insert(Attainment.__table__)
            .values(
                id=uuid.uuid4(),
                org_id=org_id,
                team_id=team_id,
                member_id=member_id,
                period_id=period_id,
                achieved_minor=0,
            )
            .on_conflict_do_nothing()
        )

    async def attainments(
        self, *, period_id: uuid.UUID, member_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, Attainment]:
        """Attainment rows of members in a period, by member."""
        wanted = list(member_ids)
        if not wanted:
            return {}
        rows = await self._session.exec(
            select(Attainment)
            .where(Attainment.period_id == period_id, col(Attainment.member_id).in_(wanted))
            # Achieved amounts are bumped with SQL upserts; never trust a cached row.
            .execution_options(populate_existing=True)
        )
        return {a.member_id: a for a in rows.all()}

    async def recompute_period(self, *, org_id: uuid.UUID, period: Period) -> None:
        """Rebuild achieved amounts of a period just learned of (one scan, once per period)."""
        table = Attainment.__table__
        await self._session.execute(
            sa.update(table).where(table.c.period_id == period.id).values(achieved_minor=0)
        )
        rows = await self._session.execute(
            sa.select(
                col(SaleCredit.member_id),
                col(Sale.team_id),
                sa.func.sum(SaleCredit.credited_minor),
            )
            .join(Sale, col(Sale.id) == SaleCredit.sale_id)
            .where(
                col(Sale.org_id) == org_id,
                col(Sale.status) == "active",
                sa.not_(col(Sale.currency_mismatch)),
                col(Sale.team_id).is_not(None),
                col(Sale.closed_at) >= period.starts_at,
                col(Sale.closed_at) < period.ends_at,
            )
            .group_by(col(SaleCredit.member_id), col(Sale.team_id))
        )
        for member_id, team_id, total in rows.all():
            await self.add_achieved(
                org_id=org_id,
                team_id=team_id,
                member_id=member_id,
                period_id=period.id,
                delta_minor=int(total or 0),
            )

    # -- episodes and closes ----------------------------------------------------------------

    async def episodes_of(
        self, *, period_id: uuid.UUID, member_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, list[ShortfallEpisode]]:
        """Shortfall episodes of several members in a period, oldest first, by member."""
        wanted = list(member_ids)
        result: dict[uuid.UUID, list[ShortfallEpisode]] = {m: [] for m in wanted}
        if wanted:
            rows = await self._session.exec(
                select(ShortfallEpisode)
                .where(
                    ShortfallEpisode.period_id == period_id,
                    col(ShortfallEpisode.member_id).in_(wanted),
                )
                .order_by(col(ShortfallEpisode.episode))
            )
            for episode in rows.all():
                result[episode.member_id].append(episode)
        return result

    async def open_episode(self, row: Mapping[str, Any]) -> bool:
        """Insert an episode; False when another evaluation already opened that number."""
        result = await self._session.exec(
            self._insert(ShortfallEpisode.__table__).values(**row).on_conflict_do_nothing()
        )
        return result.rowcount == 1

    async def evaluation_state(
        self, *, team_id: uuid.UUID, period_id: uuid.UUID
    ) -> TeamEvaluation | None:
        """What the last team shortfall event of a (team, period) said."""
        return await self._session.get(TeamEvaluation, (team_id, period_id))

    async def mark_evaluation_due(
        self, *, org_id: uuid.UUID, team_id: uuid.UUID, period_id: uuid.UUID, at: datetime
    ) -> None:
        """Ask for an evaluation of a (team, period) once its sales settle."""
        stmt = self._insert(EvaluationDue.__table__).values(
            org_id=org_id, team_id=team_id, period_id=period_id, first_at=at, last_at=at, marks=1
        )
        await self._session.execute(
            stmt.on_conflict_do_update(
                index_elements=["team_id", "period_id"],
                set_={
                    "last_at": stmt.excluded.last_at,
                    "marks": EvaluationDue.__table__.c.marks + 1,
                },
            )
        )

    async def settled_evaluations(
        self, *, quiet_since: datetime, waiting_since: datetime, limit: int
    ) -> list[EvaluationDue]:
        """Due evaluations whose burst went quiet, or that waited too long already."""
        stmt = (
            select(EvaluationDue)
            .where(
                sa.or_(
                    col(EvaluationDue.last_at) <= quiet_since,
                    col(EvaluationDue.first_at) <= waiting_since,
                ),
                # An import still running would be evaluated on half its data.
                col(EvaluationDue.held_by).is_(None),
            )
            .order_by(col(EvaluationDue.first_at))
            .limit(limit)
        )
        return list((await self._session.exec(stmt)).all())

    async def take_due(self, row: EvaluationDue) -> bool:
        """Remove a due row as it was read; False if a sale touched it since or a replica took it."""
        result = await self._session.exec(
            sa.delete(EvaluationDue).where(
                col(EvaluationDue.team_id) == row.team_id,
                col(EvaluationDue.period_id) == row.period_id,
                col(EvaluationDue.marks) == row.marks,
            )
        )
        return result.rowcount == 1

    async def close_period_once(self, row: Mapping[str, Any]) -> bool:
        """Mark a (team, period) closed; False when it already was."""
        result = await self._session.exec(
            self._insert(PeriodClose.__table__).values(**row).on_conflict_do_nothing()
        )
        return result.rowcount == 1

    async def team_periods_between(
        self, *, ended_by: datetime | None = None, open_at: datetime | None = None
    ) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
        """(org, team, period) pairs with targets: periods ended by an instant, or open at one."""
        stmt = sa.select(col(Target.org_id), col(Target.team_id), col(Target.period_id)).join(
            Period, col(Period.id) == Target.period_id
        )
        if ended_by is not None:
            closed = sa.select(col(PeriodClose.team_id)).where(
                col(PeriodClose.team_id) == Target.team_id,
                col(PeriodClose.period_id) == Target.period_id,
            )
            stmt = stmt.where(col(Period.ends_at) <= ended_by, ~sa.exists(closed))
        if open_at is not None:
            stmt = stmt.where(col(Period.starts_at) <= open_at, col(Period.ends_at) > open_at)
        rows = await self._session.execute(stmt.distinct())
        return [(o, t, p) for o, t, p in rows.all()]
