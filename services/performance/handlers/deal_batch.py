"""Apply many CRM deal changes set-based: one plan in memory, a few bulk statements per batch.

The delivery processor and bulk imports both come here. A run of plain changes is first applied
whole inside one SAVEPOINT; only when writing it fails (a constraint, a sale edited meanwhile) is
that undone and each item applied again in a SAVEPOINT of its own, so the failing one fails
alone. Lost deals, competitors and other currencies go change by change through ``sales``.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from services.performance.adapters.crm.base import DealEvent, MalformedWebhook
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.domain.deal_changes import DealBook, SaleFact, Snapshot
from services.performance.handlers.sale_facts import fact_values
from services.performance.handlers.sales import apply_deal_event
from shared.domain_errors import InvalidInput
from shared.events.performance import Credit, SaleAdjusted, SaleRecorded, SaleReversed
from shared.money import from_minor
from shared.timeutil import utcnow

log = logging.getLogger(__name__)

DedupeKey = tuple[uuid.UUID, str, str]  # (org, source, dedupe key)
_FACTS: dict[str, type[SaleRecorded | SaleAdjusted | SaleReversed]] = {
    "recorded": SaleRecorded,
    "adjusted": SaleAdjusted,
    "reversed": SaleReversed,
}


@dataclass(frozen=True)
class Item:
    """The deal changes of one delivery or import row, applied (or failed) together."""

    org_id: uuid.UUID
    ref: uuid.UUID  # the delivery (or import) the changes came with
    events: Sequence[DealEvent]
    #: An import row: a deal that already is a sale counts as a duplicate and changes nothing.
    only_new: bool = False


@dataclass
class Outcome:
    """What became of an item: changes applied, duplicates skipped, or why it failed."""

    applied: int = 0
    duplicates: int = 0
    malformed: str | None = None
    failed: str | None = None
    claims: list[dict[str, object]] = field(default_factory=list)


async def apply_items(
    uow: PerformanceUnitOfWork,
    items: Sequence[Item],
    *,
    now: datetime,
    held_by: uuid.UUID | None = None,
) -> list[Outcome]:
    """Apply the items in order: runs of plain changes set-based, the others change by change.

    Lost deals, competitors and sales in another currency than their team's take the path of
    ``attainment_ledger.settle`` (state rules of lost deals, currency valuation); the runs between them
    stay set-based, so the order of a team's changes is kept.
    """
    snapshot = await _snapshot(uow, items)
    outcomes: list[Outcome] = []
    for full, run in _runs(items, lambda item: _needs_full_path(snapshot, item)):
        if full:
            outcomes += [await _apply_fully(uow, item, snapshot, now=now) for item in run]
            continue
        reuse = snapshot if len(run) == len(items) else None
        outcomes += await _apply_set_based(uow, run, now=now, held_by=held_by, snapshot=reuse)
        if len(run) < len(items):
            uow.forget_loaded_sales()  # what the bulk statements wrote is newer than loaded rows
    return outcomes


def _runs(items: Sequence[Item], full: Callable[[Item], bool]) -> Iterator[tuple[bool, list[Item]]]:
    """Consecutive items grouped by whether they take the change-by-change path."""
    for key, group in itertools.groupby(items, key=full):
        yield key, list(group)


def _needs_full_path(snapshot: Snapshot, item: Item) -> bool:
    """Whether an item holds a lost deal, a competitor, or a sale in another currency."""
    for event in item.events:
        if event.kind == "lost" or event.competitor is not None:
            return True
        sale = snapshot.sales.get((item.org_id, event.source, event.external_id))
        if sale is not None and (sale.status == "lost" or sale.currency_mismatch):
            return True
        team = sale.team_id if sale is not None else None
        if team is None:
            owner = snapshot.owner(item.org_id, event.source, event.owner_ref, event.owner_email)
            team = owner.team_id if owner is not None else None
        currency = snapshot.team_currencies.get(team) if team is not None else None
        if event.currency is not None and currency is not None and event.currency != currency:
            return True
    return False


async def _snapshot(uow: PerformanceUnitOfWork, items: Sequence[Item]) -> Snapshot:
    events = [(item.org_id, e) for item in items for e in item.events]
    return await uow.batch.snapshot(
        sale_keys={(org, e.source, e.external_id) for org, e in events},
        owners={(org, e.owner_ref, e.owner_email) for org, e in events},
    )


async def _apply_fully(
    uow: PerformanceUnitOfWork, item: Item, snapshot: Snapshot, *, now: datetime
) -> Outcome:
    """Apply one item change by change through ``sales.apply_deal_event``, in a SAVEPOINT."""
    keys = {(item.org_id, e.source, e.dedupe_key) for e in item.events}
    seen = await uow.deliveries.applied_keys(keys)
    outcome = Outcome()
    claims: list[dict[str, object]] = []
    try:
        async with uow.savepoint():
            for event in item.events:
                key = (item.org_id, event.source, event.dedupe_key)
                sale_key = (item.org_id, event.source, event.external_id)
                if key in seen or (item.only_new and sale_key in snapshot.sales):
                    outcome.duplicates += 1
                    continue
                seen.add(key)
                await apply_deal_event(uow, org_id=item.org_id, event=event, now=now)
                claims.append(_claim_row(item, event, now))
            await uow.batch.claim(claims)
            await uow.repo.flush()
    except (MalformedWebhook, InvalidInput) as error:  # e.g. an amount past its bound
        return Outcome(malformed=error.detail)
    except Exception as error:
        log.exception("deal changes of %s failed to apply", item.ref)
        return Outcome(failed=f"{type(error).__name__}: {error}")
    outcome.applied = len(claims)
    return outcome


async def _apply_set_based(
    uow: PerformanceUnitOfWork,
    items: Sequence[Item],
    *,
    now: datetime,
    held_by: uuid.UUID | None,
    snapshot: Snapshot | None,
) -> list[Outcome]:
    """Apply a run whole first, one by one only if the run fails to write."""
    try:
        async with uow.savepoint():
            return await _apply(uow, items, now=now, held_by=held_by, snapshot=snapshot)
    except Exception:
        log.warning(
            "a batch of %d deal changes failed to write; applying them one by one",
            len(items),
            exc_info=True,
        )
    outcomes = []
    for item in items:
        try:
            async with uow.savepoint():
                [outcome] = await _apply(uow, [item], now=now, held_by=held_by, snapshot=None)
        except Exception as error:
            log.exception("deal changes of %s failed to apply", item.ref)
            outcome = Outcome(failed=f"{type(error).__name__}: {error}")
        outcomes.append(outcome)
    return outcomes


async def _apply(
    uow: PerformanceUnitOfWork,
    items: Sequence[Item],
    *,
    now: datetime,
    held_by: uuid.UUID | None,
    snapshot: Snapshot | None,
) -> list[Outcome]:
    events = [(item.org_id, e) for item in items for e in item.events]
    snapshot = snapshot or await _snapshot(uow, items)
    seen = await uow.deliveries.applied_keys({(org, e.source, e.dedupe_key) for org, e in events})
    book = DealBook(snapshot, now=now)
    outcomes = [_plan(book, item, seen, now) for item in items]
    await write_changes(uow, book, [c for o in outcomes for c in o.claims], held_by=held_by)
    return outcomes


def _plan(book: DealBook, item: Item, seen: set[DedupeKey], now: datetime) -> Outcome:
    """Plan one item in the book; an item that cannot apply leaves the book unchanged."""
    outcome = Outcome()
    fresh: list[DealEvent] = []
    keys: set[DedupeKey] = set()
    for event in item.events:
        key = (item.org_id, event.source, event.dedupe_key)
        if (
            key in seen
            or key in keys
            or (item.only_new and book.exists((item.org_id, event.source, event.external_id)))
        ):
            outcome.duplicates += 1
            continue
        keys.add(key)
        fresh.append(event)
    try:
        book.apply(item.org_id, fresh)
    except InvalidInput as error:  # e.g. an amount beyond the currency's maximum
        return Outcome(malformed=error.detail)
    except Exception as error:
        log.exception("deal changes of %s failed to apply", item.ref)
        return Outcome(failed=f"{type(error).__name__}: {error}")
    seen |= keys
    outcome.applied = len(fresh)
    outcome.claims = [_claim_row(item, event, now) for event in fresh]
    return outcome


async def write_changes(
    uow: PerformanceUnitOfWork,
    book: DealBook,
    claims: Sequence[dict[str, object]],
    *,
    held_by: uuid.UUID | None = None,
) -> None:
    """Write a planned batch: sales, credits, attainment, evaluation marks, claims, facts."""
    changed = book.changed_sales()
    deltas = book.deltas
    teams = {s.team_id for pair in changed for s in pair if s is not None and s.team_id}
    await uow.batch.lock_teams(teams | {team for _, team, _ in deltas})
    await uow.batch.write_sales(changed)
    org_of = {team: org for org, team, _ in book.due}
    await uow.batch.add_achieved(org_of, deltas)
    # Evaluated once the burst settles (jobs.evaluate_settled), so a backfill does not
    # rebalance on half its data and a sale does not pay for a whole team's evaluation.
    await uow.batch.mark_due(book.due, at=utcnow(), held_by=held_by)
    await uow.batch.claim(claims)
    for fact in book.facts:
        uow.emit(_fact(fact))


def _fact(fact: SaleFact) -> SaleRecorded | SaleAdjusted | SaleReversed:
    sale = fact.sale
    credits = [Credit(member_id=m, percent=Decimal(p)) for m, p, _ in sale.credits]
    values = fact_values(sale, period_id=fact.period_id, credits=credits)
    if fact.kind == "adjusted":
        values["old_amount"] = from_minor(fact.old_amount_minor, sale.currency)
    return _FACTS[fact.kind](**values)


def _claim_row(item: Item, event: DealEvent, now: datetime) -> dict[str, object]:
    return {
        "id": uuid.uuid4(),
        "org_id": item.org_id,
        "source": event.source,
        "dedupe_key": event.dedupe_key,
        "delivery_id": item.ref,
        "external_id": event.external_id,
        "kind": event.kind,
        "applied_at": now,
    }
