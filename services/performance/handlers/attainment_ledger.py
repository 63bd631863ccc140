"""The one path of every change-by-change sale change: store it, move attainment, announce it.

``settle`` notes what the sale added to attainment before, stores the change, values a sale in
another currency at its periods' rates, applies the difference to the (member, period) rows
under the teams' locks, emits the fact and marks the touched teams and periods for evaluation.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from services.performance.adapters.orm import Period, Sale
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.domain import attainment
from services.performance.domain.attainment import ContributionKey, Contributions
from services.performance.domain.fx import Valuation, value_sale
from services.performance.domain.sale import SaleChange, SaleState, TeamRef
from services.performance.handlers.sale_facts import sale_fact
from shared.timeutil import utcnow


async def sale_state(uow: PerformanceUnitOfWork, row: Sale) -> SaleState:
    """A stored sale with its credits, as the aggregate."""
    return row.state(await uow.repo.credits(sale_id=row.id))


async def team_ref(
    uow: PerformanceUnitOfWork, *, org_id: uuid.UUID, team_id: uuid.UUID | None
) -> TeamRef | None:
    """The team a sale is (to be) tied to, with its currency if the team is known here."""
    if team_id is None:
        return None
    team = await uow.repo.team(org_id=org_id, team_id=team_id)
    return TeamRef(team_id, team.currency if team is not None else None)


async def _contributions_now(uow: PerformanceUnitOfWork, sale: SaleState | None) -> Contributions:
    """What a sale adds to attainment now, from its periods (or its stored valuations)."""
    if sale is None or not (sale.counts or sale.converts):
        return {}
    if sale.converts:
        valuations = await uow.fx.valuations(sale_id=sale.id)
        return await _contributions(
            uow, sale, [], {p: v.counted_minor for p, v in valuations.items()}
        )
    periods = await uow.repo.periods_containing(org_id=sale.org_id, instant=sale.closed_at)
    return await _contributions(uow, sale, [p.id for p in periods], {})


async def _contributions(
    uow: PerformanceUnitOfWork,
    sale: SaleState,
    period_ids: list[uuid.UUID],
    counted: dict[uuid.UUID, int],
) -> Contributions:
    if not (sale.counts or sale.converts):
        return {}
    members = await uow.repo.members(org_id=sale.org_id, ids=[c.member_id for c in sale.credits])
    team_of = {m.id: m.team_id for m in members.values()}
    return attainment.contributions(sale, period_ids=period_ids, counted=counted, team_of=team_of)


async def settle(
    uow: PerformanceUnitOfWork, *, change: SaleChange, row: Sale | None, now: datetime
) -> Sale | None:
    """Store a sale change, apply it to attainment, emit its fact, mark its teams for evaluation.

    ``row`` is the stored sale (None for a new one); the stored (or new) row is returned.
    """
    if change.kind is None:  # nothing to announce; a confirmed currency is still kept
        if row is not None:
            row.take(change.after)
        return row
    before = await _contributions_now(uow, change.before)
    row = await _store(uow, row, change)
    sale, fact = change.after, change.fact
    periods: list[Period] = []
    if fact is not None or sale.counts or sale.converts:  # read once: attainment and fact
        periods = await uow.repo.periods_containing(org_id=sale.org_id, instant=sale.closed_at)
    valued = await _revalue(uow, row, periods, now)
    counted = {p: v.counted_minor for p, v in valued.items()}
    after = await _contributions(uow, sale, [p.id for p in periods], counted)
    await move_attainment(uow, org_id=sale.org_id, moved=attainment.delta(before, after))
    if fact is not None:
        uow.emit(sale_fact(sale, fact, periods, change.old_amount_minor, valued))
    return row


async def move_attainment(
    uow: PerformanceUnitOfWork, *, org_id: uuid.UUID, moved: Mapping[ContributionKey, int]
) -> None:
    """Move attainment under the teams' locks and mark every touched (team, period) for evaluation."""
    for team_id in sorted({team for _, team, _ in moved}, key=str):
        await uow.repo.lock_team(org_id=org_id, team_id=team_id)  # in one order: no deadlock
    await add_achieved(uow, org_id=org_id, moved=moved)
    # Evaluated once the burst settles (jobs.evaluate_settled), so a backfill does not
    # rebalance on half its data and a sale does not pay for a whole team's evaluation.
    marked_at = utcnow()  # wall clock: the debounce is about real quiet, not the business clock
    for team_id, period_id in sorted({(team, period) for _, team, period in moved}, key=str):
        await uow.repo.mark_evaluation_due(
            org_id=org_id, team_id=team_id, period_id=period_id, at=marked_at
        )


async def add_achieved(
    uow: PerformanceUnitOfWork, *, org_id: uuid.UUID, moved: Mapping[ContributionKey, int]
) -> None:
    """Add each non-zero delta to its (member, period) row, in one order."""
    for (member_id, team_id, period_id), minor in sorted(moved.items(), key=str):
        if minor:
            await uow.repo.add_achieved(
                org_id=org_id,
                team_id=team_id,
                member_id=member_id,
                period_id=period_id,
                delta_minor=minor,
            )


async def _store(uow: PerformanceUnitOfWork, row: Sale | None, change: SaleChange) -> Sale:
    """Write the changed sale and, if they changed, its credit rows."""
    new = row is None
    if row is None:
        row = Sale.of(change.after)
        uow.repo.add(row)
        await uow.repo.flush()  # the sale before its credits
    else:
        row.take(change.after)
        uow.repo.add(row)
    if change.credits_changed:
        credits = {s.member_id: (s.percent, s.credited_minor) for s in change.after.credits}
        await uow.repo.replace_credits(sale_id=row.id, credits=credits, new_sale=new)
    await uow.repo.flush()
    return row


async def _revalue(
    uow: PerformanceUnitOfWork, row: Sale, periods: list[Period], now: datetime
) -> dict[uuid.UUID, Valuation]:
    """Value a sale in another currency at its periods' rates and store what it counts for."""
    if not row.currency_mismatch or row.team_id is None:
        return {}  # nearly every sale: no team read needed
    team = await uow.repo.team(org_id=row.org_id, team_id=row.team_id)
    if team is None:
        return {}
    # A rate change holds the team rows while it re-values: read the rates only after it is done.
    await uow.repo.lock_team(org_id=row.org_id, team_id=team.id)
    rates = await uow.fx.rates_for(
        period_ids=[p.id for p in periods], source=row.currency, into=team.currency
    )
    valued = value_sale(
        row.amount_minor, currency=row.currency, team_currency=team.currency, rates=rates
    )
    current = await uow.fx.valuations(sale_id=row.id)
    await uow.fx.replace_valuations(sale=row, current=current, valued=valued, at=now)
    return valued
