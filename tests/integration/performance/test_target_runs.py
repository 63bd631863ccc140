"""A run of `target_changed` facts in bulk leaves what applying them one by one leaves."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from services.performance.adapters.orm import Attainment
from services.performance.handlers.events import follow_target_changes
from shared.events import wrap
from shared.events.goals import TargetChanged
from tests.integration.performance.conftest import ORG, PerfApp, Seeded

pytestmark = pytest.mark.integration

OTHER = uuid.uuid4()


def _change(s: Seeded, member: uuid.UUID, amount: str, version: int, **ids) -> TargetChanged:
    return TargetChanged(
        org_id=ids.get("org_id", ORG),
        team_id=s.team_id,
        target_id=ids.get("target_id", s.targets.get(member)),
        member_id=member,
        period_id=s.period_id,
        old_amount=Decimal("100000.00"),
        new_amount=Decimal(amount),
        currency="EUR",
        version=version,
        reason="rebalance",
    )


def _run(s: Seeded, newcomer: uuid.UUID, newcomer_target: uuid.UUID) -> list[TargetChanged]:
    """Newer versions, a stale one, a late older one, another org's, and an unknown target."""
    return [
        _change(s, s.ana, "120000.00", 2),
        _change(s, s.ben, "80000.00", 1),  # not newer than what performance holds
        _change(s, s.ana, "130000.00", 3),
        _change(s, s.ana, "125000.00", 2),  # an older version arriving late
        _change(s, s.ben, "1.00", 9, org_id=OTHER),  # another org under a known id
        _change(s, newcomer, "5000.00", 1, target_id=newcomer_target),
    ]


async def _state(perf: PerfApp, s: Seeded, newcomer: uuid.UUID, target: uuid.UUID) -> dict:
    """Each member's target (org, amount, version) and whether they have an attainment row."""
    async with perf.runtime.uow() as uow:
        targets = await uow.repo.targets_by_ids([*s.targets.values(), target])
        rows = await uow.session.execute(
            sa.select(Attainment.member_id).where(Attainment.period_id == s.period_id)
        )
        attained = set(rows.scalars())
    ids = {"ana": s.targets[s.ana], "ben": s.targets[s.ben], "newcomer": target}
    members = {"ana": s.ana, "ben": s.ben, "newcomer": newcomer}
    return {
        name: (
            (targets[tid].org_id, targets[tid].amount_minor, targets[tid].version),
            members[name] in attained,
        )
        for name, tid in ids.items()
    }


async def test_a_run_of_target_changes_in_bulk_matches_one_by_one(perf_db: PerfApp):
    perf = perf_db
    one_by_one = await perf.seed()
    first = (uuid.uuid4(), uuid.uuid4())
    await perf.react(*_run(one_by_one, *first))

    perf.seeded = Seeded()
    bulk = await perf.seed()
    second = (uuid.uuid4(), uuid.uuid4())
    async with perf.runtime.uow() as uow:
        await follow_target_changes([(e, wrap(e)) for e in _run(bulk, *second)], uow)
        await uow.commit()

    expected = await _state(perf, one_by_one, *first)
    assert await _state(perf, bulk, *second) == expected
    assert expected == {
        "ana": ((ORG, 13_000_000, 3), True),
        "ben": ((ORG, 10_000_000, 1), True),
        "newcomer": ((ORG, 500_000, 1), True),
    }
