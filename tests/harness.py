"""One test harness for the three services: an app on a database, a client, and role headers.

A test speaks as someone with `as_admin()`, `as_manager(team)` or `as_rep(member)`; each returns
the Authorization header of a development token for the harness's org. The module-level forms
take the org first (`as_admin(other_org)`); `bearer(**claims)` is for claims no role covers.
These are the only token helpers of the suite (tests/unit/test_one_test_harness.py keeps it so).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from devtools.tokens import mint

Id = uuid.UUID | str


def bearer_token(
    *, org: Id, sub: Id | None = None, roles: Iterable[str] = ("admin",), teams: Iterable[Id] = ()
) -> str:
    """A development bearer token (a random subject unless one is given)."""
    return mint(
        org=str(org),
        sub=str(sub or uuid.uuid4()),
        roles=list(roles),
        teams=[str(t) for t in teams],
    )


def authorization(token: str) -> dict[str, str]:
    """The Authorization header presenting a bearer token (a forged or a service one, say)."""
    return {"Authorization": f"Bearer {token}"}


def bearer(**claims: Any) -> dict[str, str]:
    """The Authorization header of a development token with these claims."""
    return authorization(bearer_token(**claims))


def as_admin(org: Id, *, sub: Id | None = None) -> dict[str, str]:
    """Headers of an org admin (a random one unless sub names them)."""
    return bearer(org=org, sub=sub, roles=["admin"])


def as_manager(org: Id, team: Id, *, sub: Id | None = None) -> dict[str, str]:
    """Headers of a manager of the team (a random one unless sub names them)."""
    return bearer(org=org, sub=sub, roles=["manager"], teams=[team])


def as_rep(org: Id, member: Id, *, team: Id | None = None) -> dict[str, str]:
    """Headers of a rep, as the member (of the team, when given)."""
    return bearer(org=org, sub=member, roles=["rep"], teams=[team] if team else [])


@dataclass
class ServiceHarness:
    """A running service app, its client, and the org its role headers speak for."""

    app: FastAPI
    client: httpx.AsyncClient
    org: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def runtime(self) -> Any:
        """The app's runtime (each service's own ServiceRuntime subclass)."""
        return self.app.state.runtime

    def as_admin(self, *, sub: Id | None = None) -> dict[str, str]:
        """Headers of an admin of the org."""
        return as_admin(self.org, sub=sub)

    def as_manager(self, team: Id, *, sub: Id | None = None) -> dict[str, str]:
        """Headers of a manager of the team."""
        return as_manager(self.org, team, sub=sub)

    def as_rep(self, member: Id, *, team: Id | None = None) -> dict[str, str]:
        """Headers of the member as a rep."""
        return as_rep(self.org, member, team=team)


@asynccontextmanager
async def serving(
    app: FastAPI, *, base_url: str = "http://t", create_schema: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """Create the app's schema, run its lifespan, and yield a client that reaches it in-process."""
    if create_schema:
        await app.state.runtime.create_schema()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url=base_url) as client,
    ):
        yield client
