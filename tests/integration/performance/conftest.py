"""A performance app on a real database, with a frozen clock and seeded read models."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.performance.adapters.orm import (
    Attainment,
    Sale,
    WebhookDelivery,
    WebhookEvent,
    WebhookRejection,
)
from services.performance.config import Settings
from services.performance.handlers import events as reactions
from services.performance.main import create_app
from shared.events import Event, wrap
from shared.events.goals import (
    AbsenceRecorded,
    CrmIds,
    MemberJoined,
    PeriodDefined,
    TargetAssigned,
    TeamCreated,
)
from tests.conftest import FIXTURES, broker_settings
from tests.fake_hubspot import serve_fake_hubspot
from tests.harness import Id, ServiceHarness, serving

CRM = FIXTURES / "crm"
ORG = uuid.UUID("3f6c2a9e-8d0b-4b1e-9f57-2c4de0a1b7c3")  # the org the vectors were signed for
FROZEN = datetime.fromtimestamp(1796656000, UTC)  # the vectors' second (2026-12-07T15:06:40Z)
PUBLIC_BASE_URL = "https://attain.example.com"
BASE_URL = "http://internal:8002"  # the address the service sees itself at behind the proxy
Q4_START = datetime(2026, 10, 1, tzinfo=UTC)
Q4_END = datetime(2027, 1, 1, tzinfo=UTC)
HUBSPOT_TOKEN = "pat-eu1-test-token"
HUBSPOT_DEAL = (CRM / "hubspot_deal_object.json").read_bytes()


@dataclass
class Seeded:
    """Ids of the seeded team: Ana (mapped in every CRM) and Ben."""

    team_id: uuid.UUID = field(default_factory=uuid.uuid4)
    manager_id: uuid.UUID = field(default_factory=uuid.uuid4)
    period_id: uuid.UUID = field(default_factory=uuid.uuid4)
    ana: uuid.UUID = field(default_factory=uuid.uuid4)
    ben: uuid.UUID = field(default_factory=uuid.uuid4)
    targets: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)


@dataclass
class PerfApp(ServiceHarness):
    """The app, its runtime, a client, and the seeded ids; roles default to the seeded team."""

    seeded: Seeded = field(default_factory=Seeded)
    org: uuid.UUID = ORG

    def as_manager(self, team: Id | None = None, *, sub: Id | None = None) -> dict[str, str]:
        """Headers of a manager of the team (the seeded team and manager by default)."""
        if team is None:
            team, sub = self.seeded.team_id, sub or self.seeded.manager_id
        return super().as_manager(team, sub=sub)

    def as_rep(self, member: Id, *, team: Id | None = None) -> dict[str, str]:
        """Headers of the member as a rep of the seeded team (or of the team given)."""
        return super().as_rep(member, team=team or self.seeded.team_id)

    # Kept so branches written before tests/harness.py still merge; new tests use as_*.
    def admin(self) -> dict[str, str]:
        return self.as_admin()

    def manager(self) -> dict[str, str]:
        return self.as_manager()

    def rep(self, member_id: uuid.UUID) -> dict[str, str]:
        return self.as_rep(member_id)

    async def react(self, *events: Event) -> None:
        """Apply goals' facts through the service's own reactions, each committed."""
        for event in events:
            # Each reaction is named after its fact: attain.goals.team_created.v1, on_team_created.
            handler = getattr(reactions, f"on_{event.TYPE.split('.')[2]}")
            async with self.runtime.uow() as uow:
                await handler(event, wrap(event), uow)
                await uow.commit()

    async def processed(self) -> int:
        """Wait for the delivery processor: apply every stored delivery that is due."""
        return await self.runtime.processor.drain()

    async def count(self, model) -> int:
        async with self.runtime.engine.connect() as conn:
            stmt = sa.select(sa.func.count()).select_from(model.__table__)
            return int((await conn.execute(stmt)).scalar_one())

    async def state(self) -> dict[str, int]:
        """Business state counters (deliveries are the audit log, not business state)."""
        return {
            "sales": await self.count(Sale),
            "applied": await self.count(WebhookEvent),
            "achieved": await self.achieved_total(),
        }

    async def achieved_total(self) -> int:
        async with self.runtime.engine.connect() as conn:
            stmt = sa.select(sa.func.coalesce(sa.func.sum(Attainment.achieved_minor), 0))
            return int((await conn.execute(stmt)).scalar_one())

    async def deliveries(self) -> list[WebhookDelivery]:
        async with self.runtime.uow() as uow:
            return list((await uow.session.exec(sa.select(WebhookDelivery))).scalars().all())

    async def rejections(self) -> list[WebhookRejection]:
        async with self.runtime.uow() as uow:
            return list((await uow.session.exec(sa.select(WebhookRejection))).scalars().all())

    async def set_secret(self, source: str, secret: str, **extra: object) -> None:
        response = await self.client.put(
            f"/v1/webhook-secrets/{source}",
            json={"secret": secret, **extra},
            headers=self.as_admin(),
        )
        assert response.status_code == 200, response.text

    async def seed(self, *, targets: dict[str, str] | None = None) -> Seeded:
        """Team (EUR), Q4 2026, Ana and Ben with targets (defaults 100000.00 each)."""
        s = self.seeded
        amounts = targets or {"ana": "100000.00", "ben": "100000.00"}
        await self.react(
            TeamCreated(
                org_id=ORG, team_id=s.team_id, name="EMEA", currency="EUR", manager_id=s.manager_id
            ),
            PeriodDefined(
                org_id=ORG,
                period_id=s.period_id,
                name="2026-Q4",
                starts_on=date(2026, 10, 1),
                ends_on=date(2026, 12, 31),
                timezone="UTC",
                starts_at=Q4_START,
                ends_at=Q4_END,
            ),
            _member(s, s.ana, "Ana Ruiz", "ana.ruiz@example.com", mapped=True),
            _member(s, s.ben, "Ben Okafor", "ben.okafor@example.com", mapped=False),
        )
        for name, amount in amounts.items():
            member = getattr(s, name)
            s.targets[member] = uuid.uuid4()
            await self.react(
                TargetAssigned(
                    org_id=ORG,
                    team_id=s.team_id,
                    target_id=s.targets[member],
                    member_id=member,
                    period_id=s.period_id,
                    amount=Decimal(amount),
                    currency="EUR",
                    version=1,
                    period_starts_at=Q4_START,
                    period_ends_at=Q4_END,
                    period_timezone="UTC",
                )
            )
        return s


def leave(s: Seeded, member_id: uuid.UUID, *, starts_on: date, ends_on: date) -> AbsenceRecorded:
    """A new absence of a seeded member, as goals announces it."""
    return AbsenceRecorded(
        org_id=ORG,
        team_id=s.team_id,
        absence_id=uuid.uuid4(),
        member_id=member_id,
        starts_on=starts_on,
        ends_on=ends_on,
        kind="leave",
    )


def _member(s: Seeded, member_id: uuid.UUID, name: str, email: str, *, mapped: bool):
    crm = (
        CrmIds(hubspot="4021113", salesforce="0055g00000DeFgHAAV", pipedrive="11842301")
        if mapped
        else CrmIds()
    )
    return MemberJoined(
        org_id=ORG,
        team_id=s.team_id,
        member_id=member_id,
        name=name,
        email=email,
        capacity=Decimal(1),
        ramp=Decimal(1),
        crm_ids=crm,
        version=1,
    )


async def open_app(db_url: str, bootstrap: str = "127.0.0.1:1", **overrides: object):
    """Build an app (workers off unless asked) with its schema and a frozen clock."""
    settings = Settings(
        database_url=db_url,
        **{"run_workers": False, "public_base_url": PUBLIC_BASE_URL, **overrides},
        **broker_settings(bootstrap),
    )
    app = create_app(settings)
    await app.state.runtime.create_schema()
    app.state.runtime.clock = lambda: FROZEN
    return app


@pytest.fixture
async def perf(tmp_path: Path) -> AsyncIterator[PerfApp]:
    """The app on a fresh SQLite file (API tests; repository-level ones use db_url)."""
    app = await open_app(f"sqlite+aiosqlite:///{tmp_path / 'perf.db'}")
    async with serving(app, base_url=BASE_URL, create_schema=False) as client:
        yield PerfApp(app=app, client=client)


@pytest.fixture
async def perf_db(db_url: str) -> AsyncIterator[PerfApp]:
    """The app on SQLite and on PostgreSQL."""
    app = await open_app(db_url)
    async with serving(app, base_url=BASE_URL, create_schema=False) as client:
        yield PerfApp(app=app, client=client)


@pytest.fixture
def fake_hubspot() -> Iterator[dict]:
    """HubSpot's deals API on a real local HTTP server, serving the fixture deal."""
    with serve_fake_hubspot(HUBSPOT_TOKEN, {"18930512211": HUBSPOT_DEAL}) as fake:
        yield fake
