"""Dependencies of the performance routes: the runtime, a fresh unit of work, the time."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.bootstrap import PerformanceRuntime
from shared.deps import NowDep, runtime_dependency, uow_dependency

RuntimeDep = Annotated[PerformanceRuntime, Depends(runtime_dependency(PerformanceRuntime))]
UowDep = Annotated[PerformanceUnitOfWork, Depends(uow_dependency(PerformanceUnitOfWork))]

__all__ = ["NowDep", "RuntimeDep", "UowDep"]
