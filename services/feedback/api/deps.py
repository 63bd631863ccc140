"""Dependencies of the feedback routes: the runtime, a fresh unit of work, the time."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from shared.deps import NowDep, runtime_dependency, uow_dependency
from shared.runtime import ServiceRuntime

RuntimeDep = Annotated[
    ServiceRuntime[FeedbackUnitOfWork], Depends(runtime_dependency(ServiceRuntime))
]
UowDep = Annotated[FeedbackUnitOfWork, Depends(uow_dependency(FeedbackUnitOfWork))]

__all__ = ["NowDep", "RuntimeDep", "UowDep"]
