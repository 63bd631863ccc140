"""Currency conversion at a period's rates: exact rates, one rounding to the team's minor unit."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from shared.domain_errors import InvalidInput
from shared.money import MAX_MINOR, exponent

#: A rate has at most this many decimals and stays below RATE_LIMIT: any published rate fits
#: (a Kuwaiti dinar is a few hundred thousand Iranian rials).
RATE_MAX_DECIMALS = 10
RATE_LIMIT = Decimal(10) ** 7
#: A period's rate table into one currency holds at most this many currencies.
RATES_MAX = 200

# Active ISO 4217 alphabetic codes (funds, metals, test and "no currency" codes excluded).
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
    TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """.split()
)


@dataclass(frozen=True)
class Valuation:
    """What a sale in another currency counts for in one period, and the rate that made it."""

    period_id: uuid.UUID
    currency: str
    rate: Decimal
    counted_minor: int


def check_currency(code: str, *, field: str) -> str:
    """Return an active ISO 4217 code as given; refuse anything else."""
    if code not in ISO_4217:
        raise InvalidInput(f"{code[:8]!r} is not an active ISO 4217 currency code", field=field)
    return code


def check_rates(rates: Mapping[str, Decimal], *, into: str) -> dict[str, Decimal]:
    """Validate a rate table into a currency: known codes, positive rates of sane precision."""
    check_currency(into, field="into")
    if len(rates) > RATES_MAX:
        raise InvalidInput(f"at most {RATES_MAX} rates per period and currency", field="rates")
    checked: dict[str, Decimal] = {}
    for code, rate in sorted(rates.items()):
        field = f"rates.{code[:8]}"
        check_currency(code, field=field)
        if code == into:
            raise InvalidInput(f"{code} is the currency converted into", field=field)
        if not rate.is_finite() or rate <= 0:
            raise InvalidInput(f"the rate of {code} must be positive", field=field)
        if rate >= RATE_LIMIT:
            raise InvalidInput(f"the rate of {code} must be below {RATE_LIMIT}", field=field)
        if rate != rate.quantize(Decimal(1).scaleb(-RATE_MAX_DECIMALS)):
            raise InvalidInput(
                f"the rate of {code} has more than {RATE_MAX_DECIMALS} decimals", field=field
            )
        checked[code] = rate
    return checked


def convert(amount_minor: int, *, source: str, into: str, rate: Decimal) -> int:
    """Convert minor units at an exact rate, rounded once, half away from zero, into `into`."""
    exact = (
        Fraction(amount_minor)
        * Fraction(rate)
        * Fraction(10) ** (exponent(into) - exponent(source))
    )
    magnitude = abs(exact)
    whole, rest = divmod(magnitude.numerator, magnitude.denominator)
    if 2 * rest >= magnitude.denominator:
        whole += 1
    return whole if exact >= 0 else -whole


def value_sale(
    amount_minor: int,
    *,
    currency: str,
    team_currency: str,
    rates: Mapping[uuid.UUID, Decimal],
) -> dict[uuid.UUID, Valuation]:
    """Value a sale in each period with a rate from its currency into the team's.

    A conversion beyond the largest amount (MAX_MINOR) is not valued: the sale stays flagged
    rather than overflowing a team's attainment.
    """
    if currency == team_currency:
        return {}
    valued: dict[uuid.UUID, Valuation] = {}
    for period_id, rate in rates.items():
        counted = convert(amount_minor, source=currency, into=team_currency, rate=rate)
        if abs(counted) <= MAX_MINOR:
            valued[period_id] = Valuation(period_id, team_currency, rate, counted)
    return valued
