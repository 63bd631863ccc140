"""Annotated dependency aliases of the feedback routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from shared.runtime import ServiceRuntime


def get_runtime(request: Request) -> ServiceRuntime:
    """The process's runtime, built by the app factory."""
    return request.app.state.runtime


def get_uow(request: Request) -> FeedbackUnitOfWork:
    """A fresh unit of work for one request."""
    uow = request.app.state.runtime.uow()
    assert isinstance(uow, FeedbackUnitOfWork)
    return uow


Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]
Uow = Annotated[FeedbackUnitOfWork, Depends(get_uow)]
