"""Exact money: decimal strings on the wire, integer minor units in storage and maths."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from decimal import Decimal
from fractions import Fraction
from math import lcm
from operator import attrgetter, itemgetter
from typing import Annotated, Any, TypeVar
from uuid import UUID

from pydantic import BeforeValidator, WithJsonSchema

from shared.domain_errors import InvalidInput

K = TypeVar("K", bound=Hashable)
ExactWeight = int | Fraction | Decimal

MAX_MINOR = 10**15
"""The largest amount, in minor units, any single amount may have (its negation is the least).

Stored as signed 64-bit integers (max ~9.22e18), so at least 9,000 amounts at this maximum still
sum without overflow (a member's attainment, a team's targets). It is 10 trillion in a currency
with cents and a quadrillion yen: far beyond any target or deal, yet refused at the edge rather
than failing in the database.
"""
INT64_MAX = 2**63 - 1

# ISO 4217 exponents that differ from 2; every other currency uses 2 decimals.
_EXPONENTS = {
    "BHD": 3, "CLP": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3,
    "LYD": 3, "OMR": 3, "PYG": 0, "TND": 3, "UGX": 0, "VND": 0, "XAF": 0, "XOF": 0,
}  # fmt: skip


def exponent(currency: str) -> int:
    """Number of decimals of a currency's minor unit."""
    return _EXPONENTS.get(currency.upper(), 2)


def max_amount(currency: str) -> Decimal:
    """The largest amount a currency allows, in major units (MAX_MINOR at its exponent)."""
    return from_minor(MAX_MINOR, currency)


def to_minor(
    amount: Decimal | str | int,
    currency: str,
    *,
    field: str = "amount",
    limit: int | None = MAX_MINOR,
) -> int:
    """Convert an exact amount to integer minor units; refuse sub-minor precision and excess.

    ``limit=None`` is for totals and facts already accepted (they may exceed one amount's
    maximum): only what a signed 64-bit column cannot hold is refused.
    """
    bound = INT64_MAX if limit is None else limit
    value = Decimal(str(amount))
    if not value.is_finite() or value.copy_abs() > bound:  # before scaling: 1E+999999 stays cheap
        raise _too_large(amount, currency, field, bound)
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise InvalidInput(f"{amount} has more decimals than {currency} allows", field=field)
    if scaled.copy_abs() > bound:
        raise _too_large(amount, currency, field, bound)
    return int(scaled)


def _too_large(amount: object, currency: str, field: str, bound: int) -> InvalidInput:
    top = from_minor(bound, currency)
    return InvalidInput(
        f"{field} {amount} exceeds the maximum of {top} {currency.upper()}",
        field=field,
        maximum=str(top),
    )


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


def _amount_schema(pattern: str, kind: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "type": "string",
            "format": "decimal",  # the OpenAPI format registry's exact decimal
            "pattern": pattern,
            "maxLength": AMOUNT_MAX_LENGTH,
            "examples": ["12500.00"],
            "description": (
                f"{kind} string. One amount is at most {MAX_MINOR} minor units of its "
                "currency (10000000000000.00 EUR, 1000000000000000 JPY); totals may be larger."
            ),
        }
    )


Amount = Annotated[
    Decimal, BeforeValidator(_decimal_string), _amount_schema(r"^-?\d+(\.\d+)?$", "Decimal")
]
"""A money amount on the wire: a decimal string, exact, with the currency given beside it."""

NonNegativeAmount = Annotated[
    Decimal,
    BeforeValidator(_decimal_string),
    _amount_schema(r"^(\d+(\.\d+)?|-0+(\.0+)?)$", "Non-negative decimal"),
]
"""An amount that may not be negative (a target, a sale); the schema says so, not only the server."""


# --------------------------------------------------------------------------- exact splits


def id_sort_key(keys: Iterable[Hashable]) -> Callable[[Hashable], Any]:
    """Key ordering ids by their text, the tie rule of every split; fast for many UUIDs."""
    # str(UUID) is fixed-length lowercase hex, so its text order is the order of UUID.int,
    # which costs a fraction of building 36-character strings for a large team.
    if all(type(key) is UUID for key in keys):
        return attrgetter("int")
    return str


def split_exact(total_minor: int, weights: Mapping[K, ExactWeight]) -> dict[K, int]:
    """Split total_minor in proportion to weights by largest remainder; the parts sum exactly."""
    return split_exact_marked(total_minor, weights)[0]


def split_exact_marked(
    total_minor: int, weights: Mapping[K, ExactWeight]
) -> tuple[dict[K, int], set[K]]:
    """split_exact, and the keys whose part was rounded up by one minor unit.

    Weights are exact and non-negative (int, Fraction or Decimal; never float). Equal remainders
    go to the smaller key by text order (id_sort_key). All-zero weights split equally, the only
    neutral answer. A non-zero total over no key is refused: it would lose money.
    """
    if isinstance(total_minor, bool) or not isinstance(total_minor, int):
        raise InvalidInput("total_minor must be an integer amount of minor units")
    if not weights:
        if total_minor:
            raise InvalidInput("cannot split a non-zero total over nobody", total_minor=total_minor)
        return {}, set()
    ints = _integer_weights(weights)
    weight_sum = sum(ints.values())
    if weight_sum == 0:
        ints = dict.fromkeys(ints, 1)
        weight_sum = len(ints)
    amounts: dict[K, int] = {}
    remainders: list[tuple[int, K]] = []
    for key, weight in ints.items():
        # divmod over the common denominator keeps every remainder an exact, comparable int.
        floor, remainder = divmod(total_minor * weight, weight_sum)
        amounts[key] = floor
        remainders.append((remainder, key))
    left = total_minor - sum(amounts.values())
    if not left:
        return amounts, set()
    # Largest remainders first; only the keys tied at the cut-off remainder need the id rule,
    # so the (costlier) id ordering runs on that group alone.
    remainders.sort(key=itemgetter(0), reverse=True)
    cutoff = remainders[left - 1][0]
    above = [key for r, key in remainders if r > cutoff]
    tied = [key for r, key in remainders if r == cutoff]
    tied.sort(key=id_sort_key(tied))
    bumped = set(above)
    bumped.update(tied[: left - len(above)])
    for key in bumped:
        amounts[key] += 1
    return amounts, bumped


def _integer_weights(weights: Mapping[K, ExactWeight]) -> dict[K, int]:
    """Exact weights as integers over their common denominator: every ratio stays the same."""
    if all(type(w) is int for w in weights.values()):
        ints = {key: int(w) for key, w in weights.items()}
    else:
        exact = {key: _exact_weight(key, w) for key, w in weights.items()}
        common = lcm(*(w.denominator for w in exact.values()))
        ints = {key: w.numerator * (common // w.denominator) for key, w in exact.items()}
    for key, weight in ints.items():
        if weight < 0:
            raise InvalidInput(f"weight of {key} must not be negative", member_id=str(key))
    return ints


def _exact_weight(key: Hashable, weight: object) -> Fraction:
    """One weight as an exact Fraction; floats and non-numbers are refused."""
    if isinstance(weight, bool):
        raise InvalidInput(f"weight of {key} must be a number, not a boolean")
    if isinstance(weight, int | Fraction):
        return Fraction(weight)
    if isinstance(weight, Decimal) and weight.is_finite():
        return Fraction(weight)
    # A float would make the split depend on binary rounding: callers pass Decimal instead.
    raise InvalidInput(f"weight of {key} must be a finite int, Decimal or Fraction")
