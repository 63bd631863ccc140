"""What a sale adds to attainment, per (member, team, period), and how a change moves it."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping

from services.performance.domain.sale import SaleState
from services.performance.domain.sales import credited_amounts

ContributionKey = tuple[uuid.UUID, uuid.UUID, uuid.UUID]  # (member, team, period)
Contributions = dict[ContributionKey, int]


def contributions(
    sale: SaleState | None,
    *,
    period_ids: Iterable[uuid.UUID],
    counted: Mapping[uuid.UUID, int],
    team_of: Mapping[uuid.UUID, uuid.UUID],
) -> Contributions:
    """Credited amounts per member, team and period: as sold, or split from each period's value.

    ``period_ids`` are the periods holding the sale's close; ``counted`` what a sale in another
    currency counts for per period; ``team_of`` each credited member's current team (a member
    not known counts for the sale's team).
    """
    if sale is None or not (sale.counts or sale.converts):
        return {}
    if sale.counts:
        shares = {share.member_id: share.credited_minor for share in sale.credits}
        by_period = {period_id: shares for period_id in period_ids}
    else:
        split = sale.split
        by_period = {p: credited_amounts(minor, split) for p, minor in counted.items()}
    result: Contributions = defaultdict(int)
    for period_id, amounts in by_period.items():
        for member_id, minor in amounts.items():
            team_id = team_of.get(member_id, sale.team_id)
            assert team_id is not None  # a counting sale has a team
            result[(member_id, team_id, period_id)] += minor
    return dict(result)


def delta(
    before: Mapping[ContributionKey, int], after: Mapping[ContributionKey, int]
) -> Contributions:
    """How attainment moves from before to after: every key either side has (zero if unmoved)."""
    return {key: after.get(key, 0) - before.get(key, 0) for key in before.keys() | after.keys()}
