"""Bounded wire types: every string a client sends has a maximum length, decimals included."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema as cs

#: Longest decimal string accepted (28 significant digits, sign, point, headroom).
DECIMAL_MAX_LENGTH = 40


def refuse_long_string(max_length: int) -> BeforeValidator:
    """Refuse a string longer than max_length before it is parsed."""

    def check(value: object) -> object:
        if isinstance(value, str) and len(value) > max_length:
            raise ValueError(f"at most {max_length} characters")
        return value

    return BeforeValidator(check)


class StringBranchMaxLength:
    """Adds maxLength to the string branch of a schema (pydantic documents Decimal as number|string)."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def __get_pydantic_json_schema__(
        self, schema: cs.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The wrapped schema with maxLength on each string branch."""
        json_schema = handler(schema)
        resolved: dict[str, Any] = handler.resolve_ref_schema(json_schema)
        for branch in [resolved, *resolved.get("anyOf", [])]:
            if branch.get("type") == "string":
                branch["maxLength"] = self.max_length
        return json_schema


BoundedDecimal = Annotated[
    Decimal,
    refuse_long_string(DECIMAL_MAX_LENGTH),
    StringBranchMaxLength(DECIMAL_MAX_LENGTH),
]
"""A decimal that arrives as a number or a string of at most DECIMAL_MAX_LENGTH characters."""
