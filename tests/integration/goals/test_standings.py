"""A run of `attainment_changed` facts in bulk keeps the standings one by one would keep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.goals.handlers.events import on_attainment_changed, remember_attainment
from shared.events import wrap
from shared.events.performance import AttainmentChanged
from tests.integration.goals.conftest import Goals

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _report(org, period, member, achieved: str, status: str, hours: int) -> AttainmentChanged:
    return AttainmentChanged(
        org_id=org,
        team_id=uuid.UUID(int=1),
        member_id=member,
        period_id=period,
        target=Decimal("100000.00"),
        achieved=Decimal(achieved),
        percent=Decimal(0),
        expected_to_date=Decimal(0),
        projected=Decimal(achieved) * 2,
        status=status,
        currency="EUR",
        as_of=T0 + timedelta(hours=hours),
    )


def _run(org, period, other_period, ana, ben, cem) -> list[AttainmentChanged]:
    """Newer reports, an older one arriving late, a newcomer, and another period of the same rep."""
    return [
        _report(org, period, ana, "100.00", "struggling", 2),
        _report(org, period, ben, "500.00", "on_track", 1),
        _report(org, period, ana, "50.00", "at_risk", 1),  # older than what is known: ignored
        _report(org, period, ben, "700.00", "on_track", 3),
        _report(org, other_period, ana, "9.00", "struggling", 0),
        _report(org, period, cem, "0.00", "struggling", 2),
    ]


async def _standings(goals: Goals, org, periods, members) -> dict:
    async with goals.runtime.uow() as uow:
        found = {}
        for i, period in enumerate(periods):
            rows = await uow.repo.standings(org_id=org, period_id=period, member_ids=members)
            for j, member in enumerate(members):
                row = rows.get(member)
                found[(i, j)] = row and (row.achieved_minor, row.projected_minor, row.status)
        return found


async def test_a_run_of_attainment_facts_in_bulk_matches_one_by_one(goals_db: Goals):
    goals = goals_db
    org = goals.org
    outcomes = []
    for bulk in (False, True):
        periods = [uuid.uuid4(), uuid.uuid4()]
        members = [uuid.uuid4(), uuid.uuid4(), uuid.uuid4()]
        # Ana starts known (as of T0+1h, a later report than one of the run's).
        await goals.react(
            _report(org, periods[0], members[0], "10.00", "at_risk", 1), on_attainment_changed
        )
        facts = _run(org, *periods, *members)
        if bulk:
            async with goals.runtime.uow() as uow:
                await remember_attainment([(f, wrap(f)) for f in facts], uow)
                await uow.commit()
        else:
            for fact in facts:
                await goals.react(fact, on_attainment_changed)
        outcomes.append(await _standings(goals, org, periods, members))

    assert outcomes[1] == outcomes[0]
    assert outcomes[0] == {
        (0, 0): (10_000, 20_000, "struggling"),
        (0, 1): (70_000, 140_000, "on_track"),
        (0, 2): (0, 0, "struggling"),
        (1, 0): (900, 1_800, "struggling"),
        (1, 1): None,
        (1, 2): None,
    }
