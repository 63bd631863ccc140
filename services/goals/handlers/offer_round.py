"""Opening an offer round and reading one back (no ledger writes here)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from datetime import timedelta

from services.goals.adapters.orm import Rebalance, RebalanceOffer
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.offers import Offer, OfferRound
from services.goals.domain.rebalancing import RebalancePolicy
from services.goals.handlers.ledger import member_uuid
from shared.events.goals import UpliftOffered
from shared.money import from_minor
from shared.timeutil import utcnow


def open_round(
    uow: GoalsUnitOfWork, row: Rebalance, offers: Mapping[Hashable, int], policy: RebalancePolicy
) -> None:
    """Make each eligible rep their offer; nothing moves until the round settles."""
    row.status = "offered"
    row.expires_at = utcnow() + timedelta(hours=policy.offer_hours)
    for offered_to, offered in offers.items():
        member_id = member_uuid(offered_to)
        uow.repo.add(
            RebalanceOffer.model_validate(
                {
                    "rebalance_id": row.id,
                    "member_id": member_id,
                    "org_id": row.org_id,
                    "offered_minor": offered,
                }
            )
        )
        uow.emit(
            UpliftOffered(
                org_id=row.org_id,
                team_id=row.team_id,
                rebalance_id=row.id,
                period_id=row.period_id,
                member_id=member_id,
                offered=from_minor(offered, row.currency),
                currency=row.currency,
                expires_at=row.expires_at,
            )
        )


def round_of(row: Rebalance, offers: Sequence[RebalanceOffer]) -> OfferRound:
    """The domain view of a stored round."""
    return OfferRound(
        offers=tuple(Offer(o.member_id, o.offered_minor, o.accepted_minor) for o in offers),
        expires_at=row.expires_at or row.created_at,
        settled=row.status != "offered",
    )
