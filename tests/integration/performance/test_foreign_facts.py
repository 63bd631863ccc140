"""A goals fact naming another org's team, member, absence, period or target changes nothing.

The consumers look these ids up across orgs on purpose: an org-scoped miss would insert the row
again under its taken id, and the event would fail on the unique key.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.performance.adapters.orm import Absence, Target
from shared.events.goals import (
    AbsenceCancelled,
    CrmIds,
    MemberLeft,
    MemberUpdated,
    PeriodDefined,
    TargetChanged,
    TeamUpdated,
)
from tests.integration.performance.conftest import ORG, Q4_END, Q4_START, PerfApp, leave

pytestmark = pytest.mark.integration

OTHER = uuid.uuid4()


async def _rows(perf: PerfApp, s, absence_id: uuid.UUID) -> dict[str, object]:
    """What performance holds of the seeded org, read back in a fresh unit of work."""
    async with perf.runtime.uow() as uow:
        repo = uow.repo
        team = await repo.team(org_id=ORG, team_id=s.team_id)
        ana = await repo.member(org_id=ORG, member_id=s.ana)
        period = await repo.period(org_id=ORG, period_id=s.period_id)
        target = await repo.by_id(Target, s.targets[s.ana])
        absence = await repo.by_id(Absence, absence_id)
        assert team and ana and period and target
        return {
            "team": team.name,
            "ana": (ana.name, ana.version, ana.active),
            "period": (period.name, period.ends_at),
            "target": (target.org_id, target.amount_minor, target.version),
            "absence": None if absence is None else (absence.org_id, absence.ends_on),
        }


async def test_facts_of_another_org_under_known_ids_are_ignored(perf_db: PerfApp):
    perf = perf_db
    s = await perf.seed()
    recorded = leave(s, s.ana, starts_on=date(2026, 11, 1), ends_on=date(2026, 11, 30))
    await perf.react(recorded)
    before = await _rows(perf, s, recorded.absence_id)
    assert before["absence"] == (ORG, date(2026, 11, 30))

    await perf.react(
        TeamUpdated(
            org_id=OTHER, team_id=s.team_id, name="Taken", currency="USD", manager_id=OTHER
        ),
        MemberUpdated(
            org_id=OTHER,
            team_id=s.team_id,
            member_id=s.ana,
            name="Someone else",
            email="else@example.com",
            capacity=Decimal(1),
            ramp=Decimal(1),
            crm_ids=CrmIds(),
            version=9,
        ),
        MemberLeft(org_id=OTHER, team_id=s.team_id, member_id=s.ana, left_at=datetime.now(UTC)),
        recorded.model_copy(update={"org_id": OTHER, "ends_on": date(2026, 11, 2)}),
        AbsenceCancelled(
            org_id=OTHER,
            team_id=s.team_id,
            absence_id=recorded.absence_id,
            member_id=s.ana,
        ),
        PeriodDefined(
            org_id=OTHER,
            period_id=s.period_id,
            name="Taken",
            starts_on=date(2026, 10, 1),
            ends_on=date(2026, 10, 31),
            timezone="UTC",
            starts_at=Q4_START,
            ends_at=datetime(2026, 11, 1, tzinfo=UTC),
        ),
        TargetChanged(
            org_id=OTHER,
            team_id=s.team_id,
            target_id=s.targets[s.ana],
            member_id=s.ana,
            period_id=s.period_id,
            old_amount=Decimal("100000.00"),
            new_amount=Decimal("1.00"),
            currency="EUR",
            version=9,
            reason="manual",
        ),
    )

    assert await _rows(perf, s, recorded.absence_id) == before
    assert before["period"] == ("2026-Q4", Q4_END)
