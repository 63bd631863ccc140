"""Team hierarchies: the roll-up of a tree of teams in a period."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.goals.api.deps import UowDep
from services.goals.api.schemas import TEAM, Money
from services.goals.domain.hierarchy import RollupNode
from services.goals.handlers import hierarchy as handlers
from shared.auth import ManagerPrincipal
from shared.money import from_minor
from shared.problems import problem_responses

router = APIRouter(prefix="/v1", tags=["hierarchy"])


class RollupRead(BaseModel):
    """One team of the tree: its target, what is assigned below it, and how it is doing."""

    team_id: uuid.UUID = Field(examples=[TEAM])
    name: str
    target: Money | None = Field(None, description="The team's plan target (null: no plan)")
    assigned: Money = Field(description="Child teams' targets, or the reps' targets of a leaf")
    achieved: Money
    projected: Money
    expected_to_date: Money = Field(
        description="What the reps below were expected to have sold by now: the running sum "
        "of their targets' schedules, as pace computes it"
    )
    status: str | None = Field(
        None,
        examples=["on_track"],
        description="projected / target by this team's own pace thresholds (null: no plan)",
    )
    uncovered_shortfall: Money = Field(description="max(target - projected, 0)")
    children: list[RollupRead] = Field(default_factory=list)

    @classmethod
    def of(cls, node: RollupNode, currency: str) -> RollupRead:
        """Wire form of a roll-up node and everything below it."""
        return cls(
            team_id=node.team_id,
            name=node.name,
            target=None if node.target_minor is None else from_minor(node.target_minor, currency),
            assigned=from_minor(node.assigned_minor, currency),
            achieved=from_minor(node.achieved_minor, currency),
            projected=from_minor(node.projected_minor, currency),
            expected_to_date=from_minor(node.expected_minor, currency),
            status=node.status(),
            uncovered_shortfall=from_minor(node.uncovered_minor, currency),
            children=[cls.of(c, currency) for c in node.children],
        )


@router.get(
    "/teams/{team_id}/periods/{period_id}/rollup",
    response_model=RollupRead,
    responses=problem_responses(401, 403, 404),
)
async def get_rollup(
    team_id: uuid.UUID, period_id: uuid.UUID, principal: ManagerPrincipal, uow: UowDep
) -> RollupRead:
    """The tree below a team: target, assigned, achieved, projected, expected, status, shortfall."""
    node, currency = await handlers.rollup(team_id, period_id, uow=uow, principal=principal)
    return RollupRead.of(node, currency)
