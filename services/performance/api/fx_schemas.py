"""Bodies of a period's exchange rates and their audit trail; rates are exact decimal strings."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Protocol

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema

from services.performance.domain.fx import RATE_MAX_DECIMALS, RATES_MAX
from services.performance.handlers.fx import RatesSet, RateTable
from shared.money import from_minor

_RATE_LENGTH = 40
_PERIOD = "0b7c2d4e-1f3a-4b5c-8d6e-7f8091a2b3c4"


_RATE_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
_CODE_PATTERN = r"^[A-Z]{3}$"


def _rate_string(value: object) -> object:
    """Accept rates only as plain decimal strings: a JSON number may already have lost digits."""
    if isinstance(value, bool | int | float):
        raise ValueError('rates are decimal strings, e.g. "0.9200", never JSON numbers')
    if isinstance(value, str) and len(value) > _RATE_LENGTH:
        raise ValueError(f"rates have at most {_RATE_LENGTH} characters")
    if isinstance(value, str) and not re.fullmatch(_RATE_PATTERN, value):
        raise ValueError('rates are plain decimals, e.g. "0.9200" (no sign, exponent or spaces)')
    return value


Rate = Annotated[
    Decimal,
    BeforeValidator(_rate_string),
    WithJsonSchema(
        {
            "type": "string",
            "format": "decimal",
            "pattern": _RATE_PATTERN,
            "maxLength": _RATE_LENGTH,
            "examples": ["0.9200"],
            "description": (
                "How many units of the currency converted into one unit of this currency is "
                f"worth: positive, below 10000000, at most {RATE_MAX_DECIMALS} decimals"
            ),
        }
    ),
]
Code = Annotated[str, Field(min_length=3, max_length=3, pattern=_CODE_PATTERN)]


class FxRatesPut(BaseModel):
    """A period's rates into one currency; currencies left out have no rate any more."""

    rates: dict[Code, Rate] = Field(
        max_length=RATES_MAX,
        examples=[{"USD": "0.9200", "GBP": "1.1650"}],
        description="By ISO 4217 code: the rate from that currency into `into`",
        json_schema_extra={"propertyNames": {"pattern": _CODE_PATTERN}},
    )
    into: Code | None = Field(
        None,
        examples=["EUR"],
        description="The team currency converted into; may be left out when all teams share one",
    )


class FxRateTableRead(BaseModel):
    """A period's rates into one currency."""

    into: str = Field(examples=["EUR"])
    rates: dict[str, Decimal] = Field(examples=[{"USD": "0.9200", "GBP": "1.1650"}])
    updated_at: datetime | None
    updated_by: str | None = Field(description="Subject of the admin who last set a rate")

    @classmethod
    def of(cls, table: RateTable) -> FxRateTableRead:
        """Wire form of a rate table."""
        return cls(
            into=table.into,
            rates={code: Decimal(rate) for code, rate in table.rates.items()},
            updated_at=table.updated_at,
            updated_by=table.updated_by,
        )


class FxRatesRead(BaseModel):
    """Every rate table of a period."""

    period_id: uuid.UUID = Field(examples=[_PERIOD])
    tables: list[FxRateTableRead]


class FxRatesSet(FxRateTableRead):
    """The table as set, the currencies whose rate changed and how many sales were re-valued."""

    period_id: uuid.UUID = Field(examples=[_PERIOD])
    changed: list[str] = Field(examples=[["USD"]])
    revalued: int = Field(examples=[12], description="Sales of the period valued anew")

    @classmethod
    def of_result(cls, result: RatesSet) -> FxRatesSet:
        """Wire form of a rate change."""
        table = FxRateTableRead.of(result.table)
        return cls(
            **table.model_dump(),
            period_id=result.period_id,
            changed=result.changed,
            revalued=result.revalued,
        )


# What the audit's wire form reads of the stored records (the ORM rows fit; not imported here).


class FxRateChangeFacts(Protocol):
    """A rate change as stored."""

    id: uuid.UUID
    period_id: uuid.UUID
    into_currency: str
    from_currency: str
    old_rate: str | None
    new_rate: str | None
    changed_by: str
    changed_at: datetime


class SaleRevaluationFacts(Protocol):
    """What a rate change did to one sale, as stored."""

    sale_id: uuid.UUID
    currency: str
    old_counted_minor: int | None
    new_counted_minor: int | None


class SaleRevaluationRead(BaseModel):
    """What one rate change did to one sale (null: it did not count)."""

    sale_id: uuid.UUID
    old_counted: Decimal | None = Field(examples=["16790.00"])
    new_counted: Decimal | None = Field(examples=["17155.00"])
    currency: str = Field(examples=["EUR"])


class FxRateChangeRead(BaseModel):
    """One rate set, changed or removed (old or new rate null), and the sales it re-valued."""

    id: uuid.UUID
    period_id: uuid.UUID
    into: str = Field(examples=["EUR"])
    currency: str = Field(examples=["USD"], description="The currency converted from")
    old_rate: Decimal | None = Field(examples=["0.9200"])
    new_rate: Decimal | None = Field(examples=["0.9400"])
    changed_by: str
    changed_at: datetime
    revaluations: list[SaleRevaluationRead]

    @classmethod
    def of(
        cls, change: FxRateChangeFacts, revaluations: Sequence[SaleRevaluationFacts]
    ) -> FxRateChangeRead:
        """Wire form of an audit record."""

        def money(minor: int | None, currency: str) -> Decimal | None:
            return from_minor(minor, currency) if minor is not None else None

        return cls(
            id=change.id,
            period_id=change.period_id,
            into=change.into_currency,
            currency=change.from_currency,
            old_rate=Decimal(change.old_rate) if change.old_rate is not None else None,
            new_rate=Decimal(change.new_rate) if change.new_rate is not None else None,
            changed_by=change.changed_by,
            changed_at=change.changed_at,
            revaluations=[
                SaleRevaluationRead(
                    sale_id=r.sale_id,
                    old_counted=money(r.old_counted_minor, r.currency),
                    new_counted=money(r.new_counted_minor, r.currency),
                    currency=r.currency,
                )
                for r in revaluations
            ],
        )
