"""Fixtures for feedback tests: an app on a fresh database and a seeded team."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from services.feedback.config import Settings
from services.feedback.handlers import events as reactions
from services.feedback.main import create_app
from shared.events import wrap
from shared.events.goals import CrmIds, MemberJoined, TeamCreated
from shared.runtime import ServiceRuntime
from tests.conftest import broker_settings
from tests.harness import as_admin, as_manager, as_rep, serving


@dataclass
class Team:
    """A seeded team: its org, manager and reps, with header helpers for each role."""

    org: uuid.UUID
    id: uuid.UUID
    manager: uuid.UUID
    reps: list[uuid.UUID] = field(default_factory=list)

    def as_admin(self) -> dict[str, str]:
        """Headers of an org admin."""
        return as_admin(self.org)

    def as_manager(self) -> dict[str, str]:
        """Headers of the team's manager."""
        return as_manager(self.org, self.id, sub=self.manager)

    def as_rep(self, member: uuid.UUID) -> dict[str, str]:
        """Headers of a rep of the team, as the member."""
        return as_rep(self.org, member, team=self.id)


def settings_for(db_url: str, bootstrap: str = "127.0.0.1:1", **extra: object) -> Settings:
    """Settings for a test app (workers off unless asked)."""
    options: dict[str, object] = {"run_workers": False, **broker_settings(bootstrap)}
    options.update(extra)
    return Settings(database_url=db_url, **options)


async def seed_team(
    runtime: ServiceRuntime, *, reps: int = 3, org: uuid.UUID | None = None
) -> Team:
    """Create a team with a manager and reps through the goals-event reactions."""
    team = Team(org=org or uuid.uuid4(), id=uuid.uuid4(), manager=uuid.uuid4())
    async with runtime.uow() as uow:
        created = TeamCreated(
            org_id=team.org, team_id=team.id, name="North", currency="EUR", manager_id=team.manager
        )
        await reactions.on_team_created(created, wrap(created), uow)
        for _ in range(reps):
            member = uuid.uuid4()
            team.reps.append(member)
            joined = member_joined(team, member)
            await reactions.on_member_joined(joined, wrap(joined), uow)
        await uow.commit()
    return team


def member_joined(team: Team, member: uuid.UUID, version: int = 1) -> MemberJoined:
    """A MemberJoined fact for the team."""
    return MemberJoined(
        org_id=team.org,
        team_id=team.id,
        member_id=member,
        name=f"Rep {str(member)[:4]}",
        email=f"{member.hex[:8]}@example.com",
        capacity=Decimal("1"),
        ramp=Decimal("1"),
        crm_ids=CrmIds(),
        version=version,
    )


@pytest.fixture
async def app_client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    """A feedback app on a fresh SQLite file, without background workers."""
    app = create_app(settings_for(f"sqlite+aiosqlite:///{tmp_path / 'feedback.db'}"))
    async with serving(app) as client:
        yield client, app.state.runtime


@pytest.fixture
async def client(app_client) -> httpx.AsyncClient:
    """The HTTP client of the test app."""
    return app_client[0]


@pytest.fixture
async def runtime(app_client) -> ServiceRuntime:
    """The runtime of the test app."""
    return app_client[1]


@pytest.fixture
async def team(runtime: ServiceRuntime) -> Team:
    """A seeded team of one manager and three reps."""
    return await seed_team(runtime)
