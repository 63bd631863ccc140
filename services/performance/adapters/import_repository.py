"""Reads and writes of bulk sale imports and their rows; none of them commits."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.performance.adapters.orm import SaleImport, SaleImportRow

_ROW = SaleImportRow.__table__
#: Rows per INSERT while storing.
_CHUNK = 1000
UNFINISHED = ("queued", "running")


class ImportRepository:
    """The imports of one unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Store an import's rows, a chunk per statement."""
        for start in range(0, len(rows), _CHUNK):
            await self._session.execute(_ROW.insert(), list(rows[start : start + _CHUNK]))

    async def oldest_unfinished(self) -> SaleImport | None:
        """The import to work on next, of whichever org."""
        found = await self._session.exec(
            select(SaleImport)
            .where(col(SaleImport.state).in_(UNFINISHED))
            .order_by(col(SaleImport.created_at), col(SaleImport.id))
            .limit(1)
        )
        return found.first()

    async def pending_rows(self, *, import_id: uuid.UUID, limit: int) -> list[Any]:
        """The next rows still to apply (id, payload), in line order."""
        rows = await self._session.execute(
            sa.select(_ROW.c.id, _ROW.c.payload)
            .where(_ROW.c.import_id == import_id, _ROW.c.outcome == "pending")
            .order_by(_ROW.c.line)
            .limit(limit)
        )
        return list(rows.all())

    async def mark_rows(self, marks: Sequence[Mapping[str, Any]]) -> None:
        """Record each row's outcome: {row_id, new_outcome, new_error} per row."""
        await self._session.execute(
            _ROW.update()
            .where(_ROW.c.id == sa.bindparam("row_id"))
            .values(outcome=sa.bindparam("new_outcome"), error=sa.bindparam("new_error")),
            list(marks),
        )

    async def get(self, *, org_id: uuid.UUID, import_id: uuid.UUID) -> SaleImport | None:
        """An import of the org."""
        record = await self._session.get(SaleImport, import_id)
        return record if record is not None and record.org_id == org_id else None

    async def row_errors(self, *, import_id: uuid.UUID, limit: int) -> list[tuple[int, str]]:
        """The first refused rows of an import (line, error), in line order."""
        errors = await self._session.execute(
            sa.select(_ROW.c.line, _ROW.c.error)
            .where(_ROW.c.import_id == import_id, _ROW.c.outcome == "failed")
            .order_by(_ROW.c.line)
            .limit(limit)
        )
        return [(line, error or "") for line, error in errors]
