"""Dependencies of the goals routes: the runtime and a fresh unit of work."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from shared.app import get_runtime
from shared.runtime import ServiceRuntime

RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


def get_uow(runtime: RuntimeDep) -> GoalsUnitOfWork:
    """A fresh goals unit of work."""
    return runtime.uow()  # type: ignore[return-value]


UowDep = Annotated[GoalsUnitOfWork, Depends(get_uow)]
