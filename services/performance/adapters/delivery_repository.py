"""Queries of stored webhook deliveries: the processor's queue and the admin's log."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.performance.adapters.orm import WebhookDelivery, WebhookEvent
from shared.http import keyset

#: Outcomes the processor still has to take.
PENDING = ("received", "fetching")
#: One processor per database applies batches, so a team's sales apply in arrival order.
_PROCESSOR_LOCK = 0x5E11_DE11


class DeliveryRepository:
    """Reads and writes of deliveries in one unit of work; none of them commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @property
    def _postgres(self) -> bool:
        return self._session.bind is not None and self._session.bind.dialect.name == "postgresql"

    async def pending(self, *, now: datetime, limit: int) -> list[WebhookDelivery]:
        """The oldest deliveries waiting to be applied, whose retry (if any) is due."""
        stmt = (
            select(WebhookDelivery)
            .where(
                col(WebhookDelivery.outcome).in_(PENDING),
                sa.or_(
                    col(WebhookDelivery.next_attempt_at).is_(None),
                    col(WebhookDelivery.next_attempt_at) <= now,
                ),
            )
            .order_by(col(WebhookDelivery.arrival), col(WebhookDelivery.id))
            .limit(limit)
        )
        return list((await self._session.exec(stmt)).all())

    async def hold_processor(self) -> bool:
        """Become this transaction's only batch processor; False when another replica is one.

        SQLite: a write statement first, so this transaction holds the single write lock before
        it reads the batch (pysqlite would otherwise begin it only at the first write, and a
        second process could apply the same rows from its reads in between).
        """
        if not self._postgres:
            table = WebhookDelivery.__table__
            await self._session.execute(
                sa.update(table).where(sa.false()).values(outcome=table.c.outcome)
            )
            return True
        taken = await self._session.execute(
            sa.select(sa.func.pg_try_advisory_xact_lock(_PROCESSOR_LOCK))
        )
        return bool(taken.scalar_one())

    async def lock(self, ids: Iterable[uuid.UUID]) -> list[WebhookDelivery]:
        """Those of the deliveries still pending, locked until commit, in arrival order."""
        stmt = (
            select(WebhookDelivery)
            .where(
                col(WebhookDelivery.id).in_(list(ids)), col(WebhookDelivery.outcome).in_(PENDING)
            )
            .order_by(col(WebhookDelivery.arrival), col(WebhookDelivery.id))
        )
        if self._postgres:
            # A reprocess request or a second replica never waits on this batch's rows.
            stmt = stmt.with_for_update(skip_locked=True)
        return list(
            (await self._session.exec(stmt.execution_options(populate_existing=True))).all()
        )

    async def applied_keys(
        self, keys: Iterable[tuple[uuid.UUID, str, str]]
    ) -> set[tuple[uuid.UUID, str, str]]:
        """Which of the (org, source, dedupe key) were applied already: one query per batch."""
        wanted = set(keys)
        if not wanted:
            return set()
        table = WebhookEvent.__table__
        # All three columns, in the unique key's order: an index lookup, not a scan per batch.
        stmt = sa.select(table.c.org_id, table.c.source, table.c.dedupe_key).where(
            table.c.org_id.in_({o for o, _, _ in wanted}),
            table.c.source.in_({s for _, s, _ in wanted}),
            table.c.dedupe_key.in_(sorted({k for _, _, k in wanted})),
        )
        found = {(r.org_id, r.source, r.dedupe_key) for r in await self._session.execute(stmt)}
        return found & wanted

    async def claim(self, row: dict[str, object]) -> None:
        """Record a change as applied; the unique key still refuses a second one."""
        await self._session.execute(WebhookEvent.__table__.insert().values(**row))

    async def get(self, *, org_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery | None:
        """A delivery of the org."""
        delivery = await self._session.get(WebhookDelivery, delivery_id)
        return delivery if delivery is not None and delivery.org_id == org_id else None

    async def verified_carrying(
        self, *, org_id: uuid.UUID, source: str, external_id: str
    ) -> list[WebhookDelivery]:
        """The signature-checked deliveries that carried a deal, in arrival order."""
        ids = select(WebhookEvent.delivery_id).where(
            WebhookEvent.org_id == org_id,
            WebhookEvent.source == source,
            WebhookEvent.external_id == external_id,
        )
        stmt = (
            select(WebhookDelivery)
            .where(col(WebhookDelivery.id).in_(ids), col(WebhookDelivery.verified).is_(True))
            .order_by(col(WebhookDelivery.arrival))
        )
        return list((await self._session.exec(stmt)).all())

    async def page(
        self,
        *,
        org_id: uuid.UUID,
        source: str | None,
        outcome: str | None,
        cursor: str | None,
        limit: int,
    ) -> list[WebhookDelivery]:
        """Deliveries of the org in arrival order, filtered; one row more than the limit."""
        stmt = select(WebhookDelivery).where(WebhookDelivery.org_id == org_id)
        if source is not None:
            stmt = stmt.where(WebhookDelivery.source == source)
        if outcome is not None:
            stmt = stmt.where(WebhookDelivery.outcome == outcome)
        stmt = keyset(stmt, [col(WebhookDelivery.arrival), col(WebhookDelivery.id)], cursor, limit)
        return list((await self._session.exec(stmt)).all())
