"""Use cases of the goals API: each owns its transaction and returns plain rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.goals.adapters.orm import (
    Member,
    PastResult,
    Period,
    Plan,
    Rebalance,
    RebalancePolicy,
    Target,
    TargetChange,
    Team,
    as_utc,
    utcnow,
)
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.api import schemas
from services.goals.domain.allocation import AllocationParams, MemberInput, allocate
from services.goals.domain.periods import bounds, check_seasonality
from services.goals.domain.rebalancing import plan_adjustment, plan_departure
from services.goals.handlers.ledger import (
    apply_new_targets,
    change_target,
    policy_for,
    positions_of,
)
from shared.auth import Principal
from shared.domain_errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.events.goals import (
    CrmIds,
    MemberJoined,
    MemberLeft,
    MemberUpdated,
    PeriodDefined,
    PlannedTarget,
    PlanPublished,
    TargetAcknowledged,
    TargetAssigned,
    TargetsRebalanced,
    TeamCreated,
    TeamUpdated,
    Transfer,
)
from shared.http import check_if_match
from shared.money import from_minor, to_minor

# ------------------------------------------------------------------------------------ access


def can_manage(principal: Principal, team: Team) -> bool:
    """Admin, or the team's manager (by token teams or as the team's recorded manager)."""
    if principal.manages(team.id):
        return True
    return "manager" in principal.roles and principal.member_id == team.manager_id


def can_read(principal: Principal, team: Team) -> bool:
    """Managers of the team and anyone whose token lists it."""
    return can_manage(principal, team) or principal.belongs_to(team.id)


async def load_team(
    uow: GoalsUnitOfWork, principal: Principal, team_id: uuid.UUID, *, write: bool
) -> Team:
    """A team of the caller's org the caller may read (or write), else 404 / 403."""
    team = await uow.repo.get(Team, org=principal.org, id=team_id, what="team")
    if write and not can_manage(principal, team):
        raise Forbidden("only an admin or the team's manager may change this team")
    if not write and not can_read(principal, team):
        raise Forbidden("you are not a member of this team")
    return team


# ------------------------------------------------------------------------------------- teams


def _team_fact(cls: type, team: Team) -> Any:
    return cls(
        org_id=team.org_id,
        team_id=team.id,
        name=team.name,
        currency=team.currency,
        manager_id=team.manager_id,
    )


async def create_team(
    body: schemas.TeamCreate, *, uow: GoalsUnitOfWork, principal: Principal
) -> Team:
    """Create a team (admin only)."""
    async with uow:
        team = Team.model_validate({**body.model_dump(), "org_id": principal.org})
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
        stmt = uow.repo.teams(principal.org, only)
        return await uow.repo.page(stmt, [Team.name, Team.id], cursor, limit)


async def update_team(
    team_id: uuid.UUID,
    body: schemas.TeamUpdate,
    *,
    if_match: str | None,
    uow: GoalsUnitOfWork,
    principal: Principal,
) -> Team:
    """Rename a team or change its manager."""
    async with uow:
        team = await load_team(uow, principal, team_id, write=True)
        check_if_match(if_match, team.version)
        if body.manager_id is not None and not principal.is_admin:
            raise Forbidden("only an admin may change a team's manager")
        changes = body.model_dump(exclude_unset=True, exclude_none=True)
        for key, value in changes.items():
            setattr(team, key, value)
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
    )


def _member_fields(data: dict[str, Any]) -> dict[str, Any]:
    crm = data.pop("crm_ids", None)
    if crm is not None:
        data.update({f"crm_{k}": v for k, v in crm.items()})
    for key in ("capacity", "ramp"):
        if data.get(key) is not None:
            data[key] = str(data[key])
    return data


async def add_member(
    team_id: uuid.UUID, body: schemas.MemberCreate, *, uow: GoalsUnitOfWork, principal: Principal
) -> Member:
    """Add a member to a team."""
    async with uow:
        team = await load_team(uow, principal, team_id, write=True)
        data = _member_fields(body.model_dump())
        member = Member.model_validate({**data, "org_id": principal.org, "team_id": team.id})
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
        stmt = uow.repo.members(principal.org, team_id, include_left=include_left)
        return await uow.repo.page(stmt, [Member.name, Member.id], cursor, limit)


async def _load_member(
    uow: GoalsUnitOfWork, principal: Principal, member_id: uuid.UUID, *, write: bool
) -> tuple[Member, Team]:
    member = await uow.repo.get(Member, org=principal.org, id=member_id, what="member")
    team = await uow.repo.get(Team, org=principal.org, id=member.team_id, what="team")
    if principal.member_id == member.id and not write:
        return member, team
    if write and not can_manage(principal, team):
        raise Forbidden("only an admin or the team's manager may change this member")
    if not write and not can_read(principal, team):
        raise Forbidden("you are not a member of this team")
    return member, team


async def get_member(member_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal) -> Member:
    """Read a member."""
    async with uow:
        member, _ = await _load_member(uow, principal, member_id, write=False)
        return member


async def update_member(
    member_id: uuid.UUID,
    body: schemas.MemberUpdate,
    *,
    if_match: str | None,
    uow: GoalsUnitOfWork,
    principal: Principal,
) -> Member:
    """Change a member's details; bumps the version."""
    async with uow:
        member, _ = await _load_member(uow, principal, member_id, write=True)
        check_if_match(if_match, member.version)
        if member.left_at is not None:
            raise Conflict("this member has left the team")
        data = _member_fields(body.model_dump(exclude_unset=True))
        for key, value in data.items():
            if value is not None or key.startswith("crm_") or key == "starts_on":
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
    member_id: uuid.UUID, *, if_match: str | None, uow: GoalsUnitOfWork, principal: Principal
) -> DepartureResult:
    """The member leaves: open targets go to the rest of the team, the team total is kept."""
    async with uow:
        member, team = await _load_member(uow, principal, member_id, write=True)
        check_if_match(if_match, member.version)
        if member.left_at is not None:
            raise Conflict("this member has already left the team")
        now = utcnow()
        active = {m.id for m in await uow.repo.active_members(principal.org, team.id)}
        policy = await policy_for(uow=uow, org=principal.org, team_id=team.id)
        changed: list[uuid.UUID] = []
        for target, plan, _period in await uow.repo.open_targets_of_member(
            principal.org, member.id, now
        ):
            targets = await uow.repo.targets_of(principal.org, plan.id)
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
            _ = target
        member.left_at = now
        member.version += 1
        uow.repo.add(member)
        uow.emit(
            MemberLeft(org_id=member.org_id, team_id=team.id, member_id=member.id, left_at=now)
        )
        await uow.commit()
    return DepartureResult(member=member, changed_targets=changed)


# ----------------------------------------------------------------------------------- periods


def period_fact(period: Period) -> PeriodDefined:
    """The PeriodDefined fact of a period."""
    return PeriodDefined(
        org_id=period.org_id,
        period_id=period.id,
        name=period.name,
        starts_on=period.starts_on,
        ends_on=period.ends_on,
        timezone=period.timezone,
        starts_at=as_utc(period.starts_at),
        ends_at=as_utc(period.ends_at),
        seasonality=_seasonality(period),
    )


def _seasonality(period: Period) -> dict[int, Decimal] | None:
    if period.seasonality is None:
        return None
    return {int(k): Decimal(v) for k, v in period.seasonality.items()}


async def define_period(
    body: schemas.PeriodCreate, *, uow: GoalsUnitOfWork, principal: Principal
) -> Period:
    """Define an org-wide period (admin)."""
    starts_at, ends_at = bounds(
        starts_on=body.starts_on, ends_on=body.ends_on, timezone=body.timezone
    )
    seasonality = None
    if body.seasonality is not None:
        weights = check_seasonality(
            body.seasonality, starts_on=body.starts_on, ends_on=body.ends_on
        )
        seasonality = {str(k): str(v) for k, v in weights.items()}
    async with uow:
        period = Period.model_validate(
            {
                **body.model_dump(exclude={"seasonality"}),
                "org_id": principal.org,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "seasonality": seasonality,
            }
        )
        uow.repo.add(period)
        uow.emit(period_fact(period))
        await uow.commit()
    return period


async def get_period(period_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal) -> Period:
    """Read a period."""
    async with uow:
        return await uow.repo.get(Period, org=principal.org, id=period_id, what="period")


async def list_periods(
    *, uow: GoalsUnitOfWork, principal: Principal, cursor: str | None, limit: int
) -> tuple[list[Period], str | None]:
    """Periods of the org, by start date."""
    async with uow:
        stmt = uow.repo.periods(principal.org)
        return await uow.repo.page(stmt, [Period.starts_on, Period.id], cursor, limit)


def period_read(period: Period) -> schemas.PeriodRead:
    """Wire form of a period."""
    return schemas.PeriodRead(
        id=period.id,
        name=period.name,
        starts_on=period.starts_on,
        ends_on=period.ends_on,
        timezone=period.timezone,
        starts_at=as_utc(period.starts_at),
        ends_at=as_utc(period.ends_at),
        seasonality=_seasonality(period),
    )


# ----------------------------------------------------------------------------------- results


async def record_result(
    member_id: uuid.UUID, body: schemas.ResultCreate, *, uow: GoalsUnitOfWork, principal: Principal
) -> PastResult:
    """Import a member's result of a past period (replaces one with the same bounds)."""
    if body.ends_on < body.starts_on:
        raise InvalidInput("ends_on must not be before starts_on", field="ends_on")
    async with uow:
        member, team = await _load_member(uow, principal, member_id, write=True)
        achieved = to_minor(body.achieved, team.currency)
        row = await uow.repo.result_for(principal.org, member.id, body.starts_on, body.ends_on)
        if row is None:
            row = PastResult.model_validate(
                {
                    **body.model_dump(exclude={"achieved"}),
                    "org_id": principal.org,
                    "member_id": member.id,
                    "achieved_minor": achieved,
                    "currency": team.currency,
                }
            )
        else:
            row.period_name, row.achieved_minor, row.source = body.period_name, achieved, "api"
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
        await _load_member(uow, principal, member_id, write=False)
        stmt = uow.repo.results(principal.org, member_id)
        return await uow.repo.page(stmt, [PastResult.starts_on, PastResult.id], cursor, limit)


# -------------------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class PlanView:
    """A plan with its targets and the members still on the team."""

    plan: Plan
    targets: list[Target]
    active: set[uuid.UUID]


async def _plan_view(uow: GoalsUnitOfWork, plan: Plan) -> PlanView:
    targets = await uow.repo.targets_of(plan.org_id, plan.id)
    active = {m.id for m in await uow.repo.active_members(plan.org_id, plan.team_id)}
    return PlanView(plan=plan, targets=targets, active=active)


async def _load_plan(
    uow: GoalsUnitOfWork,
    principal: Principal,
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    *,
    write: bool,
) -> tuple[Team, Period, Plan]:
    team = await load_team(uow, principal, team_id, write=write)
    period = await uow.repo.get(Period, org=principal.org, id=period_id, what="period")
    plan = await uow.repo.plan_of(principal.org, team.id, period.id)
    if plan is None:
        raise NotFound(f"team {team_id} has no plan for period {period_id}")
    return team, period, plan


async def put_plan(
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    body: schemas.PlanWrite,
    *,
    if_match: str | None,
    uow: GoalsUnitOfWork,
    principal: Principal,
) -> tuple[PlanView, bool]:
    """Create or update a team's plan for a period; True when created."""
    async with uow:
        team = await load_team(uow, principal, team_id, write=True)
        period = await uow.repo.get(Period, org=principal.org, id=period_id, what="period")
        target = to_minor(body.target, team.currency)
        plan = await uow.repo.plan_of(principal.org, team.id, period.id)
        created = plan is None
        fields = {"strategy": body.strategy.model_dump(), "measures": body.measures}
        if plan is None:
            plan = Plan.model_validate(
                {
                    **fields,
                    "org_id": principal.org,
                    "team_id": team.id,
                    "period_id": period.id,
                    "target_minor": target,
                    "currency": team.currency,
                }
            )
        else:
            check_if_match(if_match, plan.version)
            if plan.target_minor != target:
                if plan.status == "published":
                    raise Conflict(
                        "a published plan's target changes only through target edits with "
                        "team_total_changes=true or dispute outcomes"
                    )
                # The stored split no longer adds up: a new allocation is needed before publish.
                plan.method, plan.params = None, None
            plan.target_minor = target
            plan.strategy, plan.measures = fields["strategy"], fields["measures"]
            plan.version += 1
            plan.updated_at = utcnow()
        uow.repo.add(plan)
        await uow.commit()
    async with uow:
        return await _plan_view(uow, plan), created


async def get_plan(
    team_id: uuid.UUID, period_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> PlanView:
    """A plan with every target, its derivation and acknowledgements."""
    async with uow:
        _, _, plan = await _load_plan(uow, principal, team_id, period_id, write=False)
        return await _plan_view(uow, plan)


@dataclass(frozen=True)
class AllocationResult:
    """The targets an allocation produced (stored unless a dry run)."""

    plan: Plan
    method: str
    dry_run: bool
    rows: list[schemas.AllocatedTarget]


async def allocate_plan(
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    body: schemas.AllocationRequest,
    *,
    uow: GoalsUnitOfWork,
    principal: Principal,
) -> AllocationResult:
    """Break the plan target down over the active members; store it unless dry_run."""
    params_in = body.params or schemas.AllocationParamsIn()
    async with uow:
        team, period, plan = await _load_plan(uow, principal, team_id, period_id, write=True)
        if plan.status == "published" and not body.dry_run:
            raise Conflict(
                "the plan is published; change individual targets instead of re-allocating"
            )
        members = await uow.repo.active_members(principal.org, team.id)
        if not members:
            raise Conflict("the team has no active members to allocate to")
        ids = {m.id for m in members}
        overrides = {k: to_minor(v, team.currency) for k, v in (body.overrides or {}).items()}
        unknown = [str(k) for k in overrides if k not in ids]
        if unknown:
            raise InvalidInput("overrides name members not on the team", members=unknown)
        history = await uow.repo.history_of(principal.org, list(ids), period.starts_on)
        inputs = [
            MemberInput(
                member_id=m.id,
                capacity=Decimal(m.capacity),
                ramp=Decimal(m.ramp),
                history=tuple(r.achieved_minor for r in history[m.id]),
            )
            for m in members
        ]
        params = AllocationParams(periods=params_in.periods, alpha=params_in.alpha)
        allocation = allocate(
            total_minor=plan.target_minor,
            method=body.method,
            members=inputs,
            params=params,
            overrides=overrides,
        )
        existing = {t.member_id: t for t in await uow.repo.targets_of(principal.org, plan.id)}
        rows = []
        for member in members:
            amount = allocation.targets[member.id]
            derivation = allocation.derivations[member.id].to_json()
            target = existing.get(member.id)
            if not body.dry_run:
                target = _store_allocated(
                    uow, plan, target, member.id, amount, derivation, principal
                )
            rows.append(
                schemas.AllocatedTarget(
                    member_id=member.id,
                    target_id=target.id if target else None,
                    amount=from_minor(amount, team.currency),
                    derivation=derivation,
                )
            )
        if not body.dry_run:
            # Members who left keep their (historic) target row but take no part in a new split.
            for member_id, target in existing.items():
                if member_id not in ids and target.amount_minor:
                    change_target(
                        uow=uow, plan=plan, target=target, new_minor=0, reason="allocation",
                        actor=principal.sub, note="not on the team at allocation",
                    )  # fmt: skip
            plan.method = allocation.method.value
            plan.params = {"periods": params.periods, "alpha": str(params.alpha)}
            plan.version += 1
            plan.updated_at = utcnow()
            uow.repo.add(plan)
            await uow.commit()
    return AllocationResult(plan=plan, method=body.method, dry_run=body.dry_run, rows=rows)


def _store_allocated(
    uow: GoalsUnitOfWork,
    plan: Plan,
    target: Target | None,
    member_id: uuid.UUID,
    amount: int,
    derivation: dict[str, Any],
    principal: Principal,
) -> Target:
    if target is None:
        target = Target.model_validate(
            {
                "org_id": plan.org_id,
                "plan_id": plan.id,
                "team_id": plan.team_id,
                "period_id": plan.period_id,
                "member_id": member_id,
                "amount_minor": 0,
                "original_minor": 0,
                "currency": plan.currency,
                "derivation": derivation,
                "version": 0,
            }
        )
        change_target(
            uow=uow, plan=plan, target=target, new_minor=amount, reason="allocation",
            actor=principal.sub,
        )  # fmt: skip
        return target
    target.derivation = derivation
    if target.amount_minor != amount:
        change_target(
            uow=uow, plan=plan, target=target, new_minor=amount, reason="allocation",
            actor=principal.sub,
        )  # fmt: skip
    uow.repo.add(target)
    return target


async def publish_plan(
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    *,
    if_match: str | None,
    uow: GoalsUnitOfWork,
    principal: Principal,
) -> PlanView:
    """Publish a draft plan: every member is told their target."""
    async with uow:
        team, period, plan = await _load_plan(uow, principal, team_id, period_id, write=True)
        check_if_match(if_match, plan.version)
        if plan.status == "published":
            raise Conflict("the plan is already published")
        if plan.method is None:
            raise Conflict("allocate the plan target before publishing it")
        view = await _plan_view(uow, plan)
        targets = [t for t in view.targets if t.member_id in view.active]
        if sum(t.amount_minor for t in view.targets) != plan.target_minor:
            raise Conflict("the individual targets do not add up to the plan target; re-allocate")
        plan.status = "published"
        plan.published_at = utcnow()
        plan.version += 1
        uow.repo.add(plan)
        for t in view.targets:
            t.original_minor = t.amount_minor
            uow.repo.add(t)
        uow.emit(
            PlanPublished(
                org_id=plan.org_id,
                team_id=team.id,
                plan_id=plan.id,
                period_id=period.id,
                target=from_minor(plan.target_minor, plan.currency),
                currency=plan.currency,
                method=plan.method,
                version=plan.version,
                targets=[
                    PlannedTarget(
                        target_id=t.id,
                        member_id=t.member_id,
                        amount=from_minor(t.amount_minor, t.currency),
                    )
                    for t in targets
                ],
            )
        )
        for t in targets:
            uow.emit(
                TargetAssigned(
                    org_id=plan.org_id,
                    team_id=team.id,
                    target_id=t.id,
                    member_id=t.member_id,
                    period_id=period.id,
                    amount=from_minor(t.amount_minor, t.currency),
                    currency=t.currency,
                    version=t.version,
                    period_starts_at=as_utc(period.starts_at),
                    period_ends_at=as_utc(period.ends_at),
                    period_timezone=period.timezone,
                    period_seasonality=_seasonality(period),
                )
            )
        await uow.commit()
    return view


# ------------------------------------------------------------------------------------ targets


async def _load_target(
    uow: GoalsUnitOfWork, principal: Principal, target_id: uuid.UUID, *, write: bool
) -> tuple[Target, Team, Plan]:
    target = await uow.repo.get(Target, org=principal.org, id=target_id, what="target")
    team = await uow.repo.get(Team, org=principal.org, id=target.team_id, what="team")
    plan = await uow.repo.get(Plan, org=principal.org, id=target.plan_id, what="plan")
    if can_manage(principal, team):
        return target, team, plan
    if principal.member_id != target.member_id:
        # Another rep's target does not exist for this caller: ids and amounts do not leak.
        raise NotFound(f"target {target_id} not found")
    if write:
        raise Forbidden("only an admin or the team's manager may change targets")
    return target, team, plan


async def get_target(target_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal) -> Target:
    """Read a target with its derivation."""
    async with uow:
        target, _, _ = await _load_target(uow, principal, target_id, write=False)
        return target


async def target_history(
    target_id: uuid.UUID,
    *,
    uow: GoalsUnitOfWork,
    principal: Principal,
    cursor: str | None,
    limit: int,
) -> tuple[Target, list[TargetChange], str | None]:
    """The ledger of a target, oldest first."""
    async with uow:
        target, _, _ = await _load_target(uow, principal, target_id, write=False)
        stmt = uow.repo.changes(principal.org, target.id)
        rows, nxt = await uow.repo.page(stmt, [TargetChange.version], cursor, limit)
        return target, rows, nxt


async def edit_target(
    target_id: uuid.UUID,
    body: schemas.TargetEdit,
    *,
    if_match: str | None,
    uow: GoalsUnitOfWork,
    principal: Principal,
) -> Target:
    """A manager sets a target by hand; the others balance it unless the team total changes."""
    async with uow:
        target, team, plan = await _load_target(uow, principal, target_id, write=True)
        check_if_match(if_match, target.version)
        active = {m.id for m in await uow.repo.active_members(principal.org, team.id)}
        if target.member_id not in active:
            raise Conflict("the member of this target has left the team")
        new = to_minor(body.amount, team.currency)
        targets = await uow.repo.targets_of(principal.org, plan.id)
        positions = await positions_of(uow=uow, plan=plan, targets=targets, members=active)
        adjustment = plan_adjustment(
            member_id=target.member_id,
            delta_minor=new - target.amount_minor,
            team=positions,
            policy=await policy_for(uow=uow, org=principal.org, team_id=team.id),
            team_total_changes=body.team_total_changes,
        )
        apply_new_targets(
            uow=uow,
            plan=plan,
            targets=targets,
            new_targets=adjustment.new_targets,
            reason="manual",
            actor=principal.sub,
            note=body.reason,
        )
        if body.team_total_changes and adjustment.delta_minor:
            plan.target_minor += adjustment.delta_minor
            plan.version += 1
            uow.repo.add(plan)
        await uow.commit()
    return next(t for t in targets if t.id == target.id)


async def acknowledge_target(
    target_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> Target:
    """The rep owning a published target acknowledges it (again: no change)."""
    async with uow:
        target = await uow.repo.get(Target, org=principal.org, id=target_id, what="target")
        team = await uow.repo.get(Team, org=principal.org, id=target.team_id, what="team")
        if principal.member_id != target.member_id:
            if can_manage(principal, team):
                raise Forbidden("only the member owning a target can acknowledge it")
            raise NotFound(f"target {target_id} not found")
        plan = await uow.repo.get(Plan, org=principal.org, id=target.plan_id, what="plan")
        if plan.status != "published":
            raise Conflict("the plan is not published yet")
        if target.acknowledged_at is None:
            target.acknowledged_at = utcnow()
            uow.repo.add(target)
            uow.emit(
                TargetAcknowledged(
                    org_id=target.org_id,
                    team_id=target.team_id,
                    target_id=target.id,
                    member_id=target.member_id,
                    period_id=target.period_id,
                    version=target.version,
                    acknowledged_at=target.acknowledged_at,
                )
            )
            await uow.commit()
    return target


# -------------------------------------------------------------------------------- rebalancing


def default_policy(team: Team) -> RebalancePolicy:
    """The policy of a team that never set one."""
    return RebalancePolicy.model_validate({"team_id": team.id, "org_id": team.org_id, "version": 0})


async def get_policy(
    team_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> RebalancePolicy:
    """A team's rebalance policy."""
    async with uow:
        team = await load_team(uow, principal, team_id, write=False)
        return await uow.repo.policy_of(principal.org, team.id) or default_policy(team)


async def put_policy(
    team_id: uuid.UUID,
    body: schemas.PolicyWrite,
    *,
    if_match: str | None,
    uow: GoalsUnitOfWork,
    principal: Principal,
) -> RebalancePolicy:
    """Set a team's rebalance policy."""
    async with uow:
        team = await load_team(uow, principal, team_id, write=True)
        row = await uow.repo.policy_of(principal.org, team.id)
        check_if_match(if_match, row.version if row else 0)
        row = row or default_policy(team)
        row.mode = body.mode
        row.max_increase_pct = str(body.max_increase_pct)
        row.cooldown_hours = body.cooldown_hours
        row.freeze_days_before_end = body.freeze_days_before_end
        row.version += 1
        row.updated_at = utcnow()
        uow.repo.add(row)
        await uow.commit()
    return row


async def list_rebalances(
    team_id: uuid.UUID,
    *,
    status: str | None,
    uow: GoalsUnitOfWork,
    principal: Principal,
    cursor: str | None,
    limit: int,
) -> tuple[list[Rebalance], str | None]:
    """Rebalances of a team, oldest first."""
    async with uow:
        team = await load_team(uow, principal, team_id, write=True)
        stmt = uow.repo.rebalances(principal.org, team.id, status)
        return await uow.repo.page(stmt, [Rebalance.created_at, Rebalance.id], cursor, limit)


async def _load_rebalance(
    uow: GoalsUnitOfWork, principal: Principal, rebalance_id: uuid.UUID
) -> Rebalance:
    row = await uow.repo.get(Rebalance, org=principal.org, id=rebalance_id, what="rebalance")
    await load_team(uow, principal, row.team_id, write=True)
    return row


async def get_rebalance(
    rebalance_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> Rebalance:
    """One rebalance."""
    async with uow:
        return await _load_rebalance(uow, principal, rebalance_id)


async def apply_rebalance(
    *, uow: GoalsUnitOfWork, row: Rebalance, plan: Plan, targets: list[Target], applied: str
) -> None:
    """Write a rebalance's new targets and announce it (caller commits)."""
    reason = "rebalance" if applied == "auto" else "proposal_approved"
    new_targets = {uuid.UUID(k): v for k, v in row.new_targets.items()}
    apply_new_targets(
        uow=uow,
        plan=plan,
        targets=targets,
        new_targets=new_targets,
        reason=reason,
        actor=row.decided_by,
        source_event_id=row.source_event_id,
    )
    uow.emit(
        TargetsRebalanced(
            org_id=row.org_id,
            team_id=row.team_id,
            rebalance_id=row.id,
            period_id=row.period_id,
            giver_id=row.giver_id,
            requested=from_minor(row.requested_minor, row.currency),
            moved=from_minor(row.moved_minor, row.currency),
            uncovered=from_minor(row.uncovered_minor, row.currency),
            currency=row.currency,
            transfers=[
                Transfer(
                    from_member_id=t["from"],
                    to_member_id=t["to"],
                    amount=from_minor(t["amount_minor"], row.currency),
                )
                for t in row.transfers
            ],
            source_event_id=row.source_event_id,
            applied=applied,  # type: ignore[arg-type]
        )
    )


async def approve_rebalance(
    rebalance_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> Rebalance:
    """Apply a proposed rebalance, if no target it touches changed since it was proposed."""
    async with uow:
        row = await _load_rebalance(uow, principal, rebalance_id)
        if row.status != "proposed":
            raise Conflict(f"the rebalance is {row.status}, not proposed")
        plan = await uow.repo.get(Plan, org=principal.org, id=row.plan_id, what="plan")  # type: ignore[arg-type]
        targets = await uow.repo.targets_of(principal.org, plan.id)
        current = {str(t.id): t.version for t in targets}
        moved = sorted(k for k, v in row.target_versions.items() if current.get(k) != v)
        if moved:
            raise Conflict(
                "targets changed since the proposal; it can only be rejected",
                changed_targets=moved,
            )
        row.status, row.decided_at, row.decided_by = "approved", utcnow(), principal.sub
        await apply_rebalance(uow=uow, row=row, plan=plan, targets=targets, applied="approved")
        uow.repo.add(row)
        await uow.commit()
    return row


async def reject_rebalance(
    rebalance_id: uuid.UUID, *, uow: GoalsUnitOfWork, principal: Principal
) -> Rebalance:
    """Reject a proposed rebalance: nothing moves."""
    async with uow:
        row = await _load_rebalance(uow, principal, rebalance_id)
        if row.status != "proposed":
            raise Conflict(f"the rebalance is {row.status}, not proposed")
        row.status, row.decided_at, row.decided_by = "rejected", utcnow(), principal.sub
        uow.repo.add(row)
        await uow.commit()
    return row
