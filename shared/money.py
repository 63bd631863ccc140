"""Exact money: decimal strings on the wire, integer minor units in storage and maths."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

from shared.domain_errors import InvalidInput

# ISO 4217 exponents that differ from 2; every other currency uses 2 decimals.
_EXPONENTS = {
    "BHD": 3, "CLP": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3,
    "LYD": 3, "OMR": 3, "PYG": 0, "TND": 3, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0,
}  # fmt: skip


def exponent(currency: str) -> int:
    """Number of decimals of a currency's minor unit."""
    return _EXPONENTS.get(currency.upper(), 2)


def to_minor(amount: Decimal | str | int, currency: str) -> int:
    """Convert an exact amount to integer minor units; refuse sub-minor precision."""
    value = Decimal(str(amount))
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"{amount} has more decimals than {currency} allows")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """Convert integer minor units back to an exact decimal with the currency's scale."""
    exp = exponent(currency)
    return Decimal(minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp))


#: Longest amount string accepted: far beyond any real amount, short enough to parse cheaply.
AMOUNT_MAX_LENGTH = 40


def _decimal_string(value: object) -> object:
    """Accept amounts only as decimal strings (or Decimals from code), never JSON numbers."""
    if isinstance(value, bool) or isinstance(value, int | float):
        raise ValueError('amounts are decimal strings, e.g. "12500.00", never JSON numbers')
    if isinstance(value, str) and len(value) > AMOUNT_MAX_LENGTH:
        raise ValueError(f"amounts have at most {AMOUNT_MAX_LENGTH} characters")
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_decimal_string),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?\d+(\.\d+)?$",
            "maxLength": AMOUNT_MAX_LENGTH,
            "examples": ["12500.00"],
        }
    ),
]
"""A money amount on the wire: a decimal string, exact, with the currency given beside it."""
