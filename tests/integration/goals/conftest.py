"""Fixtures for the goals service: an app on a fresh database, and a seeded team."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from services.goals.config import Settings
from services.goals.handlers.events import on_attainment_changed
from services.goals.main import create_app
from shared.events import wrap
from shared.events.performance import AttainmentChanged
from tests.conftest import broker_settings
from tests.harness import ServiceHarness, serving


class Goals(ServiceHarness):
    """A running goals app, its client, and its org."""

    async def react(self, event, handler) -> None:
        """Apply another service's fact through goals' own reaction, committed."""
        async with self.runtime.uow() as uow:
            await handler(event, wrap(event), uow)
            await uow.commit()

    async def report_standing(
        self, *, team_id, member_id, period_id, target, achieved, projected, status, as_of
    ) -> None:
        """Performance reports a member's standing (`attainment_changed`) as of an instant."""
        event = AttainmentChanged(
            org_id=self.org,
            team_id=team_id,
            member_id=member_id,
            period_id=period_id,
            target=Decimal(target),
            achieved=Decimal(achieved),
            percent=(Decimal(achieved) * 100 / Decimal(target)).quantize(Decimal("0.01")),
            expected_to_date=Decimal(0),
            projected=Decimal(projected),
            status=status,
            currency="EUR",
            as_of=as_of,
        )
        await self.react(event, on_attainment_changed)


async def make_goals(db_url: str, bootstrap: str = "127.0.0.1:1", **extra) -> AsyncIterator[Goals]:
    """Build the app, create its schema, and yield a client."""
    settings = Settings(
        database_url=db_url, **{"run_workers": False, **broker_settings(bootstrap), **extra}
    )
    app = create_app(settings)
    async with serving(app) as client:
        yield Goals(app=app, client=client)


@pytest.fixture
async def goals(tmp_path) -> AsyncIterator[Goals]:
    """A goals app on a fresh SQLite file (API tests)."""
    async for app in make_goals(f"sqlite+aiosqlite:///{tmp_path / 'goals.db'}"):
        yield app


@pytest.fixture
async def goals_db(db_url) -> AsyncIterator[Goals]:
    """A goals app on SQLite and on PostgreSQL (consumer and repository tests)."""
    async for app in make_goals(db_url):
        yield app


@dataclass
class Seeded:
    """A team with members, a period and a published plan."""

    team: dict
    members: list[dict]
    period: dict
    plan: dict

    @property
    def team_id(self) -> str:
        """The team id."""
        return self.team["id"]

    def target_of(self, member_id: str) -> dict:
        """The plan target of a member."""
        return next(t for t in self.plan["targets"] if t["member_id"] == member_id)


async def seed(
    goals: Goals,
    *,
    n: int = 3,
    target: str = "300000.00",
    publish: bool = True,
    starts_on: str = "2030-01-01",
    ends_on: str = "2030-03-31",
) -> Seeded:
    """Create a team of n members, a period, an equal plan (published unless told not to)."""
    client, admin = goals.client, goals.as_admin()
    team = (
        await client.post(
            "/v1/teams",
            json={"name": "EMEA", "currency": "EUR", "manager_id": str(uuid.uuid4())},
            headers=admin,
        )
    ).json()
    members = []
    for i in range(n):
        response = await client.post(
            f"/v1/teams/{team['id']}/members",
            json={"name": f"Rep {i}", "email": f"rep{i}@example.com", "capacity": "1"},
            headers=admin,
        )
        assert response.status_code == 201, response.text
        members.append(response.json())
    period = (
        await client.post(
            "/v1/periods",
            json={"name": "Q1", "starts_on": starts_on, "ends_on": ends_on},
            headers=admin,
        )
    ).json()
    plan_url = f"/v1/teams/{team['id']}/plans/{period['id']}"
    response = await client.put(plan_url, json={"target": target}, headers=admin)
    assert response.status_code == 201, response.text
    response = await client.post(f"{plan_url}/allocation", json={"method": "equal"}, headers=admin)
    assert response.status_code == 200, response.text
    if publish:
        response = await client.post(f"{plan_url}/publish", headers=admin)
        assert response.status_code == 200, response.text
    plan = (await client.get(plan_url, headers=admin)).json()
    return Seeded(team=team, members=members, period=period, plan=plan)
