"""Dependencies of the goals routes: the runtime and a fresh unit of work."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from shared.app import get_runtime, request_uow
from shared.runtime import ServiceRuntime

RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


def get_uow(request: Request) -> GoalsUnitOfWork:
    """A fresh unit of work for one request (read-only for GET: it uses the read pool)."""
    return request_uow(request)


UowDep = Annotated[GoalsUnitOfWork, Depends(get_uow)]
