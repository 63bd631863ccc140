"""Annotated dependency aliases of the feedback routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from shared.app import get_runtime, request_uow
from shared.runtime import ServiceRuntime

Runtime = Annotated[ServiceRuntime, Depends(get_runtime)]


def get_uow(request: Request) -> FeedbackUnitOfWork:
    """A fresh unit of work for one request (read-only for GET: it uses the read pool)."""
    uow = request_uow(request)
    assert isinstance(uow, FeedbackUnitOfWork)
    return uow


Uow = Annotated[FeedbackUnitOfWork, Depends(get_uow)]
