"""Consent offers: receivers say how much of a shortfall they take before anything moves.

Each eligible on-track rep is offered the most it could take (team_rebalance.uplift_offers).
Only that rep answers, once, with any amount from zero to the offer, before the round expires.
The round settles when every offer is answered or it expires; the water-fill then runs over the
accepted room only (team_rebalance.plan_team_rebalance with `accepted`).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace
from datetime import datetime

from services.goals.domain.allocation import check_minor
from shared.domain_errors import Conflict, InvalidInput


@dataclass(frozen=True)
class Offer:
    """What one rep was offered and, once they answered, how much of it they accepted."""

    member_id: Hashable
    offered_minor: int
    accepted_minor: int | None = None

    @property
    def answered(self) -> bool:
        """The rep has answered (accepting zero declines)."""
        return self.accepted_minor is not None


@dataclass(frozen=True)
class OfferRound:
    """The offers of one rebalance, open until every offer is answered or it expires."""

    offers: tuple[Offer, ...]
    expires_at: datetime
    settled: bool = False

    def is_due(self, now: datetime) -> bool:
        """Time to settle: every offer answered, or the round expired."""
        return not self.settled and (all(o.answered for o in self.offers) or now >= self.expires_at)

    def accepted(self) -> dict[Hashable, int]:
        """The room each rep accepted (nothing for an unanswered offer)."""
        return {o.member_id: o.accepted_minor or 0 for o in self.offers}


def accept(round_: OfferRound, member_id: Hashable, amount_minor: object, now: datetime) -> Offer:
    """One rep's answer: at most the offer, once, while the round is open."""
    amount = check_minor("amount", amount_minor)
    offer = next((o for o in round_.offers if o.member_id == member_id), None)
    if offer is None:
        raise InvalidInput(f"no offer was made to {member_id}", member_id=str(member_id))
    if round_.settled:
        raise Conflict("the offer round is settled; nothing can be accepted any more")
    if now >= round_.expires_at:
        raise Conflict(
            f"the offer expired at {round_.expires_at.isoformat()}",
            expires_at=round_.expires_at.isoformat(),
        )
    if offer.answered:
        raise Conflict("this offer was answered already", accepted_minor=offer.accepted_minor)
    if amount > offer.offered_minor:
        raise InvalidInput(
            f"at most {offer.offered_minor} can be accepted, not {amount}",
            field="amount",
            offered_minor=offer.offered_minor,
        )
    return replace(offer, accepted_minor=amount)


def with_answer(round_: OfferRound, answer: Offer) -> OfferRound:
    """The round with one offer replaced by its answer."""
    offers = tuple(answer if o.member_id == answer.member_id else o for o in round_.offers)
    return replace(round_, offers=offers)
