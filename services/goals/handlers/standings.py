"""The latest standing performance reported for each member: floors and headroom for goals' maths."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.goals.adapters.orm import MemberStanding
from services.goals.adapters.unit_of_work import GoalsUnitOfWork


async def remember_standing(
    uow: GoalsUnitOfWork,
    *,
    org: uuid.UUID,
    member_id: uuid.UUID,
    period_id: uuid.UUID,
    achieved: int,
    projected: int,
    status: str,
    as_of: datetime,
) -> None:
    """Keep a member's latest standing in a period; an older report changes nothing."""
    row = await uow.repo.standing(org_id=org, member_id=member_id, period_id=period_id)
    if row is not None and row.as_of > as_of:
        return  # an older report arrived late
    row = row or MemberStanding.model_validate(
        {
            "org_id": org,
            "member_id": member_id,
            "period_id": period_id,
            "achieved_minor": achieved,
            "projected_minor": projected,
            "status": status,
            "as_of": as_of,
        }
    )
    row.achieved_minor, row.projected_minor, row.status, row.as_of = (
        achieved,
        projected,
        status,
        as_of,
    )
    uow.repo.add(row)
