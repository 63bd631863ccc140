"""A target's schedule: the target cut into months or weeks, exactly."""

from __future__ import annotations

import uuid

from services.goals.adapters.orm import Member, Period, Target
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.availability import schedule
from services.goals.handlers.plans import period_days, ramp_of
from services.goals.handlers.targets import _load_target
from shared.auth import Principal
from shared.day_model import DaySlice


async def target_schedule(
    target_id: uuid.UUID, grain: str, *, uow: GoalsUnitOfWork, principal: Principal
) -> tuple[Target, list[DaySlice]]:
    """Slices of a target by seasonality, the rep's absences and ramp; they add up to it."""
    async with uow:
        target, _, _ = await _load_target(uow, principal, target_id, write=False)
        period = await uow.repo.get(
            Period, org_id=principal.org, id=target.period_id, what="period"
        )
        member = await uow.repo.get(
            Member, org_id=principal.org, id=target.member_id, what="member"
        )
        absences = await uow.repo.absences_of(org_id=principal.org, member_id=member.id)
        ramp = ramp_of(member) if member.ramp_schedule or member.starts_on else None
        slices = schedule(
            target_minor=target.amount_minor,
            period=period_days(period),
            grain=grain,
            ramp=ramp,
            absences=[(a.starts_on, a.ends_on) for a in absences],
        )
        return target, slices
