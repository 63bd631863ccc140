"""The dependency shape every service's routes share: its runtime, a unit of work, the time.

Each service's `api/deps.py` names them `RuntimeDep`, `UowDep` and `NowDep` for its own types.
The dependencies are async on purpose: FastAPI runs a plain ``def`` dependency in its thread
pool, and those hops were a third of webhook intake's CPU time under load.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from shared.app import get_runtime, request_uow
from shared.runtime import ServiceRuntime
from shared.uow import UnitOfWork

R = TypeVar("R", bound=ServiceRuntime[UnitOfWork])
U = TypeVar("U", bound=UnitOfWork)

T = TypeVar("T")


def _narrowed(kind: type[T], get: Callable[[Request], object]) -> Callable[[Request], Awaitable[T]]:
    async def dependency(request: Request) -> T:
        found = get(request)
        if not isinstance(found, kind):  # a wiring mistake, caught on the first request
            raise TypeError(f"got a {type(found).__name__}, not {kind.__name__}")
        return found

    return dependency


def runtime_dependency(kind: type[R]) -> Callable[[Request], Awaitable[R]]:
    """A dependency returning the process's runtime, typed as the service's own."""
    return _narrowed(kind, get_runtime)


def uow_dependency(kind: type[U]) -> Callable[[Request], Awaitable[U]]:
    """A dependency returning a fresh unit of work for the request (GETs use the read pool)."""
    return _narrowed(kind, request_uow)


async def get_now(request: Request) -> datetime:
    """The current instant from the runtime's clock (tests freeze it)."""
    return get_runtime(request).clock()


NowDep = Annotated[datetime, Depends(get_now)]
