"""Bodies of bulk sale imports (admin)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, Field


class SaleImportFacts(Protocol):
    """An import as stored (the ORM row fits; the API does not import it)."""

    id: uuid.UUID
    format: str
    state: str
    received: int
    applied: int
    duplicates: int
    failed: int
    created_at: datetime
    finished_at: datetime | None


class SaleImportAccepted(BaseModel):
    """The import was stored; its rows apply in the background."""

    import_id: uuid.UUID
    state: str = Field(examples=["queued"])
    received: int = Field(description="Rows read from the body (bad ones included)")


class RowError(BaseModel):
    """Why one row was refused."""

    line: int = Field(description="Line of the body, from 1 (a CSV header is line 1)")
    error: str


class SaleImportRead(BaseModel):
    """An import and what it did so far."""

    id: uuid.UUID
    format: str = Field(examples=["csv"])
    state: str = Field(examples=["finished"], description="queued | running | finished")
    received: int = Field(description="Rows read from the body")
    applied: int = Field(description="Rows that became a sale")
    duplicates: int = Field(description="Rows whose deal already was a sale (webhook or import)")
    failed: int = Field(description="Rows refused; their errors are listed")
    errors: list[RowError] = Field(description="Refused rows in line order (the first 1000)")
    created_at: datetime
    finished_at: datetime | None = None

    @classmethod
    def of(cls, row: SaleImportFacts, errors: list[tuple[int, str]]) -> SaleImportRead:
        """The view of a stored import."""
        return cls(
            id=row.id,
            format=row.format,
            state=row.state,
            received=row.received,
            applied=row.applied,
            duplicates=row.duplicates,
            failed=row.failed,
            errors=[RowError(line=line, error=error) for line, error in errors],
            created_at=row.created_at,
            finished_at=row.finished_at if row.finished_at else None,
        )
