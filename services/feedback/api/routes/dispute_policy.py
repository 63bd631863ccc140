"""Dispute deadline routes: a team's policy for statements and decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.feedback.api.deps import UowDep
from services.feedback.handlers import dispute_deadlines as handlers
from shared.auth import CurrentPrincipal
from shared.problems import problem_responses

router = APIRouter(tags=["disputes"])


class DisputePolicyWrite(BaseModel):
    """Deadlines in hours from a dispute's opening (null: no deadline of that kind)."""

    statement_due_hours: float | None = Field(None, gt=0, le=handlers.MAX_HOURS, examples=[48])
    decision_due_hours: float | None = Field(None, gt=0, le=handlers.MAX_HOURS, examples=[120])


class DisputePolicyFacts(Protocol):
    """A team's dispute policy as stored: what DisputePolicyRead reads of it."""

    team_id: UUID
    statement_due_hours: float | None
    decision_due_hours: float | None
    updated_at: datetime


class DisputePolicyRead(DisputePolicyWrite):
    """A team's dispute deadlines; they apply to disputes opened after they were set."""

    team_id: UUID
    updated_at: datetime | None

    @classmethod
    def from_row(cls, team_id: UUID, row: DisputePolicyFacts | None) -> DisputePolicyRead:
        """Map a policy row (no row: no deadlines)."""
        if row is None:
            return cls(team_id=team_id, updated_at=None)
        return cls(
            team_id=row.team_id,
            statement_due_hours=row.statement_due_hours,
            decision_due_hours=row.decision_due_hours,
            updated_at=row.updated_at,
        )


@router.put(
    "/v1/teams/{team_id}/dispute-policy",
    response_model=DisputePolicyRead,
    responses=problem_responses(403, 404, 422),
)
async def put_dispute_policy(
    team_id: UUID, body: DisputePolicyWrite, principal: CurrentPrincipal, uow: UowDep
) -> DisputePolicyRead:
    """Set when statements and decisions are due; late ones get reminders and dispute_overdue."""
    cmd = handlers.SetDisputePolicy(
        team_id=team_id,
        statement_due_hours=body.statement_due_hours,
        decision_due_hours=body.decision_due_hours,
    )
    row = await handlers.set_dispute_policy(cmd, uow=uow, principal=principal)
    return DisputePolicyRead.from_row(team_id, row)


@router.get(
    "/v1/teams/{team_id}/dispute-policy",
    response_model=DisputePolicyRead,
    responses=problem_responses(404),
)
async def get_dispute_policy(
    team_id: UUID, principal: CurrentPrincipal, uow: UowDep
) -> DisputePolicyRead:
    """Show a team's dispute deadlines (anyone on the team)."""
    row = await handlers.get_dispute_policy(team_id, uow=uow, principal=principal)
    return DisputePolicyRead.from_row(team_id, row)
