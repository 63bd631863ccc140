"""Annotated dependency aliases of the feedback routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from shared.app import get_runtime
from shared.runtime import ServiceRuntime

Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]


def get_uow(runtime: Runtime) -> FeedbackUnitOfWork:
    """A fresh unit of work for one request."""
    uow = runtime.uow()
    assert isinstance(uow, FeedbackUnitOfWork)
    return uow


Uow = Annotated[FeedbackUnitOfWork, Depends(get_uow)]
