"""Attainment use cases: team and member views, leaderboard, thresholds, on-demand evaluation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.performance.adapters.orm import Period, Team
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.domain import pace
from services.performance.handlers.access import belongs_or_oversees, oversees
from services.performance.handlers.evaluation import (
    MemberPace,
    TeamPace,
    evaluate_team_period,
    team_pace,
    team_pace_page,
    thresholds_of,
)
from shared.auth import Principal
from shared.domain_errors import Forbidden, NotFound
from shared.events.performance import MemberResult, PeriodClosed, ThresholdsChanged
from shared.money import from_minor


@dataclass(frozen=True)
class SetThresholds:
    """New pace thresholds of a team."""

    team_id: uuid.UUID
    at_risk_below: Decimal
    struggling_below: Decimal
    hysteresis: Decimal
    min_elapsed_share: Decimal


@dataclass(frozen=True)
class Evaluate:
    """Evaluate a team's pace now, or as of an instant (admins only)."""

    team_id: uuid.UUID
    period_id: uuid.UUID
    as_of: datetime | None = None


@dataclass(frozen=True)
class MemberPeriodPace:
    """A member's standing in one period."""

    period_id: uuid.UUID
    team_id: uuid.UUID
    standing: MemberPace


async def _team_and_period(
    uow: PerformanceUnitOfWork, principal: Principal, team_id: uuid.UUID, period_id: uuid.UUID
) -> tuple[Team, Period]:
    team = await uow.repo.team(org_id=principal.org, team_id=team_id)
    period = await uow.repo.period(org_id=principal.org, period_id=period_id)
    if team is None:
        raise NotFound("no such team")
    if period is None:
        raise NotFound("no such period")
    return team, period


async def team_attainment(
    *,
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    uow: PerformanceUnitOfWork,
    principal: Principal,
    now: datetime,
    limit: int = 200,
    cursor: str | None = None,
) -> tuple[TeamPace, str | None]:
    """A page of members' attainment and pace, by member id (team's managers and admins)."""
    async with uow:
        team, period = await _team_and_period(uow, principal, team_id, period_id)
        if not await oversees(uow, principal, team_id):
            raise Forbidden("only the team's managers (or above it) and admins see the whole team")
        members, next_cursor = await team_pace_page(
            uow.repo, team=team, period=period, as_of=now, limit=limit, cursor=cursor
        )
    return TeamPace(team_id, period_id, team.currency, now, members, []), next_cursor


async def leaderboard(
    *,
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    uow: PerformanceUnitOfWork,
    principal: Principal,
    now: datetime,
) -> TeamPace:
    """The team ranked by percent of target (visible to everyone in the team)."""
    async with uow:
        team, period = await _team_and_period(uow, principal, team_id, period_id)
        if not await belongs_or_oversees(uow, principal, team_id):
            raise Forbidden("only members of the team see its leaderboard")
        members, _ = await team_pace(uow.repo, team=team, team_id=team_id, period=period, as_of=now)
    ranked = sorted(
        members, key=lambda m: (-m.pace.percent, -m.pace.achieved_minor, str(m.member_id))
    )
    return TeamPace(team_id, period_id, team.currency, now, ranked, [])


async def member_attainment(
    *,
    member_id: uuid.UUID,
    period_id: uuid.UUID | None,
    uow: PerformanceUnitOfWork,
    principal: Principal,
    now: datetime,
) -> list[MemberPeriodPace]:
    """A member's attainment per period (the member, their managers, admins)."""
    async with uow:
        member = await uow.repo.member(org_id=principal.org, member_id=member_id)
        if member is None:
            raise NotFound("no such member")
        if principal.member_id != member_id and not await oversees(uow, principal, member.team_id):
            raise Forbidden("reps see only their own attainment")
        targets = await uow.repo.member_targets(member_id=member_id)
        if period_id is not None:
            if await uow.repo.period(org_id=principal.org, period_id=period_id) is None:
                raise NotFound("no such period")
            targets = [t for t in targets if t.period_id == period_id]
        result: list[MemberPeriodPace] = []
        for target in targets:
            period = await uow.repo.period(org_id=principal.org, period_id=target.period_id)
            if period is None:
                continue
            team = await uow.repo.team(org_id=principal.org, team_id=target.team_id)
            rows, _ = await team_pace(
                uow.repo,
                team=team,
                team_id=target.team_id,
                period=period,
                as_of=now,
                only_member=member_id,
            )
            result.extend(MemberPeriodPace(period.id, target.team_id, row) for row in rows)
    return result


async def set_thresholds(
    cmd: SetThresholds, *, uow: PerformanceUnitOfWork, principal: Principal
) -> pace.Thresholds:
    """Set a team's pace thresholds (its managers and admins)."""
    thresholds = pace.Thresholds(
        at_risk_below=cmd.at_risk_below,
        struggling_below=cmd.struggling_below,
        hysteresis=cmd.hysteresis,
        min_elapsed_share=cmd.min_elapsed_share,
    )
    async with uow:
        team = await uow.repo.team(org_id=principal.org, team_id=cmd.team_id)
        if team is None:
            raise NotFound("no such team")
        if not await oversees(uow, principal, cmd.team_id):
            raise Forbidden("only the team's managers and admins set its thresholds")
        team.at_risk_below = str(thresholds.at_risk_below)
        team.struggling_below = str(thresholds.struggling_below)
        team.hysteresis = str(thresholds.hysteresis)
        team.min_elapsed_share = str(thresholds.min_elapsed_share)
        team.thresholds_version += 1
        uow.repo.add(team)
        uow.emit(
            ThresholdsChanged(
                org_id=principal.org,
                team_id=team.id,
                at_risk_below=thresholds.at_risk_below,
                struggling_below=thresholds.struggling_below,
                hysteresis=thresholds.hysteresis,
                min_elapsed_share=thresholds.min_elapsed_share,
                version=team.thresholds_version,
            )
        )
        await uow.commit()
    return thresholds_of(team)


async def get_thresholds(
    *, team_id: uuid.UUID, uow: PerformanceUnitOfWork, principal: Principal
) -> pace.Thresholds:
    """A team's pace thresholds (anyone in the team)."""
    async with uow:
        team = await uow.repo.team(org_id=principal.org, team_id=team_id)
        if team is None:
            raise NotFound("no such team")
        if not await belongs_or_oversees(uow, principal, team_id):
            raise Forbidden("only members of the team see its thresholds")
    return thresholds_of(team)


async def evaluate_now(
    cmd: Evaluate, *, uow: PerformanceUnitOfWork, principal: Principal, now: datetime
) -> TeamPace:
    """Evaluate a team's pace and publish shortfalls (as_of is for admins replaying the past)."""
    if cmd.as_of is not None and not principal.is_admin:
        raise Forbidden("only admins may evaluate as of another instant")
    async with uow:
        await _team_and_period(uow, principal, cmd.team_id, cmd.period_id)
        if not await oversees(uow, principal, cmd.team_id):
            raise Forbidden("only the team's managers and admins evaluate it")
        result = await evaluate_team_period(
            uow,
            org_id=principal.org,
            team_id=cmd.team_id,
            period_id=cmd.period_id,
            as_of=cmd.as_of or now,
        )
        await uow.commit()
    assert result is not None
    return result


async def close_period(
    uow: PerformanceUnitOfWork,
    *,
    org_id: uuid.UUID,
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    now: datetime,
) -> bool:
    """Publish a team's final results for an ended period, once; False if already done."""
    period = await uow.repo.period(org_id=org_id, period_id=period_id)
    if period is None:
        return False
    won = await uow.repo.close_period_once(
        {
            "id": uuid.uuid4(),
            "org_id": org_id,
            "team_id": team_id,
            "period_id": period_id,
            "closed_at": now,
        }
    )
    if not won:
        return False
    team = await uow.repo.team(org_id=org_id, team_id=team_id)
    targets = await uow.repo.targets(team_id=team_id, period_id=period_id)
    rows = await uow.repo.attainments(
        period_id=period_id, member_ids=[t.member_id for t in targets]
    )
    currency = team.currency if team else (targets[0].currency if targets else "EUR")
    uow.emit(
        PeriodClosed(
            org_id=org_id,
            team_id=team_id,
            period_id=period_id,
            period_name=period.name,
            starts_on=period.starts_on,
            ends_on=period.ends_on,
            currency=currency,
            results=[
                MemberResult(
                    member_id=t.member_id,
                    target=from_minor(t.amount_minor, currency),
                    achieved=from_minor(
                        rows[t.member_id].achieved_minor if t.member_id in rows else 0, currency
                    ),
                )
                for t in sorted(targets, key=lambda t: str(t.member_id))
            ],
        )
    )
    return True
