"""Bulk sale imports: stored whole on the request, then applied by the processor in batches.

The rows go through the same set-based path as webhook deliveries (``deal_batch``), keyed by the
deal's ``external_id`` under the generic source: a deal imported and also delivered by webhook
is one sale, counted once. Evaluations of the teams an import touches are held until the import
has finished, so a backfill never rebalances on half its data.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, Callable
from datetime import datetime
from typing import Any

from services.performance.adapters.orm import SaleImport
from services.performance.adapters.sale_import_format import (
    ImportFormat,
    deal_event,
    read_rows,
)
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.handlers.deal_batch import Item, apply_items
from shared.domain_errors import NotFound
from shared.timeutil import utcnow

#: Rows applied between refreshes of the planner's statistics (PostgreSQL) during an import.
_ANALYZE_EVERY = 5000


async def start_import(
    *,
    uow: PerformanceUnitOfWork,
    org_id: uuid.UUID,
    fmt: ImportFormat,
    body: AsyncIterable[bytes],
    now: datetime,
) -> SaleImport:
    """Read the rows as they arrive, then store them all with the import in one transaction."""
    import_id = uuid.uuid4()
    rows: list[dict[str, Any]] = []
    async for row in read_rows(body, fmt):
        rows.append(
            {
                "id": uuid.uuid4(),
                "import_id": import_id,
                "line": row.line,
                "payload": row.payload,
                "outcome": "pending" if row.error is None else "failed",
                "error": row.error,
            }
        )
    failed = sum(1 for r in rows if r["error"] is not None)
    record = SaleImport(
        id=import_id,
        org_id=org_id,
        format=fmt,
        state="queued",
        received=len(rows),
        failed=failed,
        created_at=now,
    )
    async with uow:
        uow.repo.add(record)
        await uow.repo.flush()
        await uow.imports.add_rows(rows)
        await uow.commit()
    return record


async def process_import_batch(
    *, uow_factory: Callable[[], PerformanceUnitOfWork], now: datetime, limit: int
) -> int:
    """Apply the next rows of the oldest unfinished import; how many rows (or 1 for a finish)."""
    async with uow_factory() as uow:
        if not await uow.deliveries.hold_processor():
            return 0
        record = await uow.imports.oldest_unfinished()
        if record is None:
            return 0
        rows = await uow.imports.pending_rows(import_id=record.id, limit=limit)
        if not rows:
            record.state, record.finished_at = "finished", now
            uow.repo.add(record)
            await uow.batch.release_held(held_by=record.id, at=utcnow())
            await uow.commit()
            return 1
        items = [
            Item(org_id=record.org_id, ref=record.id, events=[deal_event(r.payload)], only_new=True)
            for r in rows
        ]
        outcomes = await apply_items(uow, items, now=now, held_by=record.id)
        marks = []
        for row, outcome in zip(rows, outcomes, strict=True):
            error = outcome.malformed or outcome.failed
            state = "failed" if error else ("applied" if outcome.applied else "duplicate")
            marks.append({"row_id": row.id, "new_outcome": state, "new_error": error})
        await uow.imports.mark_rows(marks)
        done_before = record.applied + record.duplicates + record.failed
        record.state = "running"
        record.applied += sum(1 for m in marks if m["new_outcome"] == "applied")
        record.duplicates += sum(1 for m in marks if m["new_outcome"] == "duplicate")
        record.failed += sum(1 for m in marks if m["new_outcome"] == "failed")
        if (record.applied + record.duplicates + record.failed) // _ANALYZE_EVERY > (
            done_before // _ANALYZE_EVERY
        ):
            await uow.batch.refresh_statistics()
        uow.repo.add(record)
        await uow.commit()
    return len(rows)


async def get_import(
    *, uow: PerformanceUnitOfWork, org_id: uuid.UUID, import_id: uuid.UUID, max_errors: int
) -> tuple[SaleImport, list[tuple[int, str]]]:
    """An import of the org with its first row errors (line, error) in line order."""
    async with uow:
        record = await uow.imports.get(org_id=org_id, import_id=import_id)
        if record is None:
            raise NotFound("no such sale import")
        return record, await uow.imports.row_errors(import_id=import_id, limit=max_errors)
