"""Set-based reads and writes of a batch of deal changes: a few statements per batch, not per sale."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.performance.adapters.orm import (
    Attainment,
    EvaluationDue,
    Member,
    Period,
    Sale,
    SaleCredit,
    Team,
    WebhookEvent,
)
from services.performance.domain.deal_changes import MemberRef, PeriodSpan, SaleKey, Snapshot
from services.performance.domain.sale import SaleState, Share

_SALE = Sale.__table__
_CREDIT = SaleCredit.__table__
_MEMBER = Member.__table__
_DUE = EvaluationDue.__table__
#: The sale columns a batch writes (every column but the key).
_SALE_COLUMNS = (
    "org_id team_id source external_id amount_minor currency currency_assumed currency_mismatch "
    "closed_at status unassigned owner_ref owner_email version created_at updated_at"
).split()


class StaleSale(Exception):
    """A sale changed under the batch (a manual edit between its read and its write)."""


class BatchRepository:
    """Reads what a batch of deal changes needs in a few queries, and writes its plan in bulk."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _insert(self, table: Any) -> Any:
        dialect = self._session.bind.dialect.name if self._session.bind else "sqlite"
        return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)

    # -- reads ------------------------------------------------------------------------------

    async def members_by_id(self, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Member]:
        """Known members by id, of whichever org (the caller checks the org)."""
        rows = await self._session.exec(select(Member).where(col(Member.id).in_(list(ids))))
        return {m.id: m for m in rows.all()}

    async def snapshot(
        self,
        *,
        sale_keys: set[SaleKey],
        owners: set[tuple[uuid.UUID, str | None, str | None]],
    ) -> Snapshot:
        """Sales of the deals, their credits, the members and teams involved, the orgs' periods."""
        orgs = {org for org, _, _ in sale_keys} | {org for org, _, _ in owners}
        sales = await self._sales(sale_keys)
        credited = {m for s in sales.values() for m, _, _ in s.credits}
        members = await self._members(orgs, owners, credited)
        teams = {m.team_id for m in members.values()} | {
            s.team_id for s in sales.values() if s.team_id is not None
        }
        return Snapshot(
            sales=sales,
            members=members,
            team_currencies=await self._currencies(teams),
            periods=await self._periods(orgs),
        )

    async def _sales(self, keys: set[SaleKey]) -> dict[SaleKey, SaleState]:
        if not keys:
            return {}
        stmt = sa.select(_SALE).where(
            _SALE.c.org_id.in_({k[0] for k in keys}),
            _SALE.c.source.in_({k[1] for k in keys}),
            _SALE.c.external_id.in_({k[2] for k in keys}),
        )
        rows = [r for r in (await self._session.execute(stmt)).mappings() if _key(r) in keys]
        credits: dict[uuid.UUID, list[Share]] = {r["id"]: [] for r in rows}
        if rows:
            found = await self._session.execute(
                sa.select(
                    _CREDIT.c.sale_id,
                    _CREDIT.c.member_id,
                    _CREDIT.c.percent,
                    _CREDIT.c.credited_minor,
                )
                .where(_CREDIT.c.sale_id.in_(list(credits)))
                .order_by(_CREDIT.c.sale_id, _CREDIT.c.member_id)
            )
            for sale_id, member_id, percent, minor in found:
                credits[sale_id].append(Share(member_id, percent, minor))
        return {_key(r): _sale_state(r, credits[r["id"]]) for r in rows}

    async def _members(
        self,
        orgs: set[uuid.UUID],
        owners: set[tuple[uuid.UUID, str | None, str | None]],
        ids: set[uuid.UUID],
    ) -> dict[uuid.UUID, MemberRef]:
        refs = {ref for _, ref, _ in owners if ref}
        emails = {email.strip().lower() for _, _, email in owners if email}
        wanted = [_MEMBER.c.id.in_(ids)] if ids else []
        if emails:
            wanted.append(sa.func.lower(_MEMBER.c.email).in_(emails))
        if refs:
            wanted += [
                _MEMBER.c[column].in_(refs)
                for column in ("crm_hubspot", "crm_salesforce", "crm_pipedrive")
            ]
        if not wanted or not orgs:
            return {}
        stmt = sa.select(_MEMBER).where(_MEMBER.c.org_id.in_(orgs), sa.or_(*wanted))
        return {
            r["id"]: MemberRef(
                id=r["id"],
                org_id=r["org_id"],
                team_id=r["team_id"],
                email=r["email"],
                crm={
                    "hubspot": r["crm_hubspot"],
                    "salesforce": r["crm_salesforce"],
                    "pipedrive": r["crm_pipedrive"],
                },
                active=r["active"],
            )
            for r in (await self._session.execute(stmt)).mappings()
        }

    async def _currencies(self, team_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not team_ids:
            return {}
        table = Team.__table__
        stmt = sa.select(table.c.id, table.c.currency).where(table.c.id.in_(team_ids))
        return {team_id: currency for team_id, currency in await self._session.execute(stmt)}

    async def _periods(self, orgs: set[uuid.UUID]) -> dict[uuid.UUID, list[PeriodSpan]]:
        if not orgs:
            return {}
        table = Period.__table__
        stmt = (
            sa.select(table).where(table.c.org_id.in_(orgs)).order_by(table.c.starts_at, table.c.id)
        )
        result: dict[uuid.UUID, list[PeriodSpan]] = {}
        for r in (await self._session.execute(stmt)).mappings():
            result.setdefault(r["org_id"], []).append(
                PeriodSpan(
                    id=r["id"],
                    org_id=r["org_id"],
                    starts_at=r["starts_at"],
                    ends_at=r["ends_at"],
                    starts_on=r["starts_on"],
                    ends_on=r["ends_on"],
                    timezone=r["timezone"],
                )
            )
        return result

    # -- writes -----------------------------------------------------------------------------

    async def lock_teams(self, team_ids: Iterable[uuid.UUID]) -> None:
        """Hold the teams' rows until commit, in one order (PostgreSQL; SQLite has one writer)."""
        ordered = sorted(set(team_ids), key=str)
        if (
            ordered
            and self._session.bind is not None
            and self._session.bind.dialect.name != "sqlite"
        ):
            table = Team.__table__
            await self._session.execute(
                sa.select(table.c.id)
                .where(table.c.id.in_(ordered))
                .order_by(table.c.id)
                .with_for_update()
            )

    async def write_sales(self, changed: Sequence[tuple[SaleState | None, SaleState]]) -> None:
        """Insert new sales, update changed ones (refusing a stale one), replace changed credits."""
        new = [_sale_row(after) for before, after in changed if before is None]
        if new:
            await self._session.execute(_SALE.insert(), new)
        for before, after in changed:
            if before is None:
                continue
            result = await self._session.execute(
                _SALE.update()
                .where(_SALE.c.id == before.id, _SALE.c.version == before.version)
                .values(**{k: v for k, v in _sale_row(after).items() if k != "id"})
            )
            if result.rowcount != 1:
                raise StaleSale(f"sale {before.id} changed while the batch applied")
        recredited = [
            after for before, after in changed if before is None or before.credits != after.credits
        ]
        replaced = [
            after.id for before, after in changed if before and before.credits != after.credits
        ]
        if replaced:
            await self._session.execute(_CREDIT.delete().where(_CREDIT.c.sale_id.in_(replaced)))
        credits = [
            {
                "id": uuid.uuid4(),
                "sale_id": sale.id,
                "member_id": member_id,
                "percent": percent,
                "credited_minor": minor,
            }
            for sale in recredited
            for member_id, percent, minor in sale.credits
        ]
        if credits:
            await self._session.execute(_CREDIT.insert(), credits)

    async def add_achieved(
        self, org_of: Mapping[uuid.UUID, uuid.UUID], deltas: Mapping[tuple[uuid.UUID, ...], int]
    ) -> None:
        """One upsert per touched (member, period), adding the batch's summed delta."""
        if not deltas:
            return
        table = Attainment.__table__
        stmt = self._insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["member_id", "period_id"],
            set_={"achieved_minor": table.c.achieved_minor + stmt.excluded.achieved_minor},
        )
        rows = [
            {
                "id": uuid.uuid4(),
                "org_id": org_of[team_id],
                "team_id": team_id,
                "member_id": member_id,
                "period_id": period_id,
                "achieved_minor": delta,
                "status": None,
                "reported_status": None,
                "reported_achieved_minor": None,
                "evaluated_at": None,
            }
            # Sorted, so two writers meet the rows in one order (no deadlock).
            for (member_id, team_id, period_id), delta in sorted(
                deltas.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][2]))
            )
        ]
        await self._session.execute(stmt, rows)

    async def mark_due(
        self,
        due: Iterable[tuple[uuid.UUID, uuid.UUID, uuid.UUID]],
        *,
        at: datetime,
        held_by: uuid.UUID | None = None,
    ) -> None:
        """One evaluation_due mark per (team, period); ``held_by`` an import holds them back."""
        rows = [
            {
                "org_id": org_id,
                "team_id": team_id,
                "period_id": period_id,
                "first_at": at,
                "last_at": at,
                "marks": 1,
                "held_by": held_by,
            }
            for org_id, team_id, period_id in sorted(due, key=str)
        ]
        if not rows:
            return
        stmt = self._insert(_DUE)
        stmt = stmt.on_conflict_do_update(
            index_elements=["team_id", "period_id"],
            set_={
                "last_at": stmt.excluded.last_at,
                "marks": _DUE.c.marks + 1,
                "held_by": sa.func.coalesce(stmt.excluded.held_by, _DUE.c.held_by),
            },
        )
        await self._session.execute(stmt, rows)

    async def insert_members(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add new members in one statement."""
        await self._session.execute(_MEMBER.insert(), list(rows))

    async def claim(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Record the batch's changes as applied; the unique key still refuses a second one."""
        if rows:
            await self._session.execute(WebhookEvent.__table__.insert(), list(rows))

    async def refresh_statistics(self) -> None:
        """PostgreSQL: re-read the planner's statistics of the tables a bulk load grows.

        A fresh table loaded in one go keeps its first estimate (a row or two), and the plan
        for a batch's key lookups then filters every sale of the org instead of seeking each.
        """
        if self._session.bind is not None and self._session.bind.dialect.name == "postgresql":
            await self._session.execute(sa.text("ANALYZE sale, sale_credit, webhook_event"))

    async def release_held(self, *, held_by: uuid.UUID, at: datetime) -> None:
        """Let the evaluations an import held run once its burst is quiet."""
        await self._session.execute(
            _DUE.update().where(_DUE.c.held_by == held_by).values(held_by=None, last_at=at)
        )


def _key(row: Mapping[str, Any]) -> SaleKey:
    return (row["org_id"], row["source"], row["external_id"])


def _sale_state(row: Mapping[str, Any], credits: list[Share]) -> SaleState:
    return SaleState(
        id=row["id"],
        org_id=row["org_id"],
        source=row["source"],
        external_id=row["external_id"],
        amount_minor=row["amount_minor"],
        currency=row["currency"],
        currency_assumed=row["currency_assumed"],
        currency_mismatch=row["currency_mismatch"],
        closed_at=row["closed_at"],
        status=row["status"],
        unassigned=row["unassigned"],
        team_id=row["team_id"],
        owner_ref=row["owner_ref"],
        owner_email=row["owner_email"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        competitor=row["competitor"],
        loss_reasons=tuple(row["loss_reasons"] or ()),
        credits=tuple(credits),
    )


def _sale_row(sale: SaleState) -> dict[str, Any]:
    return {"id": sale.id, **{column: getattr(sale, column) for column in _SALE_COLUMNS}}
