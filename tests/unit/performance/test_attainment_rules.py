"""What a sale adds to attainment per (member, team, period), and how a change moves it."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.performance.domain.attainment import contributions, delta
from services.performance.domain.sale import SaleState, Share

pytestmark = pytest.mark.unit

ORG, TEAM, NEW_TEAM = (uuid.UUID(int=i) for i in (1, 2, 3))
ANA, BEN = uuid.UUID(int=10), uuid.UUID(int=11)
QUARTER, YEAR = uuid.UUID(int=20), uuid.UUID(int=21)
AT = datetime(2026, 11, 2, tzinfo=UTC)
SALE = SaleState(
    id=uuid.UUID(int=30), org_id=ORG, source="manual", external_id=None, amount_minor=10_001,
    currency="EUR", currency_assumed=False, currency_mismatch=False, closed_at=AT,
    status="active", unassigned=False, team_id=TEAM, owner_ref=None, owner_email=None,
    version=1, created_at=AT, updated_at=AT,
    credits=(Share(ANA, "60", 6_001), Share(BEN, "40", 4_000)),
)  # fmt: skip


def test_a_sale_counts_its_credits_in_every_period_holding_its_close():
    """A quarter and its year both hold the sale: each member's share counts in both."""
    found = contributions(SALE, period_ids=[QUARTER, YEAR], counted={}, team_of={})
    assert found == {
        (ANA, TEAM, QUARTER): 6_001,
        (BEN, TEAM, QUARTER): 4_000,
        (ANA, TEAM, YEAR): 6_001,
        (BEN, TEAM, YEAR): 4_000,
    }


def test_a_member_counts_for_the_team_they_are_on_now():
    """Ben moved teams: his share counts for his new team; unknown members for the sale's."""
    found = contributions(SALE, period_ids=[QUARTER], counted={}, team_of={BEN: NEW_TEAM})
    assert found == {(ANA, TEAM, QUARTER): 6_001, (BEN, NEW_TEAM, QUARTER): 4_000}


@pytest.mark.parametrize(
    "change",
    [{"status": "reversed"}, {"status": "lost"}, {"team_id": None, "unassigned": True}],
)
def test_reversed_lost_and_unassigned_sales_count_nothing(change):
    """Only an active sale tied to a team counts."""
    sale = replace(SALE, **change)
    assert contributions(sale, period_ids=[QUARTER], counted={}, team_of={}) == {}


def test_a_sale_in_another_currency_counts_its_value_split_by_the_credit():
    """Only where a period's rate values it: the valued amount, split by percent exactly."""
    sale = replace(SALE, currency="USD", currency_mismatch=True)
    found = contributions(sale, period_ids=[QUARTER, YEAR], counted={YEAR: 9_001}, team_of={})
    assert found == {(ANA, TEAM, YEAR): 5_401, (BEN, TEAM, YEAR): 3_600}


def test_the_delta_keeps_every_touched_key_even_when_unmoved():
    """A key on either side is touched (its team is evaluated), zero where nothing moved."""
    before = {(ANA, TEAM, QUARTER): 100, (BEN, TEAM, QUARTER): 50}
    after = {(ANA, TEAM, QUARTER): 100, (ANA, NEW_TEAM, QUARTER): 30}
    assert delta(before, after) == {
        (ANA, TEAM, QUARTER): 0,
        (BEN, TEAM, QUARTER): -50,
        (ANA, NEW_TEAM, QUARTER): 30,
    }


amounts = st.dictionaries(
    st.tuples(st.sampled_from([ANA, BEN]), st.sampled_from([TEAM, NEW_TEAM]), st.just(QUARTER)),
    st.integers(min_value=-(10**9), max_value=10**9),
)


@given(before=amounts, after=amounts)
def test_applying_the_delta_to_before_gives_after(before, after):
    """before + delta(before, after) == after, key by key (absent keys are zero)."""
    moved = delta(before, after)
    for key in before.keys() | after.keys():
        assert before.get(key, 0) + moved[key] == after.get(key, 0)
