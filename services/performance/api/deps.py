"""Dependencies of the performance routes: the runtime, its clock and a fresh unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.bootstrap import PerformanceRuntime
from shared.app import request_uow

# Async on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, and those hops
# were a third of webhook intake's CPU time under load.


async def get_runtime(request: Request) -> PerformanceRuntime:
    """The process's runtime, built by the app factory."""
    return request.app.state.runtime


Runtime = Annotated[PerformanceRuntime, Depends(get_runtime)]


async def get_uow(request: Request) -> PerformanceUnitOfWork:
    """A fresh unit of work for one request (read-only for GET: it uses the read pool)."""
    return request_uow(request)


async def get_now(runtime: Runtime) -> datetime:
    """The current instant from the runtime's clock (tests freeze it)."""
    return runtime.clock()


Uow = Annotated[PerformanceUnitOfWork, Depends(get_uow)]
Now = Annotated[datetime, Depends(get_now)]
