"""The roll-up of a team tree in a period, from goals' targets and performance's standings.

Goals keeps the achieved and projected figures performance reports (`attainment_changed`) and
each team's pace thresholds (`thresholds_changed`), so the roll-up is served here, next to the
targets it sums, and follows every change below. Expected-to-date comes from the same day model
as the targets' schedules and performance's pace.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from services.goals.adapters.orm import Member, Period, Plan, Team
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.availability import check_ramp_schedule
from services.goals.domain.hierarchy import MAX_DEPTH, RollupNode, roll_up
from services.goals.domain.periods import zone
from services.goals.handlers.access import load_team, manages
from services.goals.handlers.plans import period_days
from shared.auth import Principal
from shared.day_model import Calendar, Workdays, running_minor, share_at_instant
from shared.domain_errors import Forbidden
from shared.pace_status import DEFAULT_THRESHOLDS, Thresholds
from shared.timeutil import utcnow


async def rollup(
    team_id: uuid.UUID, period_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> tuple[RollupNode, str]:
    """The tree below a team with target, assigned, achieved, projected and shortfall per node."""
    async with uow:
        team = await load_team(uow, principal, team_id, write=False)
        if not await manages(uow, principal, team):
            raise Forbidden("only managers of the team (or above it) and admins see its roll-up")
        period = await uow.repo.get(Period, org_id=principal.org, id=period_id, what="period")
        clock = _Clock(period, utcnow())
        node = await _node(uow, team, period, clock, depth=0)
        return roll_up(node), team.currency


class _Clock:
    """Where the roll-up stands in the period: one instant, the period's days and zone."""

    def __init__(self, period: Period, now: datetime) -> None:
        self.now = now
        self.calendar: Calendar = period_days(period).calendar()
        self.zone = zone(period.timezone)
        self.before = now <= period.starts_at
        self.after = now >= period.ends_at
        self.elapsed = self.share(Workdays())

    def share(self, workdays: Workdays) -> Fraction:
        """The share of a target expected by now over these working days."""
        if self.before or self.after:
            return Fraction(0 if self.before else 1)
        return share_at_instant(self.calendar, workdays, self.zone, self.now)


def _workdays(member: Member, absences: list[tuple[date, date]]) -> Workdays:
    """A rep's working days as pace sees them: absences, starts_on, ramp schedule."""
    schedule = check_ramp_schedule([Decimal(v) for v in member.ramp_schedule or []])
    return Workdays(
        absences=tuple(absences),
        starts_on=member.starts_on,
        ramp_schedule=schedule,
    )


async def _thresholds(uow: GoalsUnitOfWork, team: Team) -> Thresholds:
    row = await uow.repo.thresholds_of(org_id=team.org_id, team_id=team.id)
    if row is None:
        return DEFAULT_THRESHOLDS
    return Thresholds(
        at_risk_below=Decimal(row.at_risk_below),
        struggling_below=Decimal(row.struggling_below),
        hysteresis=Decimal(row.hysteresis),
        min_elapsed_share=Decimal(row.min_elapsed_share),
    )


async def _node(
    uow: GoalsUnitOfWork, team: Team, period: Period, clock: _Clock, *, depth: int
) -> RollupNode:
    plan = await uow.repo.plan_of(org_id=team.org_id, team_id=team.id, period_id=period.id)
    children = (
        await uow.repo.child_teams(org_id=team.org_id, team_id=team.id) if depth < MAX_DEPTH else []
    )
    nodes = [await _node(uow, c, period, clock, depth=depth + 1) for c in children]
    achieved = projected = assigned = expected = 0
    if plan is not None:
        achieved, projected, assigned = await team_figures(uow, team, plan)
        expected = await _expected(uow, team, plan, clock)
    if nodes:
        assigned = sum(n.target_minor or 0 for n in nodes)
    return RollupNode(
        team_id=team.id,
        name=team.name,
        target_minor=plan.target_minor if plan else None,
        assigned_minor=assigned,
        achieved_minor=achieved,
        projected_minor=projected,
        expected_minor=expected,
        thresholds=await _thresholds(uow, team),
        elapsed_share=clock.elapsed,
        children=nodes,
    )


async def _expected(uow: GoalsUnitOfWork, team: Team, plan: Plan, clock: _Clock) -> int:
    """What a team's own reps were expected to have sold by now, by their schedules."""
    targets = await uow.repo.targets_of(org_id=team.org_id, plan_id=plan.id)
    active = {m.id: m for m in await uow.repo.active_members(org_id=team.org_id, team_id=team.id)}
    mine = [t for t in targets if t.member_id in active]
    absences = await uow.repo.absences_by_member(
        org_id=team.org_id, member_ids=[t.member_id for t in mine]
    )
    return sum(
        running_minor(
            t.amount_minor,
            clock.share(_workdays(active[t.member_id], absences.get(t.member_id, []))),
        )
        for t in mine
    )


async def team_figures(uow: GoalsUnitOfWork, team: Team, plan: Plan) -> tuple[int, int, int]:
    """A team's own reps in a plan: achieved, projected and assigned (sum of targets)."""
    achieved = projected = 0
    targets = await uow.repo.targets_of(org_id=team.org_id, plan_id=plan.id)
    active = {m.id for m in await uow.repo.active_members(org_id=team.org_id, team_id=team.id)}
    mine = [t for t in targets if t.member_id in active]
    standings = await uow.repo.standings(
        org_id=team.org_id, period_id=plan.period_id, member_ids=[t.member_id for t in mine]
    )
    for t in mine:
        s = standings.get(t.member_id)
        achieved += s.achieved_minor if s else 0
        # Not reported yet: nothing sold, projected on target (as the rebalancing assumes).
        projected += s.projected_minor if s else t.amount_minor
    return achieved, projected, sum(t.amount_minor for t in targets)
