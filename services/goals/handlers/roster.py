"""Roster use cases: teams, their members, and members' past results."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from services.goals.adapters.orm import Member, PastResult, Team
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.availability import check_ramp_schedule
from services.goals.domain.hierarchy import check_parent
from services.goals.domain.rebalancing import plan_departure
from services.goals.handlers.access import load_member, load_team
from services.goals.handlers.ledger import apply_new_targets, policy_for, positions_of
from shared.auth import Principal
from shared.domain_errors import Conflict, Forbidden, InvalidInput
from shared.events.goals import (
    CrmIds,
    MemberJoined,
    MemberLeft,
    MemberUpdated,
    TeamCreated,
    TeamUpdated,
)
from shared.http import check_if_match
from shared.money import to_minor
from shared.timeutil import utcnow


class _Keep(enum.Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP
"""A field of an update command left as it is (unlike None, which clears it)."""


@dataclass(frozen=True, kw_only=True)
class CreateTeam:
    """Create a team."""

    name: str
    currency: str
    manager_id: uuid.UUID
    parent_team_id: uuid.UUID | None = None


@dataclass(frozen=True, kw_only=True)
class UpdateTeam:
    """Rename a team or change its manager (None: unchanged)."""

    team_id: uuid.UUID
    name: str | None = None
    manager_id: uuid.UUID | None = None
    parent_team_id: uuid.UUID | _Keep | None = KEEP
    """KEEP leaves the parent; None makes the team a root."""
    if_match: str | None = None


@dataclass(frozen=True, kw_only=True)
class AddMember:
    """Add a member to a team."""

    team_id: uuid.UUID
    name: str
    email: str
    capacity: Decimal
    ramp: Decimal
    starts_on: date | None = None
    ramp_schedule: Sequence[Decimal] | None = None
    crm_ids: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class UpdateMember:
    """Change a member's details: None leaves a field as it is, except where noted."""

    member_id: uuid.UUID
    name: str | None = None
    email: str | None = None
    capacity: Decimal | None = None
    ramp: Decimal | None = None
    starts_on: date | _Keep | None = KEEP
    ramp_schedule: Sequence[Decimal] | None = None
    """None leaves it; an empty list clears it (back to the scalar ramp)."""
    crm_ids: Mapping[str, str | None] = field(default_factory=dict)
    """Only the CRMs named change; a None id clears it."""
    if_match: str | None = None


@dataclass(frozen=True, kw_only=True)
class RemoveMember:
    """The member leaves their team."""

    member_id: uuid.UUID
    if_match: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordResult:
    """Record what a member achieved in a past period."""

    member_id: uuid.UUID
    period_name: str
    starts_on: date
    ends_on: date
    achieved: Decimal


# ------------------------------------------------------------------------------------- teams


def _team_fact(cls: type, team: Team) -> Any:
    return cls(
        org_id=team.org_id,
        team_id=team.id,
        name=team.name,
        currency=team.currency,
        manager_id=team.manager_id,
        parent_team_id=team.parent_team_id,
    )


async def _check_parent(
    uow: GoalsUnitOfWork, principal: Principal, team: Team, parent_id: uuid.UUID | None
) -> None:
    """The parent exists in the org, works in the same currency, and makes no cycle."""
    if parent_id is None:
        return
    if not principal.is_admin:
        raise Forbidden("only an admin may place a team in the hierarchy")
    parent = await uow.repo.get(Team, org_id=principal.org, id=parent_id, what="team")
    if parent.currency != team.currency:
        raise InvalidInput(
            f"the parent team works in {parent.currency}, this team in {team.currency}",
            field="parent_team_id",
        )
    check_parent(team.id, parent.id, await uow.repo.parent_links(org_id=principal.org))


async def create_team(cmd: CreateTeam, *, uow: GoalsUnitOfWork, principal: Principal) -> Team:
    """Create a team (admin only)."""
    async with uow:
        team = Team.model_validate(
            {
                "name": cmd.name,
                "currency": cmd.currency,
                "manager_id": cmd.manager_id,
                "org_id": principal.org,
            }
        )
        await _check_parent(uow, principal, team, cmd.parent_team_id)
        team.parent_team_id = cmd.parent_team_id
        uow.repo.add(team)
        uow.emit(_team_fact(TeamCreated, team))
        await uow.commit()
    return team


async def get_team(team_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal) -> Team:
    """Read a team."""
    async with uow:
        return await load_team(uow, principal, team_id, write=False)


async def list_teams(
    *, uow: GoalsUnitOfWork, principal: Principal, cursor: str | None, limit: int
) -> tuple[list[Team], str | None]:
    """Teams the caller can see: all for admins, the token's teams for others."""
    async with uow:
        only = None if principal.is_admin else set(principal.teams)
        return await uow.repo.teams(org_id=principal.org, only=only, cursor=cursor, limit=limit)


async def update_team(cmd: UpdateTeam, *, uow: GoalsUnitOfWork, principal: Principal) -> Team:
    """Rename a team or change its manager."""
    async with uow:
        team = await load_team(uow, principal, cmd.team_id, write=True)
        check_if_match(cmd.if_match, team.version)
        if cmd.manager_id is not None and not principal.is_admin:
            raise Forbidden("only an admin may change a team's manager")
        if cmd.name is not None:
            team.name = cmd.name
        if cmd.manager_id is not None:
            team.manager_id = cmd.manager_id
        if cmd.parent_team_id is not KEEP:
            if not principal.is_admin:
                raise Forbidden("only an admin may place a team in the hierarchy")
            await _check_parent(uow, principal, team, cmd.parent_team_id)
            team.parent_team_id = cmd.parent_team_id
        team.version += 1
        uow.repo.add(team)
        uow.emit(_team_fact(TeamUpdated, team))
        await uow.commit()
    return team


# ----------------------------------------------------------------------------------- members


def _member_fact(cls: type, member: Member) -> Any:
    return cls(
        org_id=member.org_id,
        team_id=member.team_id,
        member_id=member.id,
        name=member.name,
        email=member.email,
        capacity=Decimal(member.capacity),
        ramp=Decimal(member.ramp),
        crm_ids=CrmIds(
            hubspot=member.crm_hubspot,
            salesforce=member.crm_salesforce,
            pipedrive=member.crm_pipedrive,
        ),
        version=member.version,
        starts_on=member.starts_on,
        ramp_schedule=(
            None if member.ramp_schedule is None else [Decimal(v) for v in member.ramp_schedule]
        ),
    )


def _schedule_column(values: Sequence[Decimal] | None) -> list[str] | None:
    """Validated ramp steps as stored text; None or [] means no schedule."""
    steps = check_ramp_schedule(list(values or []))
    return [str(v) for v in values] if steps and values else None


def _crm_columns(crm_ids: Mapping[str, str | None]) -> dict[str, str | None]:
    return {f"crm_{k}": v for k, v in crm_ids.items()}


async def add_member(cmd: AddMember, *, uow: GoalsUnitOfWork, principal: Principal) -> Member:
    """Add a member to a team."""
    async with uow:
        team = await load_team(uow, principal, cmd.team_id, write=True)
        member = Member.model_validate(
            {
                "name": cmd.name,
                "email": cmd.email,
                "capacity": str(cmd.capacity),
                "ramp": str(cmd.ramp),
                "starts_on": cmd.starts_on,
                "ramp_schedule": _schedule_column(cmd.ramp_schedule),
                **_crm_columns(cmd.crm_ids),
                "org_id": principal.org,
                "team_id": team.id,
            }
        )
        uow.repo.add(member)
        uow.emit(_member_fact(MemberJoined, member))
        await uow.commit()
    return member


async def list_members(
    team_id: uuid.UUID,
    *,
    include_left: bool,
    uow: GoalsUnitOfWork,
    principal: Principal,
    cursor: str | None,
    limit: int,
) -> tuple[list[Member], str | None]:
    """Members of a team."""
    async with uow:
        await load_team(uow, principal, team_id, write=False)
        return await uow.repo.members(
            org_id=principal.org,
            team_id=team_id,
            include_left=include_left,
            cursor=cursor,
            limit=limit,
        )


async def get_member(member_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal) -> Member:
    """Read a member."""
    async with uow:
        member, _ = await load_member(uow, principal, member_id, write=False)
        return member


def _member_changes(cmd: UpdateMember) -> dict[str, Any]:
    changes: dict[str, Any] = {
        key: value
        for key, value in (
            ("name", cmd.name),
            ("email", cmd.email),
            ("capacity", None if cmd.capacity is None else str(cmd.capacity)),
            ("ramp", None if cmd.ramp is None else str(cmd.ramp)),
        )
        if value is not None
    }
    if cmd.starts_on is not KEEP:
        changes["starts_on"] = cmd.starts_on
    if cmd.ramp_schedule is not None:
        changes["ramp_schedule"] = _schedule_column(cmd.ramp_schedule)
    return {**changes, **_crm_columns(cmd.crm_ids)}


async def update_member(cmd: UpdateMember, *, uow: GoalsUnitOfWork, principal: Principal) -> Member:
    """Change a member's details; bumps the version."""
    async with uow:
        member, _ = await load_member(uow, principal, cmd.member_id, write=True)
        check_if_match(cmd.if_match, member.version)
        if member.left_at is not None:
            raise Conflict("this member has left the team")
        for key, value in _member_changes(cmd).items():
            setattr(member, key, value)
        member.version += 1
        uow.repo.add(member)
        uow.emit(_member_fact(MemberUpdated, member))
        await uow.commit()
    return member


@dataclass(frozen=True)
class DepartureResult:
    """The member who left and the targets that took over their open target."""

    member: Member
    changed_targets: list[uuid.UUID]


async def remove_member(
    cmd: RemoveMember, *, uow: GoalsUnitOfWork, principal: Principal
) -> DepartureResult:
    """The member leaves: open targets go to the rest of the team, the team total is kept."""
    async with uow:
        member, team = await load_member(uow, principal, cmd.member_id, write=True)
        check_if_match(cmd.if_match, member.version)
        if member.left_at is not None:
            raise Conflict("this member has already left the team")
        now = utcnow()
        active = {
            m.id for m in await uow.repo.active_members(org_id=principal.org, team_id=team.id)
        }
        policy = await policy_for(uow=uow, org=principal.org, team_id=team.id)
        changed: list[uuid.UUID] = []
        for _target, plan, _period in await uow.repo.open_targets_of_member(
            org_id=principal.org, member_id=member.id, now=now
        ):
            targets = await uow.repo.targets_of(org_id=principal.org, plan_id=plan.id)
            positions = await positions_of(uow=uow, plan=plan, targets=targets, members=active)
            departure = plan_departure(leaver_id=member.id, team=positions, policy=policy)
            changed += apply_new_targets(
                uow=uow,
                plan=plan,
                targets=targets,
                new_targets=departure.new_targets,
                reason="member_left",
                actor=principal.sub,
                note=f"{member.name} left the team",
            )
        member.left_at = now
        member.version += 1
        uow.repo.add(member)
        uow.emit(
            MemberLeft(org_id=member.org_id, team_id=team.id, member_id=member.id, left_at=now)
        )
        await uow.commit()
    return DepartureResult(member=member, changed_targets=changed)


# ----------------------------------------------------------------------------------- results


async def record_result(
    cmd: RecordResult, *, uow: GoalsUnitOfWork, principal: Principal
) -> PastResult:
    """Import a member's result of a past period (replaces one with the same bounds)."""
    if cmd.ends_on < cmd.starts_on:
        raise InvalidInput("ends_on must not be before starts_on", field="ends_on")
    async with uow:
        member, team = await load_member(uow, principal, cmd.member_id, write=True)
        achieved = to_minor(cmd.achieved, team.currency, field="achieved")
        row = await uow.repo.result_for(
            org_id=principal.org, member_id=member.id, starts_on=cmd.starts_on, ends_on=cmd.ends_on
        )
        if row is None:
            row = PastResult.model_validate(
                {
                    "period_name": cmd.period_name,
                    "starts_on": cmd.starts_on,
                    "ends_on": cmd.ends_on,
                    "org_id": principal.org,
                    "member_id": member.id,
                    "achieved_minor": achieved,
                    "currency": team.currency,
                }
            )
        else:
            row.period_name, row.achieved_minor, row.source = cmd.period_name, achieved, "api"
        uow.repo.add(row)
        await uow.commit()
    return row


async def list_results(
    member_id: uuid.UUID,
    *,
    uow: GoalsUnitOfWork,
    principal: Principal,
    cursor: str | None,
    limit: int,
) -> tuple[list[PastResult], str | None]:
    """A member's past results."""
    async with uow:
        await load_member(uow, principal, member_id, write=False)
        return await uow.repo.results(
            org_id=principal.org, member_id=member_id, cursor=cursor, limit=limit
        )
