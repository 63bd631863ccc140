"""Sale credit: splits between reps by percentage, exact to the minor unit, and moving credit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from uuid import UUID

from shared.domain_errors import InvalidInput
from shared.money import split_exact

HUNDRED = Decimal(100)


def validate_split(credits: Sequence[tuple[UUID, Decimal]]) -> dict[UUID, Decimal]:
    """Return the split as a mapping; refuse repeats, non-positive shares or a total not 100."""
    if not credits:
        raise InvalidInput("a sale needs at least one credited member", field="credits")
    split: dict[UUID, Decimal] = {}
    for member_id, percent in credits:
        if member_id in split:
            raise InvalidInput(f"member {member_id} is credited twice", field="credits")
        if not percent.is_finite() or percent <= 0:
            raise InvalidInput("each credit percent must be positive", field="credits")
        split[member_id] = percent
    total = sum(split.values(), Decimal(0))
    if total != HUNDRED:
        raise InvalidInput(f"credit percentages sum to {total}, not 100", field="credits")
    return split


def credited_amounts(amount_minor: int, split: Mapping[UUID, Decimal]) -> dict[UUID, int]:
    """Share an amount by percentages; largest remainder keeps the parts summing to the whole."""
    if not split:
        return {}
    # Ties go to the smaller member id, so every replica agrees.
    return split_exact(amount_minor, split)


def move_credit(
    split: Mapping[UUID, Decimal], *, to_member_id: UUID, percent: Decimal
) -> dict[UUID, Decimal]:
    """Move ``percent`` points of credit to a member, taken from the largest other holders first."""
    if not percent.is_finite() or percent <= 0 or percent > HUNDRED:
        raise InvalidInput("percent to move must be within (0, 100]", field="percent")
    others = sorted(
        ((m, p) for m, p in split.items() if m != to_member_id), key=lambda mp: (-mp[1], str(mp[0]))
    )
    available = sum((p for _, p in others), Decimal(0))
    if percent > available:
        raise InvalidInput(f"only {available} points of credit are held by others", field="percent")
    result = dict(split)
    remaining = percent
    for member, held in others:
        taken = min(held, remaining)
        if taken == held:
            del result[member]
        else:
            result[member] = held - taken
        remaining -= taken
        if remaining == 0:
            break
    result[to_member_id] = result.get(to_member_id, Decimal(0)) + percent
    return result
