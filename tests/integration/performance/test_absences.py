"""Performance follows goals' absences: pace over available days, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.events.goals import AbsenceCancelled
from tests.integration.performance.conftest import ORG, PerfApp, leave

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)


async def _evaluate(perf: PerfApp, s) -> dict:
    r = await perf.client.post(
        f"/v1/teams/{s.team_id}/periods/{s.period_id}/evaluation",
        json={"as_of": AS_OF.isoformat()},
        headers=perf.as_admin(),
    )
    assert r.status_code == 200, r.text
    return {m["member_id"]: m for m in r.json()["items"]}


async def test_an_absence_takes_its_days_out_of_expected_to_date(perf_db: PerfApp):
    """Away 1..30 November: on 20 November only October's 31 of 61 working days are expected."""
    perf = perf_db
    s = await perf.seed()
    absence = leave(s, s.ana, starts_on=date(2026, 11, 1), ends_on=date(2026, 11, 30))
    await perf.react(absence)
    await perf.react(absence)  # a redelivery adds nothing
    members = await _evaluate(perf, s)
    # Ana: 100000.00 x 31/62; Ben, present: 100000.00 x 50/92.
    assert members[str(s.ana)]["expected_to_date"] == "50000.00"
    assert members[str(s.ben)]["expected_to_date"] == "54347.83"
    cancelled = AbsenceCancelled(
        org_id=ORG, team_id=s.team_id, absence_id=absence.absence_id, member_id=s.ana
    )
    await perf.react(cancelled)
    members = await _evaluate(perf, s)
    assert members[str(s.ana)]["expected_to_date"] == "54347.83"
