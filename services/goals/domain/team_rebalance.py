"""One decision for a whole team: every struggling rep's shortfall placed at once, exactly.

Goals owns the targets, so it recomputes each giver's shortfall (target - projected) and each
receiver's headroom (projected - target) from its current targets and performance's figures.
Several givers share the room in proportion to their shortfalls, and the answer does not depend
on the order in which givers or members arrive.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from services.goals.domain.rebalancing import (
    MemberPosition,
    RebalancePolicy,
    Transfer,
    cap_room_minor,
    lowest_target_minor,
    water_fill,
)
from shared.domain_errors import InvalidInput
from shared.money import id_sort_key


@dataclass(frozen=True)
class GiverOutcome:
    """What became of one giver's shortfall: moved + uncovered == requested."""

    member_id: Hashable
    requested_minor: int
    moved_minor: int
    # Why this giver's shortfall was not offered at all (e.g. `no_conversation`), else None.
    held_back: str | None = None

    @property
    def uncovered_minor(self) -> int:
        """The part that stays with the giver for now."""
        return self.requested_minor - self.moved_minor


@dataclass(frozen=True)
class TeamRebalancePlan:
    """The transfers of one team decision, per giver accounting and the new targets."""

    givers: tuple[GiverOutcome, ...]
    transfers: tuple[Transfer, ...]
    new_targets: dict[Hashable, int]

    @property
    def requested_minor(self) -> int:
        """Total shortfall of the givers."""
        return sum(g.requested_minor for g in self.givers)

    @property
    def moved_minor(self) -> int:
        """Total target moved to receivers."""
        return sum(g.moved_minor for g in self.givers)

    @property
    def uncovered_minor(self) -> int:
        """Total shortfall nobody could take."""
        return self.requested_minor - self.moved_minor


@dataclass(frozen=True)
class DecisionContext:
    """The facts besides the figures that decide whether a team may be rebalanced now."""

    plan_published: bool
    as_of: datetime
    period_ends_at: datetime
    # When target last moved by a rebalance of this team and period (for the cooldown).
    last_moved_at: datetime | None = None
    # Targets a person changed after the figures were taken: they no longer describe them.
    changed_by_person: tuple[str, ...] = ()
    # Givers whose manager talked with them in their current episode (a check-in answered or a
    # 1:1 held); only read when the policy requires a conversation before moving target.
    conversed: frozenset[Hashable] = frozenset()
    # An offer round of this team and period still waits for answers (mode `offer`).
    offer_round_open: bool = False


@dataclass(frozen=True)
class Skipped:
    """Nothing moves, for a reason a manager can act on."""

    reason: str
    plan: TeamRebalancePlan


@dataclass(frozen=True)
class Planned:
    """Target moves: at once (`applied`) or once the manager approves (`proposed`)."""

    status: str
    plan: TeamRebalancePlan


@dataclass(frozen=True)
class Offered:
    """Mode `offer`: nothing moves until the receivers say how much of their offer they take."""

    # The most each eligible receiver could take; the plan is what would move if all took it.
    offers: dict[Hashable, int]
    plan: TeamRebalancePlan


def _requested(position: MemberPosition) -> int:
    return max(position.target_minor - position.projected_minor, 0)


def _offer(position: MemberPosition, policy: RebalancePolicy) -> int:
    # A giver keeps at least what they already sold, and at least the policy's share of their
    # original target.
    floor = max(position.floor_minor, lowest_target_minor(position.original_target_minor, policy))
    return max(min(_requested(position), position.target_minor - floor), 0)


def _match(
    gives: dict[Hashable, int], takes: dict[Hashable, int], key: Callable[[Hashable], Any]
) -> list[Transfer]:
    """Pair givers with receivers in id order (each side's total is the same)."""
    givers = sorted((k for k, v in gives.items() if v > 0), key=key)
    takers = sorted((k for k, v in takes.items() if v > 0), key=key)
    left_give = {k: gives[k] for k in givers}
    left_take = {k: takes[k] for k in takers}
    transfers, i, j = [], 0, 0
    while i < len(givers) and j < len(takers):
        g, t = givers[i], takers[j]
        amount = min(left_give[g], left_take[t])
        transfers.append(Transfer(g, t, amount))
        left_give[g] -= amount
        left_take[t] -= amount
        i += left_give[g] == 0
        j += left_take[t] == 0
    return transfers


def plan_team_rebalance(
    *,
    givers: Collection[Hashable],
    team: Sequence[MemberPosition],
    policy: RebalancePolicy | None = None,
    accepted: Mapping[Hashable, int] | None = None,
) -> TeamRebalancePlan:
    """Place every giver's shortfall on on-track reps by headroom, within caps and floors.

    With `accepted` (an offer round's answers), only those reps receive, each at most what
    they accepted.
    """
    policy = policy or RebalancePolicy()
    index = {p.member_id: p for p in team}
    if len(index) != len(team):
        raise InvalidInput("a member appears more than once in the team")
    missing = [g for g in givers if g not in index]
    if missing:
        raise InvalidInput(f"giver {missing[0]} is not in the team", member_id=str(missing[0]))
    key = id_sort_key(list(index))
    giver_ids = sorted(set(givers), key=key)
    giving = {g: index[g] for g in giver_ids}
    receivers = _receivers(team, giving, key)
    offers = {g: _offer(p, policy) for g, p in giving.items()}
    rooms = {p.member_id: cap_room_minor(p, policy) for p in receivers}
    if accepted is not None:
        rooms = {k: min(room, max(accepted.get(k, 0), 0)) for k, room in rooms.items()}
    taken = water_fill(
        sum(offers.values()), {p.member_id: p.headroom_minor for p in receivers}, rooms
    )
    # The room actually placed is shared by the givers in proportion to their shortfalls, each
    # within what they can give: equally short reps move the same amount (to the unit).
    given = water_fill(sum(taken.values()), {g: _requested(p) for g, p in giving.items()}, offers)
    transfers = tuple(_match(given, taken, key))
    deltas: dict[Hashable, int] = {}
    for t in transfers:
        deltas[t.from_member] = deltas.get(t.from_member, 0) - t.amount_minor
        deltas[t.to_member] = deltas.get(t.to_member, 0) + t.amount_minor
    return TeamRebalancePlan(
        givers=tuple(GiverOutcome(g, _requested(giving[g]), given.get(g, 0)) for g in giver_ids),
        transfers=transfers,
        new_targets={k: index[k].target_minor + d for k, d in deltas.items() if d},
    )


NO_CONVERSATION = "no_conversation"


def _receivers(
    team: Sequence[MemberPosition], givers: Collection[Hashable], key: Callable[[Hashable], Any]
) -> list[MemberPosition]:
    """On-track reps whose projection runs ahead of their target, in id order."""
    return sorted(
        (
            p
            for p in team
            if p.member_id not in givers and p.status == "on_track" and p.headroom_minor > 0
        ),
        key=lambda p: key(p.member_id),
    )


def uplift_offers(
    *, givers: Collection[Hashable], team: Sequence[MemberPosition], policy: RebalancePolicy
) -> dict[Hashable, int]:
    """The most each eligible receiver could take: its cap room, within what the givers can give."""
    index = {p.member_id: p for p in team}
    givable = sum(_offer(index[g], policy) for g in set(givers) if g in index)
    offers = {
        p.member_id: min(cap_room_minor(p, policy), givable)
        for p in _receivers(team, set(givers), id_sort_key(list(index)))
    }
    return {k: v for k, v in offers.items() if v > 0}


def decide_rebalance(
    *,
    givers: Collection[Hashable],
    team: Sequence[MemberPosition],
    policy: RebalancePolicy,
    context: DecisionContext,
) -> Skipped | Planned | Offered:
    """The team's answer to an evaluation: skip with a reason, the plan, or an offer round."""
    present = [g for g in givers if any(p.member_id == g for p in team)]
    held = held_back(present, policy=policy, conversed=context.conversed)
    movable = [g for g in present if g not in held]
    plan = with_held_back(plan_team_rebalance(givers=movable, team=team, policy=policy), team, held)
    reason = _skip_reason(policy, context)
    if reason is None and not present:
        reason = "giver_not_in_snapshot"
    if reason is None and not movable:
        reason = NO_CONVERSATION
    if reason is None and not plan.transfers:
        reason = "nothing_placeable"
    if reason is not None:
        return Skipped(reason, _nothing_moved(plan))
    if policy.mode == "offer":
        return Offered(
            uplift_offers(givers=movable, team=team, policy=policy), _nothing_moved(plan)
        )
    return Planned("applied" if policy.mode == "auto" else "proposed", plan)


def held_back(
    givers: Collection[Hashable], *, policy: RebalancePolicy, conversed: Collection[Hashable]
) -> dict[Hashable, str]:
    """The givers whose target may not move yet, and why (no conversation in their episode)."""
    if not policy.require_checkin_before_rebalance:
        return {}
    return {g: NO_CONVERSATION for g in givers if g not in conversed}


def with_held_back(
    plan: TeamRebalancePlan, team: Sequence[MemberPosition], held: Mapping[Hashable, str]
) -> TeamRebalancePlan:
    """The plan with the held-back givers listed too: all their shortfall stays uncovered."""
    if not held:
        return plan
    index = {p.member_id: p for p in team}
    extra = [GiverOutcome(g, _requested(index[g]), 0, held_back=why) for g, why in held.items()]
    key = id_sort_key(list(index))
    givers = sorted([*plan.givers, *extra], key=lambda g: key(g.member_id))
    return replace(plan, givers=tuple(givers))


def _skip_reason(policy: RebalancePolicy, context: DecisionContext) -> str | None:
    if not context.plan_published:
        return "no_published_plan"
    if policy.mode == "off":
        return "policy_off"
    if context.offer_round_open:
        return "offer_round_open"
    if context.changed_by_person:
        return "stale_figures: " + ", ".join(sorted(context.changed_by_person))
    if context.as_of >= context.period_ends_at - timedelta(days=policy.freeze_days_before_end):
        return "freeze_window"
    if context.last_moved_at is not None and context.as_of < context.last_moved_at + timedelta(
        hours=policy.cooldown_hours
    ):
        return "cooldown"
    return None


def _nothing_moved(plan: TeamRebalancePlan) -> TeamRebalancePlan:
    return TeamRebalancePlan(
        givers=tuple(replace(g, moved_minor=0) for g in plan.givers),
        transfers=(),
        new_targets={},
    )
