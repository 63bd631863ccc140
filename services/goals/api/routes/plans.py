"""Team plans: target, strategy, measures, allocation and publication."""

from __future__ import annotations

import uuid
from decimal import Decimal

from fastapi import APIRouter, Response

from services.goals.api import schemas
from services.goals.api.deps import UowDep
from services.goals.domain.hierarchy import over_assignment_warnings
from services.goals.handlers import plans
from shared.auth import CurrentPrincipal, ManagerPrincipal
from shared.http import IfMatch, etag_of
from shared.money import from_minor
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/teams/{team_id}/plans/{period_id}", tags=["plans"])
ALL = problem_responses(401, 403, 404, 409, 412, 422)


def _read(view: plans.PlanView) -> schemas.PlanRead:
    return schemas.PlanRead.of(view.plan, view.targets, view.active)


@router.put("", response_model=schemas.PlanRead, responses=ALL)
async def put_plan(
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    body: schemas.PlanWrite,
    principal: ManagerPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> schemas.PlanRead:
    """Create or update the team's plan for a period (201 when created)."""
    cmd = plans.PutPlan(
        team_id=team_id,
        period_id=period_id,
        target=body.target,
        strategy=body.strategy.model_dump(),
        measures=body.measures,
        over_assignment_pct=body.over_assignment_pct,
        if_match=if_match,
    )
    view, created = await plans.put_plan(cmd, uow=uow, principal=principal)
    response.status_code = 201 if created else 200
    response.headers["ETag"] = etag_of(view.plan.version)
    return _read(view)


@router.get("", response_model=schemas.PlanRead, responses=problem_responses(401, 403, 404))
async def get_plan(
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    principal: CurrentPrincipal,
    uow: UowDep,
    response: Response,
) -> schemas.PlanRead:
    """Read a plan: every individual target with its derivation, and who acknowledged."""
    view = await plans.get_plan(team_id, period_id, uow=uow, principal=principal)
    response.headers["ETag"] = etag_of(view.plan.version)
    return _read(view)


@router.post("/allocation", response_model=schemas.AllocationRead, responses=ALL)
async def allocate_plan(
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    body: schemas.AllocationRequest,
    principal: ManagerPrincipal,
    uow: UowDep,
    response: Response,
) -> schemas.AllocationRead:
    """Break the team target down by a method (dry_run previews without storing)."""
    params = body.params or schemas.AllocationParamsIn()
    cmd = plans.AllocatePlan(
        team_id=team_id,
        period_id=period_id,
        method=body.method,
        periods=params.periods,
        alpha=params.alpha,
        overrides=body.overrides or {},
        dry_run=body.dry_run,
    )
    result = await plans.allocate_plan(cmd, uow=uow, principal=principal)
    if not result.dry_run:
        response.headers["ETag"] = etag_of(result.plan.version)
    return schemas.AllocationRead(
        plan_id=result.plan.id,
        method=result.method,
        dry_run=result.dry_run,
        target=from_minor(result.plan.target_minor, result.plan.currency),
        currency=result.plan.currency,
        targets=[
            schemas.AllocatedTarget(
                member_id=r.member_id,
                target_id=r.target_id,
                amount=r.amount,
                derivation=r.derivation,
            )
            for r in result.rows
        ],
        teams=[
            schemas.AllocatedTeam(team_id=t, plan_id=p, amount=a, derivation=d)
            for t, p, a, d in result.teams
        ],
        over_assigned=result.over_assigned,
        warnings=over_assignment_warnings(Decimal(result.plan.over_assignment_pct))
        if result.teams
        else [],
    )


@router.post("/publish", response_model=schemas.PlanRead, responses=ALL)
async def publish_plan(
    team_id: uuid.UUID,
    period_id: uuid.UUID,
    principal: ManagerPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> schemas.PlanRead:
    """Publish the plan: every member is sent their target (409 before an allocation)."""
    cmd = plans.PublishPlan(team_id=team_id, period_id=period_id, if_match=if_match)
    view = await plans.publish_plan(cmd, uow=uow, principal=principal)
    response.headers["ETag"] = etag_of(view.plan.version)
    return _read(view)
