"""Dependencies of the goals routes: the unit of work, If-Match, paging."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from shared.runtime import ServiceRuntime


def get_runtime(request: Request) -> ServiceRuntime:
    """The process's runtime."""
    return request.app.state.runtime


def get_uow(request: Request) -> GoalsUnitOfWork:
    """A fresh goals unit of work."""
    return request.app.state.runtime.uow()  # type: ignore[no-any-return]


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]
UowDep = Annotated[GoalsUnitOfWork, Depends(get_uow)]
IfMatch = Annotated[
    str | None, Header(description="ETag of the version you read; 412 when it is stale")
]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
