"""Pure rebalancing maths: move target between reps without ever changing the team total.

Moves share one engine: a team's shortfalls handed to on-track reps in proportion to their
headroom and within the policy cap (team_rebalance.plan_team_rebalance), a leaver's open target
handed on the same way but with conservation winning over caps (plan_departure), and a dispute
outcome (plan_adjustment).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

from services.goals.domain.allocation import check_minor, to_fraction
from shared.domain_errors import Conflict, InvalidInput
from shared.money import id_sort_key, split_exact

K = TypeVar("K", bound=Hashable)

# `no_target`: a zero target and nothing sold (never a receiver, never a giver).
STATUSES = frozenset({"on_track", "at_risk", "struggling", "no_target"})


@dataclass(frozen=True)
class MemberPosition:
    """One rep's standing in the period, as the shortfall snapshot carries it."""

    member_id: Hashable
    target_minor: int
    original_target_minor: int
    achieved_minor: int
    projected_minor: int
    status: str

    def __post_init__(self) -> None:
        check_minor("target_minor", self.target_minor)
        check_minor("original_target_minor", self.original_target_minor)
        # Refunds can leave achieved (and so projected) below zero.
        check_minor("achieved_minor", self.achieved_minor, allow_negative=True)
        check_minor("projected_minor", self.projected_minor, allow_negative=True)
        if self.status not in STATUSES:
            raise InvalidInput(
                f"status of {self.member_id} must be one of {', '.join(sorted(STATUSES))}",
                status=str(self.status),
            )

    @property
    def floor_minor(self) -> int:
        """Lowest target this rep may be moved down to: what they sold, and never below zero."""
        return max(self.achieved_minor, 0)

    @property
    def headroom_minor(self) -> int:
        """How far the projection runs ahead of the target (may be negative)."""
        return self.projected_minor - self.target_minor


MODES = frozenset({"auto", "propose", "off"})
# `offer`: on-track reps are asked how much of the shortfall they volunteer to take.
REBALANCE_MODES = MODES | {"offer"}


@dataclass(frozen=True)
class RebalancePolicy:
    """How a team answers shortfalls; the defaults of a team that never set a policy."""

    # `propose` by default, so a manager stays in control until they choose `auto`.
    mode: str = "propose"
    # 25 means a rep may be raised to at most 125 % of their original target.
    max_increase_pct: Decimal = Decimal(25)
    cooldown_hours: int = 24
    freeze_days_before_end: int = 7
    # 50 means at most half of a giver's original target moves away in a period, across all
    # rebalances: nobody is zeroed by the maths.
    max_decrease_pct: Decimal = Decimal(50)
    # What happens when a giver recovers: hand back what their episode moved away.
    give_back: str = "propose"
    # Move a struggling rep's target only once their manager talked with them in the episode
    # (a check-in answered or a 1:1 held) and they are still short.
    require_checkin_before_rebalance: bool = False
    # Mode `offer`: how long the receivers have to answer their offers.
    offer_hours: int = 48

    def __post_init__(self) -> None:
        if to_fraction(self.max_increase_pct, "max_increase_pct") < 0:
            raise InvalidInput("max_increase_pct must not be negative", field="max_increase_pct")
        if not 0 <= to_fraction(self.max_decrease_pct, "max_decrease_pct") <= 100:
            raise InvalidInput("max_decrease_pct must be within 0..100", field="max_decrease_pct")
        if self.mode not in REBALANCE_MODES:
            raise InvalidInput(
                f"mode must be one of {', '.join(sorted(REBALANCE_MODES))}", field="mode"
            )
        if self.offer_hours < 0:
            raise InvalidInput("offer_hours must not be negative", field="offer_hours")
        if self.give_back not in MODES:
            raise InvalidInput(
                f"give_back must be one of {', '.join(sorted(MODES))}", field="give_back"
            )


@dataclass(frozen=True)
class Transfer:
    """amount_minor of target moved from one rep to another."""

    from_member: Hashable
    to_member: Hashable
    amount_minor: int


@dataclass(frozen=True)
class RebalancePlan:
    """The transfers of one rebalance or departure and what they leave uncovered."""

    transfers: tuple[Transfer, ...]
    requested_minor: int
    moved_minor: int
    # Stays with the giver: no room left under the caps or the giver's floor.
    uncovered_minor: int
    # Only the members whose target changes.
    new_targets: dict[Hashable, int] = field(default_factory=dict)
    # Departure only: the part placed over everyone ignoring the caps, to keep the team total.
    uncapped_minor: int = 0


@dataclass(frozen=True)
class AdjustmentPlan:
    """A dispute outcome: one rep's target changes and, maybe, the others balance it."""

    member_id: Hashable
    delta_minor: int
    team_total_changes: bool
    transfers: tuple[Transfer, ...]
    new_targets: dict[Hashable, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def cap_minor(original_target_minor: int, policy: RebalancePolicy) -> int:
    """Highest target the policy allows for a rep, rounded down to whole minor units."""
    # original x (1 + num / (den x 100)) in integers, floored: exact and cheap per member.
    num, den = to_fraction(policy.max_increase_pct, "max_increase_pct").as_integer_ratio()
    return original_target_minor * (100 * den + num) // (100 * den)


def lowest_target_minor(original_target_minor: int, policy: RebalancePolicy) -> int:
    """Lowest target rebalancing may bring a giver to: original less max_decrease_pct, rounded up."""
    num, den = to_fraction(policy.max_decrease_pct, "max_decrease_pct").as_integer_ratio()
    return original_target_minor - original_target_minor * num // (100 * den)


def cap_room_minor(position: MemberPosition, policy: RebalancePolicy) -> int:
    """How much target a rep can still take before reaching the cap (never negative)."""
    return max(cap_minor(position.original_target_minor, policy) - position.target_minor, 0)


def _index(team: Sequence[MemberPosition]) -> dict[Hashable, MemberPosition]:
    index = {p.member_id: p for p in team}
    if len(index) != len(team):
        raise InvalidInput("a member appears more than once in the team")
    return index


def _member(index: Mapping[Hashable, MemberPosition], member_id: Hashable) -> MemberPosition:
    try:
        return index[member_id]
    except KeyError:
        raise InvalidInput(
            f"member {member_id} is not in the team", member_id=str(member_id)
        ) from None


def _sort_by_fill_level(live: list[tuple[K, int, int]]) -> None:
    """Sort (id, weight, room) rows by room / weight exactly, at float speed where possible."""
    try:
        # int / int is correctly rounded, hence monotone: floats never invert two ratios, they
        # can only make distinct ratios look equal, so only runs of equal floats need a recheck.
        levels = [room / weight for _, weight, room in live]
    except OverflowError:
        live.sort(key=lambda row: Fraction(row[2], row[1]))
        return
    order = sorted(range(len(live)), key=levels.__getitem__)
    rows = [live[i] for i in order]
    start = 0
    for end in range(1, len(rows) + 1):
        if end < len(rows) and levels[order[end]] == levels[order[start]]:
            continue
        run = rows[start:end]
        _, w0, r0 = run[0]
        if any(room * w0 != r0 * weight for _, weight, room in run[1:]):
            rows[start:end] = sorted(run, key=lambda row: Fraction(row[2], row[1]))
        start = end
    live[:] = rows


def water_fill(amount_minor: int, weights: Mapping[K, int], rooms: Mapping[K, int]) -> dict[K, int]:
    """Place up to amount in proportion to weights without exceeding anyone's room."""
    if amount_minor <= 0:
        return {}
    # Only members with both a positive weight and some room can take anything.
    live = [(k, w, rooms[k]) for k, w in weights.items() if w > 0 and rooms[k] > 0]
    if amount_minor >= sum(room for _, _, room in live):
        return {k: room for k, _, room in live}
    # Exact progressive filling, equal to the fixed point of "split, clamp at the cap, re-spread
    # the excess" but in one sort instead of up to n rounds: a member saturates once the common
    # level (amount left / weight left) reaches room / weight, so walk them in that order.
    _sort_by_fill_level(live)
    placed: dict[K, int] = {}
    amount_left = amount_minor
    weight_left = sum(w for _, w, _ in live)
    i = 0
    while i < len(live):
        k, w, room = live[i]
        if amount_left * w < room * weight_left:
            break
        placed[k] = room
        amount_left -= room
        weight_left -= w
        i += 1
    # The rest are below their room at the exact level; rounding up an exact share that is at
    # most an integer room cannot cross it, so one largest-remainder split finishes the job.
    rest = split_exact(amount_left, {k: w for k, w, _ in live[i:]})
    placed.update(rest)
    return placed


def _transfers(
    giver: Hashable, amounts: Mapping[Hashable, int], *, inbound: bool
) -> list[Transfer]:
    """Transfers between one member and many, skipping zero amounts."""
    rows = []
    for other, amount in amounts.items():
        if amount > 0:
            rows.append(
                Transfer(other, giver, amount) if inbound else Transfer(giver, other, amount)
            )
    return rows


def _new_targets(
    index: Mapping[Hashable, MemberPosition], transfers: Sequence[Transfer]
) -> dict[Hashable, int]:
    """Targets after the transfers, for the members they touch."""
    changed: dict[Hashable, int] = {}
    for t in transfers:
        changed[t.from_member] = changed.get(t.from_member, 0) - t.amount_minor
        changed[t.to_member] = changed.get(t.to_member, 0) + t.amount_minor
    return {k: index[k].target_minor + d for k, d in changed.items() if d != 0}


def _canonical(transfers: list[Transfer]) -> tuple[Transfer, ...]:
    # Sorting by the ids' text makes the plan independent of the order the team arrived in.
    key = id_sort_key([t.from_member for t in transfers] + [t.to_member for t in transfers])
    return tuple(sorted(transfers, key=lambda t: (key(t.from_member), key(t.to_member))))


def _headroom_receivers(team: Sequence[MemberPosition], exclude: Hashable) -> list[MemberPosition]:
    return [
        p
        for p in team
        if p.member_id != exclude and p.status == "on_track" and p.headroom_minor > 0
    ]


# --------------------------------------------------------------------------- plans


def plan_departure(
    *,
    leaver_id: Hashable,
    open_target_minor: int | None = None,
    team: Sequence[MemberPosition],
    policy: RebalancePolicy | None = None,
) -> RebalancePlan:
    """Hand a leaver's open target to the rest of the team, keeping the team total exact."""
    policy = policy or RebalancePolicy()
    index = _index(team)
    leaver = _member(index, leaver_id)
    # Open target = target - achieved: the leaver ends on exactly what they sold. An
    # over-achieving leaver hands on nothing and keeps their target (lowering it below achieved
    # is fine, raising it to achieved would take target from the others).
    open_minor = max(leaver.target_minor - leaver.floor_minor, 0)
    if open_target_minor is not None:
        check_minor("open_target_minor", open_target_minor)
        if open_target_minor != open_minor:
            raise InvalidInput(
                f"open target of {leaver_id} is {open_minor} (target - achieved), "
                f"not {open_target_minor}",
                open_target_minor=open_minor,
            )
    rest = [p for p in team if p.member_id != leaver_id]
    if open_minor and not rest:
        raise Conflict("the last member of a team cannot hand their target to anyone")

    receivers = _headroom_receivers(team, leaver_id)
    if receivers:
        weights = {p.member_id: p.headroom_minor for p in receivers}
    else:
        # Nobody can take it by headroom: everyone remaining, equally, still within caps.
        weights = {p.member_id: 1 for p in rest}
    placed = water_fill(open_minor, weights, {p.member_id: cap_room_minor(p, policy) for p in rest})
    uncapped = open_minor - sum(placed.values())
    if uncapped:
        # Conservation wins over caps on departure: the excess goes to everyone remaining.
        extra = split_exact(uncapped, {p.member_id: 1 for p in rest})
        for k, amount in extra.items():
            placed[k] = placed.get(k, 0) + amount
    transfers = _canonical(_transfers(leaver_id, placed, inbound=False))
    return RebalancePlan(
        transfers=transfers,
        requested_minor=open_minor,
        moved_minor=open_minor,
        uncovered_minor=0,
        new_targets=_new_targets(index, transfers),
        uncapped_minor=uncapped,
    )


def plan_adjustment(
    *,
    member_id: Hashable,
    delta_minor: int,
    team: Sequence[MemberPosition],
    policy: RebalancePolicy | None = None,
    team_total_changes: bool,
) -> AdjustmentPlan:
    """Apply a dispute outcome to one rep's target, balancing the others unless the total moves."""
    # A decided dispute is a manager's explicit call, so the rebalance caps do not bind it: the
    # policy is accepted for a uniform call shape only, and the floors (what was sold) still hold.
    check_minor("delta_minor", delta_minor, allow_negative=True)
    index = _index(team)
    member = _member(index, member_id)
    new_target = member.target_minor + delta_minor
    if new_target < 0:
        raise InvalidInput(
            f"target of {member_id} would become negative ({new_target})", member_id=str(member_id)
        )
    if delta_minor == 0:
        return AdjustmentPlan(member_id, 0, team_total_changes, (), {})
    if team_total_changes:
        return AdjustmentPlan(member_id, delta_minor, True, (), {member_id: new_target})

    others = [p for p in team if p.member_id != member_id]
    if not others:
        raise Conflict("no other member to balance the adjustment against; change the team total")
    weights = {p.member_id: p.target_minor for p in others}
    if delta_minor < 0:
        # The others take the released target in proportion to what they carry already.
        amounts = split_exact(-delta_minor, weights)
        transfers = _transfers(member_id, amounts, inbound=False)
    else:
        rooms = {p.member_id: max(p.target_minor - p.floor_minor, 0) for p in others}
        total_room = sum(rooms.values())
        if total_room < delta_minor:
            raise Conflict(
                f"the other members can give up at most {total_room} without dropping below "
                f"what they sold; {delta_minor} was asked",
                available_minor=total_room,
                requested_minor=delta_minor,
            )
        # Anyone with room has target above a non-negative floor, so a positive weight: the
        # water-fill places everything.
        amounts = water_fill(delta_minor, weights, rooms)
        transfers = _transfers(member_id, amounts, inbound=True)
    ordered = _canonical(transfers)
    return AdjustmentPlan(
        member_id=member_id,
        delta_minor=delta_minor,
        team_total_changes=False,
        transfers=ordered,
        new_targets=_new_targets(index, ordered),
    )
