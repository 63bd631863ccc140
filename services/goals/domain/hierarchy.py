"""Pure hierarchy rules: no cycles, over-assignment by largest remainder, roll-up figures.

A parent team's target is split over its child teams with the allocation methods; the children
add up to exactly ``round(parent x (1 + over_assignment_pct / 100))`` at every level. Nothing
here does I/O.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, TypeVar

from services.goals.domain.allocation import MemberInput, to_fraction
from services.goals.domain.availability import scaled_minor
from shared.domain_errors import Conflict, InvalidInput
from shared.pace_status import DEFAULT_THRESHOLDS, PaceStatus, Thresholds, classify

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparisonT

#: A team id (opaque here).
K = TypeVar("K", bound=Hashable)

#: Above this over-assignment the plan carries a warning (street quota far above the number).
WARN_ABOVE_PCT = Decimal(5)
#: Deepest hierarchy walked; deeper chains are refused as if they were cycles.
MAX_DEPTH = 32


def check_parent(team_id: K, new_parent: K | None, parent_of: Mapping[K, K | None]) -> None:
    """Refuse a parent that is the team itself or one of its descendants (a cycle)."""
    seen = 0
    node = new_parent
    while node is not None:
        if node == team_id:
            raise Conflict("a team cannot be placed under itself or one of its own sub-teams")
        seen += 1
        if seen > MAX_DEPTH:
            raise Conflict(f"hierarchies are at most {MAX_DEPTH} levels deep")
        node = parent_of.get(node)


def check_over_assignment(pct: Decimal) -> Fraction:
    """Over-assignment percentage as an exact fraction: 0..100."""
    exact = to_fraction(pct, "over_assignment_pct")
    if not 0 <= exact <= 100:
        raise InvalidInput("over_assignment_pct must be within 0..100", field="over_assignment_pct")
    return exact


def over_assigned_minor(total_minor: int, pct: Decimal) -> int:
    """round(total x (1 + pct / 100)), rounded like every part (largest remainder, half up)."""
    return scaled_minor(total_minor, 1 + check_over_assignment(pct) / 100)


def over_assignment_warnings(pct: Decimal) -> list[str]:
    """The warnings a plan with this over-assignment carries."""
    if Decimal(pct) > WARN_ABOVE_PCT:
        return [
            f"over_assignment_pct {pct} is above {WARN_ABOVE_PCT}: child targets add up to "
            "noticeably more than this team's target"
        ]
    return []


@dataclass(frozen=True)
class ChildTeam:
    """A child team as the parent's allocation sees it."""

    team_id: Hashable
    # Sum of the members' FTE x ramp.
    capacity: Fraction
    # Sums of the members' results per closed period, most recent first.
    history: tuple[int, ...] = ()


def child_inputs(children: Sequence[ChildTeam]) -> list[MemberInput]:
    """Child teams as allocation inputs: capacities scaled into 0..1 keep their ratios."""
    biggest = max((c.capacity for c in children), default=Fraction(0))
    return [
        MemberInput(
            member_id=c.team_id,
            capacity=c.capacity / biggest if biggest else Fraction(0),
            ramp=Fraction(1),
            history=c.history,
        )
        for c in children
    ]


def history_by_period(
    results: Sequence[tuple[SupportsRichComparisonT, int]],
) -> tuple[int, ...]:
    """Sum (period key, achieved) pairs per period, most recent key first."""
    totals: dict[SupportsRichComparisonT, int] = {}
    for key, achieved in results:
        totals[key] = totals.get(key, 0) + achieved
    return tuple(totals[k] for k in sorted(totals, reverse=True))


@dataclass
class RollupNode:
    """One team's figures in a period and the nodes below it."""

    team_id: Hashable
    name: str
    target_minor: int | None
    assigned_minor: int
    achieved_minor: int
    projected_minor: int
    # Its reps' expected-to-date by the shared day model (their schedules' running sums).
    expected_minor: int = 0
    # The team's own pace thresholds, and how much of the period has passed (plain calendar).
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    elapsed_share: Fraction = Fraction(0)
    children: list[RollupNode] = field(default_factory=list)

    @property
    def uncovered_minor(self) -> int:
        """How far the projection falls short of the target (0 when on or above it)."""
        return max((self.target_minor or 0) - self.projected_minor, 0)

    def status(self) -> str | None:
        """Pace's status of projected / target by the team's thresholds (None without a target).

        No earlier status to recover from, so no hysteresis; before min_elapsed_share has
        passed the node is on track, as pace's too-early grace would have it.
        """
        if self.target_minor is None:
            return None
        if self.target_minor == 0:
            # As for a rep (performance's pace): a zero target met by nothing is no target.
            status = PaceStatus.ON_TRACK if self.achieved_minor > 0 else PaceStatus.NO_TARGET
            return status.value
        ratio = Fraction(self.projected_minor, self.target_minor)
        return classify(ratio=ratio, share=self.elapsed_share, thresholds=self.thresholds).value


def roll_up(node: RollupNode) -> RollupNode:
    """Add each node's children's achieved, projected and expected to its own, bottom up."""
    for child in node.children:
        roll_up(child)
        node.achieved_minor += child.achieved_minor
        node.projected_minor += child.projected_minor
        node.expected_minor += child.expected_minor
    return node
