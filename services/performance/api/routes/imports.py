"""Bulk sale imports (admin): load the period so far from a CRM export, NDJSON or CSV."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from services.performance.adapters.sale_import_format import ImportFormat
from services.performance.api.deps import NowDep, RuntimeDep, UowDep
from services.performance.api.import_schemas import SaleImportAccepted, SaleImportRead
from services.performance.handlers.imports import get_import, start_import
from shared.auth import AdminPrincipal
from shared.domain_errors import DomainError
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/sales/imports", tags=["sales"])
MEDIA_TYPES: dict[str, ImportFormat] = {
    "application/x-ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "text/csv": "csv",
}
#: Row errors shown by GET; the counts cover them all.
MAX_ERRORS = 1000


class UnsupportedMediaType(DomainError):
    """The body is neither NDJSON nor CSV."""

    status = 415
    title = "Unsupported media type"


@router.post(
    "",
    status_code=202,
    response_model=SaleImportAccepted,
    responses=problem_responses(401, 403, 413, 415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "One won sale of the generic webhook format per NDJSON line, or per "
            "CSV record under a header naming external_id, amount, currency, closed_at, "
            "owner_email, owner_id (type optional, sale.closed).",
            "content": {
                # Raw rows, as the webhooks' bodies: every byte string is read, bad rows reported.
                "application/x-ndjson": {},
                "text/csv": {},
            },
        }
    },
)
async def create_sale_import(
    request: Request, principal: AdminPrincipal, uow: UowDep, runtime: RuntimeDep, now: NowDep
) -> SaleImportAccepted:
    """Store every row of the body, then apply them in the background; 202 with the import id."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = MEDIA_TYPES.get(media_type)
    if fmt is None:
        raise UnsupportedMediaType(
            f"send the rows as {' or '.join(MEDIA_TYPES)}", allowed=sorted(MEDIA_TYPES)
        )
    record = await start_import(
        uow=uow, org_id=principal.org, fmt=fmt, body=request.stream(), now=now
    )
    runtime.processor.wake()
    return SaleImportAccepted(import_id=record.id, state=record.state, received=record.received)


@router.get(
    "/{import_id}", response_model=SaleImportRead, responses=problem_responses(401, 403, 404)
)
async def get_sale_import(
    import_id: uuid.UUID, principal: AdminPrincipal, uow: UowDep
) -> SaleImportRead:
    """An import's state, its counts, and the errors of its refused rows by line number."""
    record, errors = await get_import(
        uow=uow, org_id=principal.org, import_id=import_id, max_errors=MAX_ERRORS
    )
    return SaleImportRead.of(record, errors)
