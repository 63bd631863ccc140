"""The sale aggregate: each change says what it did, and only changes bump the version."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.performance.domain.sale import (
    UNKNOWN_CURRENCY,
    Assignee,
    DealTerms,
    SaleState,
    Share,
    TeamRef,
)
from shared.domain_errors import InvalidInput

pytestmark = pytest.mark.unit

ORG, TEAM, OTHER_TEAM = (uuid.UUID(int=i) for i in (1, 2, 3))
ANA, BEN = uuid.UUID(int=10), uuid.UUID(int=11)
EUR_TEAM = TeamRef(TEAM, "EUR")
CLOSED = datetime(2026, 11, 2, 9, tzinfo=UTC)
T0, T1 = datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)


def _recorded(
    *, assignee: Assignee | None = Assignee(ANA, EUR_TEAM), currency: str | None = "EUR"
) -> SaleState:
    return SaleState.record(
        id=uuid.uuid4(),
        org_id=ORG,
        source="generic",
        external_id="D-1",
        amount=Decimal("100.00"),
        currency=currency,
        closed_at=CLOSED,
        assignee=assignee,
        at=T0,
    ).after


def _adjust(
    sale: SaleState,
    amount: str = "100.00",
    *,
    currency: str | None = "EUR",
    competitor: str | None = None,
    team: TeamRef | None = EUR_TEAM,
    assignee: Assignee | None = None,
):
    terms = DealTerms(Decimal(amount), currency, CLOSED, competitor)
    return sale.adjust(terms, team=team, assignee=assignee, at=T1)


def test_a_recorded_sale_is_credited_whole_to_its_owner_and_counts():
    """A won deal with a known owner: one share of the whole amount, tied to the owner's team."""
    sale = _recorded()
    assert (sale.team_id, sale.unassigned, sale.version, sale.counts) == (TEAM, False, 1, True)
    assert sale.credits == (Share(ANA, "100", 10_000),)


def test_a_sale_without_owner_or_currency_is_unassigned_in_no_currency():
    """Nobody to credit and no currency given: kept unassigned, its currency assumed unknown."""
    sale = _recorded(assignee=None, currency=None)
    assert (sale.unassigned, sale.team_id, sale.credits) == (True, None, ())
    assert (sale.currency, sale.currency_assumed, sale.counts) == (UNKNOWN_CURRENCY, True, False)


def test_a_lost_record_is_a_loss_kept_with_its_reasons():
    """A deal first heard of as lost is recorded lost: never counted, announced as a loss."""
    change = SaleState.record(
        id=uuid.uuid4(), org_id=ORG, source="generic", external_id="D-1", amount=None,
        currency="EUR", closed_at=CLOSED, assignee=Assignee(ANA, EUR_TEAM),
        lost_for=["price"], at=T0,
    )  # fmt: skip
    assert (change.kind, change.fact, change.after.status) == ("lost", "lost", "lost")
    assert change.after.loss_reasons == ("price",) and not change.after.counts


def test_a_new_amount_adjusts_the_sale_and_its_credits_under_a_new_version():
    """The amount changes: credits follow exactly, the version and time move, old amount kept."""
    sale = replace(_recorded(), credits=(Share(ANA, "60", 6_000), Share(BEN, "40", 4_000)))
    change = _adjust(sale, "100.01")
    assert (change.kind, change.old_amount_minor) == ("adjusted", 10_000)
    assert change.after.credits == (Share(ANA, "60", 6_001), Share(BEN, "40", 4_000))
    assert (change.after.version, change.after.updated_at) == (2, T1)
    assert change.credits_changed


def test_the_same_terms_again_announce_nothing_and_keep_the_version():
    """A repeated won deal: no kind, no version bump."""
    sale = _recorded()
    change = _adjust(sale)
    assert (change.kind, change.fact, change.after) == (None, None, sale)


def test_a_confirmed_currency_is_kept_without_an_announcement():
    """The CRM now names the currency the sale assumed: stored quietly, nothing announced."""
    sale = replace(_recorded(), currency_assumed=True)
    change = _adjust(sale)
    assert change.kind is None and change.after.currency_assumed is False


def test_a_new_currency_unlike_the_teams_flags_a_mismatch():
    """Sold in USD by a EUR team: the sale now converts instead of counting as sold."""
    change = _adjust(_recorded(), currency="USD")
    assert change.after.currency_mismatch and change.after.converts and not change.after.counts


def test_an_unassigned_sale_whose_owner_is_now_known_is_recorded_for_them():
    """The owner maps later: the sale is credited to them and recorded (it now counts)."""
    sale = _recorded(assignee=None, currency=None)
    change = _adjust(sale, currency=None, assignee=Assignee(ANA, EUR_TEAM), team=None)
    assert change.kind == "recorded"
    assert (change.after.team_id, change.after.currency, change.after.currency_assumed) == (
        TEAM,
        "EUR",
        False,
    )
    assert change.after.credits == (Share(ANA, "100", 10_000),)


def test_a_won_deal_re_activates_a_lost_sale_as_recorded():
    """Lost, then won: the sale is active again and recorded anew, its reasons dropped."""
    lost = replace(_recorded(), status="lost", loss_reasons=("price",))
    change = _adjust(lost)
    assert (change.kind, change.after.status, change.after.loss_reasons) == (
        "recorded",
        "active",
        (),
    )


def test_a_new_competitor_is_an_adjustment():
    """Only the competitor changed: still an adjustment the competitor view hears of."""
    change = _adjust(_recorded(), competitor="Acme")
    assert (change.kind, change.after.competitor) == ("adjusted", "Acme")


def test_reversing_stops_the_count_once():
    """A reversal bumps the version; reversing again changes nothing."""
    change = _recorded().reverse(at=T1)
    assert (change.kind, change.after.status, change.after.version) == ("reversed", "reversed", 2)
    again = change.after.reverse(at=T1)
    assert again.kind is None and again.after == change.after


def test_losing_a_won_sale_is_a_loss_and_a_repeat_changes_nothing():
    """Lost with reasons: stops counting; the same loss again is no change at all."""
    terms = DealTerms(Decimal("100.00"), "EUR", CLOSED, "Acme")
    values = {"reasons": ["price"], "team": EUR_TEAM, "assignee": None, "at": T1}
    change = _recorded().mark_lost(terms, **values)
    assert (change.kind, change.after.status, change.after.competitor) == ("lost", "lost", "Acme")
    assert change.after.version == 2 and not change.credits_changed
    repeat = change.after.mark_lost(terms, **values)
    assert repeat.kind is None and repeat.after == change.after


def test_any_change_of_a_lost_sale_is_announced_as_a_loss():
    """Assigning a lost deal's sale still announces a loss, never a recorded sale."""
    lost = replace(_recorded(assignee=None), status="lost")
    change = lost.assign(split={ANA: Decimal(100)}, team=EUR_TEAM, at=T1)
    assert (change.kind, change.fact) == ("recorded", "lost")


def test_assigning_an_unassigned_sale_records_it_and_reassigning_adjusts():
    """The first assignment records the sale for its team; a second one is an adjustment."""
    first = _recorded(assignee=None).assign(split={ANA: Decimal(100)}, team=EUR_TEAM, at=T1)
    assert (first.kind, first.after.team_id, first.after.version) == ("recorded", TEAM, 2)
    split = {ANA: Decimal(50), BEN: Decimal(50)}
    second = first.after.assign(split=split, team=EUR_TEAM, at=T1)
    assert second.kind == "adjusted"
    assert second.after.credits == (Share(ANA, "50", 5_000), Share(BEN, "50", 5_000))


def test_an_unassigned_sale_announces_nothing():
    """No team, no fact: a change of an unassigned sale is not announced."""
    change = _recorded(assignee=None).reverse(at=T1)
    assert change.kind == "reversed" and change.fact is None


def test_moving_credit_takes_points_from_the_others():
    """A dispute outcome moves 40 points to Ben; the team stays the sale's own."""
    change = _recorded().move_credit(
        to_member_id=BEN, percent=Decimal(40), team=TeamRef(OTHER_TEAM, "EUR"), at=T1
    )
    assert change.kind == "adjusted" and change.after.team_id == TEAM
    assert change.after.credits == (Share(ANA, "60", 6_000), Share(BEN, "40", 4_000))
    with pytest.raises(InvalidInput):
        change.after.move_credit(to_member_id=BEN, percent=Decimal(61), team=None, at=T1)


def test_a_revaluation_keeps_the_terms_under_a_new_version():
    """A rate change re-values: same amount and credits, version + 1."""
    sale = _recorded()
    change = sale.revalued(at=T1)
    assert change.after == replace(sale, version=2, updated_at=T1)
    assert change.kind == "adjusted" and not change.credits_changed
