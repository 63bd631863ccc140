"""Dependencies of the performance routes: the runtime, its clock and a fresh unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends

from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.bootstrap import PerformanceRuntime
from shared.app import get_runtime

Runtime = Annotated[PerformanceRuntime, Depends(get_runtime)]


def get_uow(runtime: Runtime) -> PerformanceUnitOfWork:
    """A fresh unit of work (the handler opens and commits it)."""
    return runtime.uow()  # type: ignore[return-value]


def get_now(runtime: Runtime) -> datetime:
    """The current instant from the runtime's clock (tests freeze it)."""
    return runtime.clock()


Uow = Annotated[PerformanceUnitOfWork, Depends(get_uow)]
Now = Annotated[datetime, Depends(get_now)]
