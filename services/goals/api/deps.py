"""Dependencies of the goals routes: the runtime, a fresh unit of work, the time."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from shared.deps import NowDep, runtime_dependency, uow_dependency
from shared.runtime import ServiceRuntime

RuntimeDep = Annotated[ServiceRuntime[GoalsUnitOfWork], Depends(runtime_dependency(ServiceRuntime))]
UowDep = Annotated[GoalsUnitOfWork, Depends(uow_dependency(GoalsUnitOfWork))]

__all__ = ["NowDep", "RuntimeDep", "UowDep"]
