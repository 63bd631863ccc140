"""Pace evaluation of a team in a period: statuses with hysteresis, episodes, shortfall events."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from services.performance.adapters.orm import (
    Attainment,
    Member,
    Period,
    ShortfallEpisode,
    Target,
    Team,
    TeamEvaluation,
)
from services.performance.adapters.repository import PerformanceRepository
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.domain import pace
from shared.events.performance import (
    AttainmentChanged,
    MemberFigures,
    MemberShortfall,
    ShortfallRecovered,
    TeamShortfallsDetected,
)
from shared.money import from_minor

# An unchanged team with uncovered shortfalls is announced again this often, so a claim that
# waited (cooldown, freeze lifted by a policy change) is retried without a new sale.
REPUBLISH_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class TargetRef:
    """The target a standing was computed against, as the wire names it."""

    id: uuid.UUID
    version: int


@dataclass(frozen=True)
class MemberPace:
    """One member's standing, ready for the wire."""

    member_id: uuid.UUID
    target: Target | TargetRef
    pace: pace.Pace
    currency: str
    previous_status: str | None

    def money(self, minor: int) -> Decimal:
        """Minor units in this row's currency as an exact decimal."""
        return from_minor(minor, self.currency)


@dataclass(frozen=True)
class TeamPace:
    """A team's standing in a period at an instant, and the shortfalls it announced."""

    team_id: uuid.UUID
    period_id: uuid.UUID
    currency: str
    as_of: datetime
    members: list[MemberPace]
    shortfalls: list[uuid.UUID]


def thresholds_of(team: Team | None) -> pace.Thresholds:
    """A team's pace thresholds (defaults until its manager sets them)."""
    if team is None:
        return pace.DEFAULT_THRESHOLDS
    return pace.Thresholds(
        at_risk_below=Decimal(team.at_risk_below),
        struggling_below=Decimal(team.struggling_below),
        hysteresis=Decimal(team.hysteresis),
        min_elapsed_share=Decimal(team.min_elapsed_share),
    )


def domain_period(period: Period) -> pace.Period:
    """The pace model of a stored period."""
    seasonality = (
        {int(k): Decimal(v) for k, v in period.seasonality.items()} if period.seasonality else None
    )
    return pace.Period(
        starts_at=period.starts_at,
        ends_at=period.ends_at,
        timezone=period.timezone,
        seasonality=seasonality,
    )


def availability_of(
    member: Member, absences: dict[uuid.UUID, list[tuple[date, date]]], period: Period
) -> pace.Availability:
    """When a member is expected to sell in a period: absences, starts_on and ramp schedule."""
    return _availability(member.id, member.starts_on, member.ramp_schedule, absences, period)


def _availability(
    member_id: uuid.UUID,
    member_starts_on: date | None,
    ramp_schedule: list[str] | None,
    absences: dict[uuid.UUID, list[tuple[date, date]]],
    period: Period,
) -> pace.Availability:
    mine = tuple(
        (start, end)
        for start, end in absences.get(member_id, [])
        if start <= period.ends_on and period.starts_on <= end
    )
    starts_on = (
        member_starts_on if member_starts_on and member_starts_on > period.starts_on else None
    )
    schedule = tuple(Fraction(Decimal(v)) for v in ramp_schedule or [])
    # A starts_on before the period matters only to place the schedule's steps.
    if schedule and member_starts_on is not None:
        starts_on = member_starts_on
    return pace.Availability(absences=mine, starts_on=starts_on, ramp_schedule=schedule)


async def team_pace(
    repo: PerformanceRepository,
    *,
    team: Team | None,
    team_id: uuid.UUID,
    period: Period,
    as_of: datetime,
    only_member: uuid.UUID | None = None,
    targets: list[Target] | None = None,
) -> tuple[list[MemberPace], dict[uuid.UUID, Attainment]]:
    """Compute every targeted active member's pace from the incremental rows (no sale scan)."""
    if targets is None:
        targets = await repo.targets(team_id=team_id, period_id=period.id)
    members = await repo.members(org_id=period.org_id, ids=[t.member_id for t in targets])
    targets = [t for t in targets if t.member_id in members and members[t.member_id].active]
    if only_member is not None:
        targets = [t for t in targets if t.member_id == only_member]
    rows = await repo.attainments(period_id=period.id, member_ids=[t.member_id for t in targets])
    absences = await repo.absences(org_id=period.org_id, member_ids=[t.member_id for t in targets])
    thresholds = thresholds_of(team)
    model = domain_period(period)
    result = []
    for target in sorted(targets, key=lambda t: str(t.member_id)):
        row = rows.get(target.member_id)
        previous = row.status if row is not None else None
        standing = pace.evaluate(
            target_minor=target.amount_minor,
            achieved_minor=row.achieved_minor if row is not None else 0,
            period=model,
            as_of=as_of,
            thresholds=thresholds,
            previous_status=previous,
            availability=availability_of(members[target.member_id], absences, period),
        )
        currency = team.currency if team is not None else target.currency
        result.append(MemberPace(target.member_id, target, standing, currency, previous))
    return result, rows


async def team_pace_page(
    repo: PerformanceRepository,
    *,
    team: Team,
    period: Period,
    as_of: datetime,
    limit: int,
    cursor: str | None,
) -> tuple[list[MemberPace], str | None]:
    """A page of the team's pace for reading: two queries, the same standings as ``team_pace``."""
    rows, next_cursor = await repo.pace_page(
        org_id=period.org_id, team_id=team.id, period_id=period.id, limit=limit, cursor=cursor
    )
    absences = await repo.absences(org_id=period.org_id, member_ids=[r.member_id for r in rows])
    thresholds = thresholds_of(team)
    model = domain_period(period)
    result = []
    for row in rows:
        standing = pace.evaluate(
            target_minor=row.amount_minor,
            achieved_minor=row.achieved_minor or 0,
            period=model,
            as_of=as_of,
            thresholds=thresholds,
            previous_status=row.status,
            availability=_availability(
                row.member_id, row.starts_on, row.ramp_schedule, absences, period
            ),
        )
        target = TargetRef(id=row.id, version=row.version)
        result.append(MemberPace(row.member_id, target, standing, team.currency, row.status))
    return result, next_cursor


async def evaluate_team_period(
    uow: PerformanceUnitOfWork,
    *,
    org_id: uuid.UUID,
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    as_of: datetime,
) -> TeamPace | None:
    """Judge a team's members, keep their statuses, and announce every uncovered shortfall.

    Safe with several replicas: the team row lock serialises evaluations of a team, and an
    episode is opened only by whoever inserts its row.
    """
    repo = uow.repo
    period = await repo.period(org_id=org_id, period_id=period_id)
    if period is None:
        return None
    await repo.lock_team(org_id=org_id, team_id=team_id)
    team = await repo.team(org_id=org_id, team_id=team_id)
    targets = await repo.targets(team_id=team_id, period_id=period_id)
    await repo.ensure_attainments(
        org_id=org_id,
        team_id=team_id,
        period_id=period_id,
        member_ids=[t.member_id for t in targets],
    )
    members, rows = await team_pace(
        repo, team=team, team_id=team_id, period=period, as_of=as_of, targets=targets
    )
    currency = team.currency if team is not None else (members[0].currency if members else "EUR")
    # Read once for the whole team: the episode numbers below come from this same read, so a
    # replica that opened the episode meanwhile makes our insert conflict instead of announcing
    # the stretch twice.
    episodes_by_member = await repo.episodes_of(
        period_id=period_id, member_ids=[m.member_id for m in members]
    )
    entered: list[MemberPace] = []
    struggling: list[tuple[MemberPace, ShortfallEpisode | None]] = []
    recovered: list[tuple[MemberPace, ShortfallEpisode]] = []
    for standing in members:
        row = rows[standing.member_id]
        status = standing.pace.status.value
        row.status = status
        row.evaluated_at = as_of
        if row.reported_status != status or row.reported_achieved_minor != row.achieved_minor:
            row.reported_status = status
            row.reported_achieved_minor = row.achieved_minor
            uow.emit(_attainment_changed(org_id, team_id, period_id, standing, as_of))
        repo.add(row)
        episodes = episodes_by_member[standing.member_id]
        open_episode = episodes[-1] if episodes and episodes[-1].closed_at is None else None
        if status == pace.PaceStatus.STRUGGLING.value:
            if open_episode is None:
                entered.append(standing)
            else:
                struggling.append((standing, open_episode))
        elif open_episode is not None:
            open_episode.closed_at = as_of
            repo.add(open_episode)
        elif episodes and _recovers(standing, episodes[-1]):
            recovered.append((standing, episodes[-1]))
    new_ids: list[uuid.UUID] = []
    for standing in entered:
        episode = await _open_episode(
            uow,
            org_id,
            team_id,
            period_id,
            standing,
            as_of,
            number=len(episodes_by_member[standing.member_id]) + 1,
        )
        if episode is None:
            continue  # another replica opened this episode; it announces it
        new_ids.append(episode.id)
        struggling.append((standing, episode))
    for standing, episode in recovered:
        episode.recovered_at = as_of
        repo.add(episode)
        uow.emit(_recovery(period, team_id, currency, as_of, members, standing, episode))
    await _announce(
        uow,
        period=period,
        team_id=team_id,
        currency=currency,
        as_of=as_of,
        members=members,
        struggling=struggling,
        new_ids=set(new_ids),
    )
    await repo.flush()
    return TeamPace(team_id, period_id, currency, as_of, members, new_ids)


async def _open_episode(
    uow: PerformanceUnitOfWork,
    org_id: uuid.UUID,
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    standing: MemberPace,
    as_of: datetime,
    *,
    number: int,
) -> ShortfallEpisode | None:
    """Open a member's next episode; None when a replica inserted it first."""
    values = {
        "id": uuid.uuid4(),
        "org_id": org_id,
        "team_id": team_id,
        "member_id": standing.member_id,
        "period_id": period_id,
        "episode": number,
        "shortfall_minor": standing.pace.shortfall_minor,
        "opened_at": as_of,
    }
    if not await uow.repo.open_episode(values):
        return None
    return ShortfallEpisode.model_validate(values)


def _recovers(standing: MemberPace, episode: ShortfallEpisode) -> bool:
    """Out of a closed episode, on track and projected above target: time to hand back."""
    return (
        episode.closed_at is not None
        and episode.recovered_at is None
        and standing.pace.status is pace.PaceStatus.ON_TRACK
        and standing.pace.projected_minor > standing.pace.target_minor
    )


def _figures(members: list[MemberPace]) -> list[MemberFigures]:
    return [
        MemberFigures(
            member_id=m.member_id,
            target_id=m.target.id,
            target_version=m.target.version,
            target=m.money(m.pace.target_minor),
            achieved=m.money(m.pace.achieved_minor),
            projected=m.money(m.pace.projected_minor),
            status=m.pace.status.value,
        )
        for m in members
    ]


def _recovery(
    period: Period,
    team_id: uuid.UUID,
    currency: str,
    as_of: datetime,
    members: list[MemberPace],
    standing: MemberPace,
    episode: ShortfallEpisode,
) -> ShortfallRecovered:
    return ShortfallRecovered(
        org_id=period.org_id,
        team_id=team_id,
        member_id=standing.member_id,
        period_id=period.id,
        shortfall_id=episode.id,
        episode=episode.episode,
        currency=currency,
        as_of=as_of,
        standings=_figures(members),
    )


def fingerprint(members: list[MemberPace]) -> str:
    """Digest of what can open room for a shortfall: each member's target version and sales."""
    text = ";".join(
        f"{m.member_id}:{m.target.version}:{m.pace.target_minor}:{m.pace.achieved_minor}"
        for m in sorted(members, key=lambda m: str(m.member_id))
    )
    return hashlib.sha256(text.encode()).hexdigest()


async def _announce(
    uow: PerformanceUnitOfWork,
    *,
    period: Period,
    team_id: uuid.UUID,
    currency: str,
    as_of: datetime,
    members: list[MemberPace],
    struggling: list[tuple[MemberPace, ShortfallEpisode | None]],
    new_ids: set[uuid.UUID],
) -> None:
    """Publish one team event naming every uncovered struggling member, when it says something new.

    New episodes are always announced. Open ones are announced again only when room may have
    appeared (a target or a sale changed) or after REPUBLISH_AFTER, so a claim waiting out a
    cooldown is retried; an unchanged team is not repeated on every scheduled tick.
    """
    uncovered = [(m, e) for m, e in struggling if e is not None and m.pace.shortfall_minor > 0]
    if not uncovered:
        return
    repo = uow.repo
    digest = fingerprint(members)
    state = await repo.evaluation_state(team_id=team_id, period_id=period.id)
    repeat = (
        state is not None
        and state.fingerprint == digest
        and as_of - state.published_at < REPUBLISH_AFTER
    )
    if repeat and not new_ids:
        return
    state = state or TeamEvaluation.model_validate(
        {
            "team_id": team_id,
            "period_id": period.id,
            "org_id": period.org_id,
            "fingerprint": digest,
            "published_at": as_of,
        }
    )
    state.fingerprint, state.published_at = digest, as_of
    repo.add(state)
    uow.emit(
        TeamShortfallsDetected(
            org_id=period.org_id,
            team_id=team_id,
            evaluation_id=uuid.uuid4(),
            period_id=period.id,
            currency=currency,
            as_of=as_of,
            period_ends_at=period.ends_at,
            shortfalls=[
                MemberShortfall(
                    shortfall_id=episode.id,
                    member_id=m.member_id,
                    episode=episode.episode,
                    shortfall=m.money(m.pace.shortfall_minor),
                    new=episode.id in new_ids,
                )
                for m, episode in sorted(uncovered, key=lambda pair: str(pair[0].member_id))
            ],
            standings=_figures(members),
        )
    )


def _attainment_changed(
    org_id: uuid.UUID,
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    standing: MemberPace,
    as_of: datetime,
) -> AttainmentChanged:
    p = standing.pace
    return AttainmentChanged(
        org_id=org_id,
        team_id=team_id,
        member_id=standing.member_id,
        period_id=period_id,
        target=standing.money(p.target_minor),
        achieved=standing.money(p.achieved_minor),
        percent=p.percent,
        expected_to_date=standing.money(p.expected_to_date_minor),
        projected=standing.money(p.projected_minor),
        status=p.status.value,
        currency=standing.currency,
        as_of=as_of,
    )
