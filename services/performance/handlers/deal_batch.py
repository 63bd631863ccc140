"""Apply many CRM deal changes set-based: one plan in memory, a few bulk statements per batch.

The delivery processor and bulk imports both come here. A batch is first applied whole inside
one SAVEPOINT; only when writing it fails (a constraint, a sale edited meanwhile) is that undone
and each item applied again in a SAVEPOINT of its own, so the failing one fails alone.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from services.performance.adapters.crm.base import DealEvent
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.domain.deal_changes import DealBook, SaleFact
from shared.domain_errors import InvalidInput
from shared.events.performance import Credit, SaleAdjusted, SaleRecorded, SaleReversed
from shared.money import from_minor
from shared.timeutil import utcnow

log = logging.getLogger(__name__)

DedupeKey = tuple[uuid.UUID, str, str]  # (org, source, dedupe key)
_FACTS = {"recorded": SaleRecorded, "adjusted": SaleAdjusted, "reversed": SaleReversed}


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
    """Apply the items in order, whole batch first, one by one only if the batch fails to write."""
    try:
        async with uow.savepoint():
            return await _apply(uow, items, now=now, held_by=held_by)
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
                [outcome] = await _apply(uow, [item], now=now, held_by=held_by)
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
) -> list[Outcome]:
    events = [(item.org_id, e) for item in items for e in item.events]
    snapshot = await uow.batch.snapshot(
        sale_keys={(org, e.source, e.external_id) for org, e in events},
        owners={(org, e.owner_ref, e.owner_email) for org, e in events},
    )
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
    values: dict[str, object] = {
        "org_id": sale.org_id,
        "team_id": sale.team_id,
        "sale_id": sale.id,
        "source": sale.source,
        "external_id": sale.external_id,
        "amount": from_minor(sale.amount_minor, sale.currency),
        "currency": sale.currency,
        "closed_at": sale.closed_at,
        "period_id": fact.period_id,
        "credits": [Credit(member_id=m, percent=Decimal(p)) for m, p, _ in sale.credits],
        "version": sale.version,
    }
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
