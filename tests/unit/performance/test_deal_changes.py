"""The in-memory plan of a batch of deal changes: the same outcome as applying them one by one."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.performance.adapters.crm.base import DealEvent
from services.performance.domain.deal_changes import (
    DealBook,
    MemberRef,
    PeriodSpan,
    Snapshot,
    apply_deal,
    record_deal,
)
from shared.domain_errors import InvalidInput

pytestmark = pytest.mark.unit

ORG, TEAM = uuid.uuid4(), uuid.uuid4()
ANA = MemberRef(uuid.uuid4(), ORG, TEAM, "ana@example.com", {"hubspot": "77"}, True)
QUARTER = PeriodSpan(
    uuid.uuid4(), ORG, datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC),
    date(2026, 10, 1), date(2026, 12, 31), "UTC",
)  # fmt: skip
YEAR = PeriodSpan(
    uuid.uuid4(), ORG, datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC),
    date(2026, 1, 1), date(2026, 12, 31), "UTC",
)  # fmt: skip
NOW = datetime(2026, 12, 7, tzinfo=UTC)


def _book(**snapshot: object) -> DealBook:
    values = {
        "sales": {},
        "members": {ANA.id: ANA},
        "team_currencies": {TEAM: "EUR"},
        "periods": {ORG: [YEAR, QUARTER]},
    } | snapshot
    return DealBook(Snapshot(**values), now=NOW)


def _deal(kind: str = "won", amount: str | None = "100.00", ext: str = "D-1", **extra) -> DealEvent:
    values = {
        "source": "generic",
        "external_id": ext,
        "dedupe_key": uuid.uuid4().hex,
        "kind": kind,
        "amount": Decimal(amount) if amount is not None else None,
        "currency": "EUR",
        "closed_at": datetime(2026, 11, 2, 9, tzinfo=UTC),
        "owner_ref": None,
        "owner_email": "ANA@example.com ",
        "raw": {},
    } | extra
    return DealEvent(**values)


def test_won_then_changed_then_reversed_in_one_batch_nets_to_nothing():
    """Three changes of one deal: three facts in order, attainment back to zero, both periods."""
    book = _book()
    book.apply(ORG, [_deal()])
    book.apply(ORG, [_deal("amount_changed", "150.00")])
    book.apply(ORG, [_deal("reversed", None)])
    assert [f.kind for f in book.facts] == ["recorded", "adjusted", "reversed"]
    assert [f.old_amount_minor for f in book.facts][1] == 10_000
    assert {f.period_id for f in book.facts} == {QUARTER.id}  # the most specific period
    assert book.deltas == {}
    assert book.due == {(ORG, TEAM, QUARTER.id), (ORG, TEAM, YEAR.id)}
    [(stored, sale)] = book.changed_sales()
    assert stored is None and (sale.status, sale.amount_minor, sale.version) == (
        "reversed",
        15_000,
        3,
    )


def test_an_owner_maps_by_crm_id_before_email_and_unknown_owners_stay_unassigned():
    """A HubSpot owner id maps; an unknown owner's sale is kept unassigned and counts nothing."""
    book = _book()
    book.apply(ORG, [_deal(ext="D-1", source="hubspot", owner_ref="77", owner_email=None)])
    book.apply(ORG, [_deal(ext="D-2", owner_email="nobody@example.com")])
    sales = {s.external_id: s for _, s in book.changed_sales()}
    assert sales["D-1"].credits == ((ANA.id, "100", 10_000),)
    assert (sales["D-2"].unassigned, sales["D-2"].team_id, sales["D-2"].credits) == (True, None, ())
    assert book.deltas == {(ANA.id, TEAM, QUARTER.id): 10_000, (ANA.id, TEAM, YEAR.id): 10_000}
    assert [f.sale.external_id for f in book.facts] == ["D-1"]  # no fact without a team


def test_a_change_that_cannot_apply_leaves_the_book_as_it_was():
    """An amount past the currency's bound fails the delivery alone: nothing of it is planned."""
    book = _book()
    book.apply(ORG, [_deal(ext="D-1")])
    with pytest.raises(InvalidInput):
        book.apply(ORG, [_deal(ext="D-2"), _deal(ext="D-3", amount="1" + "0" * 15)])
    assert [s.external_id for _, s in book.changed_sales()] == ["D-1"]
    assert len(book.facts) == 1


def test_a_date_only_close_starts_at_midnight_in_the_period_time_zone():
    """Salesforce's CloseDate: the day's start where the period holding it keeps time."""
    berlin = PeriodSpan(
        uuid.uuid4(), ORG, datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 12, 31, 23, tzinfo=UTC),
        date(2026, 10, 1), date(2026, 12, 31), "Europe/Berlin",
    )  # fmt: skip
    book = _book(periods={ORG: [berlin]})
    book.apply(ORG, [_deal(closed_at=None, closed_on=date(2026, 11, 2))])
    [(_, sale)] = book.changed_sales()
    assert sale.closed_at == datetime(2026, 11, 1, 23, tzinfo=UTC)


def test_one_deal_change_takes_the_sales_rule_of_its_kind():
    """The rules both paths share: lost marks the sale lost with why, reversed reverses it."""
    sale = record_deal(
        _deal(), id=uuid.uuid4(), org_id=ORG, closed_at=NOW, assignee=None, at=NOW
    ).after
    lost = apply_deal(
        sale, _deal("lost", reasons=("price",)), closed_at=NOW, team=None, assignee=None, at=NOW
    )
    assert (lost.kind, lost.after.status, lost.after.loss_reasons) == ("lost", "lost", ("price",))
    reversed_ = apply_deal(
        lost.after, _deal("reversed"), closed_at=NOW, team=None, assignee=None, at=NOW
    )
    assert (reversed_.kind, reversed_.after.status) == ("reversed", "reversed")
    first_lost = record_deal(
        _deal("lost"), id=uuid.uuid4(), org_id=ORG, closed_at=NOW, assignee=None, at=NOW
    )
    assert (first_lost.kind, first_lost.after.status) == ("lost", "lost")
