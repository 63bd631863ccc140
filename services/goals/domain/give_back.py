"""Give-back: a recovered giver takes back what their episode moved away, newest transfer first.

Only as much as the giver's own headroom (projected - target) carries, so the give-back never
pushes them behind again; no receiver goes below what they have sold; the team total is kept by
construction (every move is a transfer).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from services.goals.domain.rebalancing import MemberPosition, Transfer
from shared.money import id_sort_key


@dataclass(frozen=True)
class Given:
    """One transfer the episode made away from the giver; a higher order is newer."""

    to_member: Hashable
    amount_minor: int
    order: int


@dataclass(frozen=True)
class GiveBackPlan:
    """What returns to the giver, from whom, and the targets that change."""

    transfers: tuple[Transfer, ...]
    # Everything the episode moved away, and what of it returns now.
    given_minor: int
    returned_minor: int
    new_targets: dict[Hashable, int]


def plan_give_back(
    *, giver: MemberPosition, given: Sequence[Given], team: Sequence[MemberPosition]
) -> GiveBackPlan:
    """Reverse the episode's transfers newest first, within the giver's headroom and floors."""
    index = {p.member_id: p for p in team}
    key = id_sort_key(list(index) + [g.to_member for g in given])
    total_given = sum(g.amount_minor for g in given)
    left = min(max(giver.projected_minor - giver.target_minor, 0), total_given)
    room = {k: max(p.target_minor - p.floor_minor, 0) for k, p in index.items()}
    back: dict[Hashable, int] = {}
    for g in sorted(given, key=lambda g: (-g.order, key(g.to_member))):
        if left == 0:
            break
        if g.to_member not in index or g.to_member == giver.member_id:
            continue  # the receiver left the team: what they took went on with their target
        amount = min(g.amount_minor, left, room[g.to_member])
        if amount > 0:
            back[g.to_member] = back.get(g.to_member, 0) + amount
            room[g.to_member] -= amount
            left -= amount
    transfers = tuple(
        Transfer(k, giver.member_id, amount)
        for k, amount in sorted(back.items(), key=lambda kv: key(kv[0]))
    )
    returned = sum(back.values())
    new_targets = {k: index[k].target_minor - amount for k, amount in back.items()}
    if returned:
        new_targets[giver.member_id] = giver.target_minor + returned
    return GiveBackPlan(transfers, total_given, returned, new_targets)
