"""The latest standing performance reported for each member: floors and headroom for goals' maths."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.goals.adapters.orm import MemberStanding
from services.goals.adapters.unit_of_work import GoalsUnitOfWork


@dataclass(frozen=True)
class Standing:
    """One member's standing in a period as performance reported it."""

    member_id: uuid.UUID
    achieved: int
    projected: int
    status: str
    as_of: datetime


async def remember_standings(
    uow: GoalsUnitOfWork, *, org: uuid.UUID, period_id: uuid.UUID, reports: Sequence[Standing]
) -> None:
    """Keep members' latest standings in one read, reports applied in order; older ones are ignored."""
    # One SELECT for the whole team (or run of facts) instead of one per member: this was a
    # third of goals' time answering an evaluation.
    known = await uow.repo.standings(
        org_id=org, period_id=period_id, member_ids=list({r.member_id for r in reports})
    )
    for report in reports:
        row = known.get(report.member_id)
        if row is not None and row.as_of > report.as_of:
            continue  # an older report arrived late
        if row is None:
            row = known[report.member_id] = MemberStanding.model_validate(
                {"org_id": org, "member_id": report.member_id, "period_id": period_id}
                | _figures(report)
            )
        else:
            for name, value in _figures(report).items():
                setattr(row, name, value)
        uow.repo.add(row)


def _figures(report: Standing) -> dict[str, object]:
    return {
        "achieved_minor": report.achieved,
        "projected_minor": report.projected,
        "status": report.status,
        "as_of": report.as_of,
    }
