"""Currency conversion: exact rates, one rounding to the team currency's minor unit."""

from __future__ import annotations

import uuid
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.performance.domain.fx import (
    RATE_LIMIT,
    check_rates,
    convert,
    value_sale,
)
from services.performance.domain.sales import credited_amounts
from shared.domain_errors import InvalidInput
from shared.money import MAX_MINOR, exponent

pytestmark = pytest.mark.unit

PERIOD = uuid.UUID(int=1)


def test_a_usd_sale_converts_into_eur_at_the_rate_rounded_half_up_to_the_cent():
    # 12,345.67 USD at 0.9200 = 11,358.0164 EUR -> 11,358.02
    assert convert(1_234_567, source="USD", into="EUR", rate=Decimal("0.9200")) == 1_135_802
    # 0.05 USD at 0.5 = 0.025 EUR: exactly half a cent rounds up
    assert convert(5, source="USD", into="EUR", rate=Decimal("0.5")) == 3


def test_yen_without_minor_units_and_dinar_with_three_decimals_convert_exactly():
    # 1,000,000 JPY at 0.0061 EUR = 6,100.00 EUR
    assert convert(1_000_000, source="JPY", into="EUR", rate=Decimal("0.0061")) == 610_000
    # 1,234.56 EUR at 162.37 JPY = 200,455.5072 JPY -> 200,456 (no minor unit)
    assert convert(123_456, source="EUR", into="JPY", rate=Decimal("162.37")) == 200_456
    # 1,000.000 KWD at 3.2500 USD = 3,250.00 USD
    assert convert(1_000_000, source="KWD", into="USD", rate=Decimal("3.2500")) == 325_000
    # 99.99 USD at 0.30712 KWD = 30.708928... KWD -> 30.709 (three decimals)
    assert convert(9_999, source="USD", into="KWD", rate=Decimal("0.30712")) == 30_709
    # 1 JPY at 0.0020505 KWD = 0.0020505 KWD -> 0.002
    assert convert(1, source="JPY", into="KWD", rate=Decimal("0.0020505")) == 2


def test_a_sale_in_the_team_currency_is_not_valued_and_one_beyond_the_limit_stays_flagged():
    assert value_sale(100, currency="EUR", team_currency="EUR", rates={PERIOD: Decimal(2)}) == {}
    huge = value_sale(MAX_MINOR, currency="JPY", team_currency="KWD", rates={PERIOD: Decimal(9)})
    assert huge == {}
    [valued] = value_sale(
        100, currency="USD", team_currency="EUR", rates={PERIOD: Decimal("0.92")}
    ).values()
    assert (valued.period_id, valued.currency, valued.counted_minor) == (PERIOD, "EUR", 92)


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        ({"usd": Decimal(1)}, "ISO 4217"),
        ({"XXX": Decimal(1)}, "ISO 4217"),
        ({"ABC": Decimal(1)}, "ISO 4217"),
        ({"EUR": Decimal(1)}, "converted into"),
        ({"USD": Decimal(0)}, "positive"),
        ({"USD": Decimal("-0.92")}, "positive"),
        ({"USD": Decimal("NaN")}, "positive"),
        ({"USD": Decimal("Infinity")}, "positive"),
        ({"USD": Decimal("0.12345678901")}, "decimals"),
        ({"USD": RATE_LIMIT}, "below"),
    ],
)
def test_bad_rates_are_refused_with_the_field_named(rates, message):
    with pytest.raises(InvalidInput, match=message) as refused:
        check_rates(rates, into="EUR")
    assert refused.value.extra["field"].startswith("rates")


def test_an_unknown_currency_to_convert_into_is_refused():
    with pytest.raises(InvalidInput, match="ISO 4217"):
        check_rates({"USD": Decimal(1)}, into="EURO")


def test_good_rates_are_kept_exactly_as_given():
    assert check_rates({"USD": Decimal("0.9200"), "JPY": Decimal("0.0061")}, into="EUR") == {
        "JPY": Decimal("0.0061"),
        "USD": Decimal("0.9200"),
    }


CURRENCIES = st.sampled_from(["EUR", "USD", "JPY", "KWD", "GBP", "BHD", "CLP"])
RATES = st.decimals(
    min_value=Decimal("0.0000000001"), max_value=Decimal("9999999"), places=10, allow_nan=False
)


@given(
    amount=st.integers(min_value=0, max_value=MAX_MINOR),
    source=CURRENCIES,
    into=CURRENCIES,
    rate=RATES,
)
def test_conversion_is_the_exact_product_rounded_once_half_up(amount, source, into, rate):
    exact = Fraction(amount) * Fraction(rate) * Fraction(10) ** (exponent(into) - exponent(source))
    counted = convert(amount, source=source, into=into, rate=rate)
    assert abs(counted - exact) <= Fraction(1, 2)
    if abs(counted - exact) == Fraction(1, 2):
        assert counted > exact  # a tie goes up, never down


@given(
    amount=st.integers(min_value=0, max_value=10**12),
    rate=RATES,
    cuts=st.sets(st.integers(min_value=1, max_value=99), max_size=5),
)
def test_the_split_of_a_converted_sale_adds_up_to_the_converted_amount(amount, rate, cuts):
    # Rounded once: the sale is converted whole, then split exactly by largest remainder.
    bounds = [0, *sorted(cuts), 100]
    split = {uuid.UUID(int=i + 10): Decimal(b - a) for i, (a, b) in enumerate(pairwise(bounds))}
    valued = value_sale(amount, currency="USD", team_currency="JPY", rates={PERIOD: rate})
    if PERIOD not in valued:
        return  # beyond the largest amount: not valued
    counted = valued[PERIOD].counted_minor
    parts = credited_amounts(counted, split)
    assert sum(parts.values()) == counted
