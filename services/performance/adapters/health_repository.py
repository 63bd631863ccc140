"""Queries behind a CRM connection's health: indexed, a handful of rows each; none commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.performance.adapters.orm import (
    FAILED_OUTCOMES,
    WebhookDelivery,
    WebhookRefusal,
    WebhookSecret,
)


class HealthRepository:
    """Reads of deliveries, secrets and refusals per source, and the refusal counter."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _insert(self) -> Any:
        dialect = self._session.bind.dialect.name if self._session.bind else "sqlite"
        module = postgresql if dialect == "postgresql" else sqlite
        return module.insert(WebhookRefusal.__table__)

    async def count_refusal(self, row: Mapping[str, Any]) -> None:
        """Add one refusal to its (org, source, hour) counter: one row however many arrive."""
        table = WebhookRefusal.__table__
        stmt = self._insert().values(**row, refused=1)
        await self._session.execute(
            stmt.on_conflict_do_update(
                index_elements=[table.c.org_id, table.c.source, table.c.hour],
                set_={
                    "refused": table.c.refused + 1,
                    "last_at": stmt.excluded.last_at,
                    "last_reason": stmt.excluded.last_reason,
                    "last_error": stmt.excluded.last_error,
                },
            )
        )

    async def purge_refusals(self, *, before: datetime) -> int:
        """Forget refusal counters of hours before an instant."""
        result = await self._session.exec(
            sa.delete(WebhookRefusal).where(col(WebhookRefusal.hour) < before)
        )
        return result.rowcount or 0

    async def secrets_since(self, *, org_id: uuid.UUID, now: datetime) -> dict[str, datetime]:
        """For each source with a valid secret, when its newest one became active."""
        rows = await self._session.execute(
            sa.select(col(WebhookSecret.source), sa.func.max(WebhookSecret.created_at))
            .where(
                col(WebhookSecret.org_id) == org_id,
                sa.or_(
                    col(WebhookSecret.valid_until).is_(None),
                    col(WebhookSecret.valid_until) > now,
                ),
            )
            .group_by(col(WebhookSecret.source))
        )
        return {source: at for source, at in rows.all()}

    async def outcome_counts(
        self, *, org_id: uuid.UUID, sources: Iterable[str], since: datetime
    ) -> dict[tuple[str, str], int]:
        """Deliveries received since an instant, by (source, outcome)."""
        # Naming the sources lets the (org, source, received_at) index bound each range to the
        # last day, instead of reading every delivery the org ever had.
        rows = await self._session.execute(
            sa.select(col(WebhookDelivery.source), col(WebhookDelivery.outcome), sa.func.count())
            .where(
                col(WebhookDelivery.org_id) == org_id,
                col(WebhookDelivery.source).in_(list(sources)),
                col(WebhookDelivery.received_at) >= since,
            )
            .group_by(col(WebhookDelivery.source), col(WebhookDelivery.outcome))
        )
        return {(source, outcome): int(n) for source, outcome, n in rows.all()}

    async def latest(
        self, *, org_id: uuid.UUID, sources: Iterable[str]
    ) -> dict[tuple[str, str], sa.Row[Any]]:
        """Each source's newest delivery ("last") and newest failed one ("error"), in one query.

        Each part is an index seek: (org, source, received_at) for the newest, and the partial
        index of failed deliveries for the failure, however many deliveries there are.
        """
        d = WebhookDelivery.__table__.c
        shown = (d.id, d.received_at, d.outcome, d.error, d.processed_at)
        parts = []
        for source in sources:
            base = sa.select(*shown).where(d.org_id == org_id, d.source == source)
            newest = base.order_by(d.received_at.desc()).limit(1)
            failed = base.where(sa.text(FAILED_OUTCOMES)).order_by(d.processed_at.desc()).limit(1)
            for kind, query in (("last", newest), ("error", failed)):
                sub = query.subquery()
                parts.append(
                    sa.select(
                        sa.literal(source).label("source"), sa.literal(kind).label("kind"), *sub.c
                    )
                )
        if not parts:
            return {}
        rows = (await self._session.execute(sa.union_all(*parts))).all()
        return {(row.source, row.kind): row for row in rows}

    async def refusals(self, *, org_id: uuid.UUID) -> list[WebhookRefusal]:
        """The org's refusal counters: a row per source and hour within the retention."""
        rows = await self._session.exec(
            select(WebhookRefusal).where(WebhookRefusal.org_id == org_id)
        )
        return list(rows.all())
