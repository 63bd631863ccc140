"""Bounded wire types: every string a client sends has a maximum length, decimals included."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema as cs

#: Longest decimal string accepted (28 significant digits, sign, point, headroom).
DECIMAL_MAX_LENGTH = 40
# Spelled out, not `\s` / `\d`: those mean other characters to a JSON Schema or JavaScript regex
# than to the Rust one pydantic trims and parses with (Unicode White_Space, ASCII digits).
SPACE = r"[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*"
DIGITS = r"[0-9]+(_[0-9]+)*"
#: An integer as a string (a JSON object key): what int() accepts, single underscores included.
INTEGER_PATTERN = rf"^{SPACE}[+-]?{DIGITS}{SPACE}$"
# Decimals are parsed more leniently than integers: Python's whitespace, underscores anywhere.
_DECIMAL_SPACE = SPACE.replace(r"\x85", r"\x1c-\x1f\x85")
_DECIMAL_DIGITS = r"_*[0-9][0-9_]*"
#: What Decimal parses: a sign, digits with an optional point, an optional exponent, spaces around.
DECIMAL_PATTERN = (
    rf"^{_DECIMAL_SPACE}[+-]?({_DECIMAL_DIGITS}(\.[0-9_]*)?|\.{_DECIMAL_DIGITS})"
    rf"([eE][+-]?{_DECIMAL_DIGITS})?{_DECIMAL_SPACE}$"
)
#: The same without a minus sign, for decimals bounded below by zero.
NON_NEGATIVE_DECIMAL_PATTERN = DECIMAL_PATTERN.replace("[+-]?", "[+]?", 1)


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
        branches = [resolved, *resolved.get("anyOf", [])]
        # JSON Schema cannot bound a string's value; a pattern without "-" states at least ">= 0".
        non_negative = any(
            b.get("minimum", -1) >= 0 or b.get("exclusiveMinimum", -1) >= 0 for b in branches
        )
        for branch in branches:
            if branch.get("type") == "string":
                branch["maxLength"] = self.max_length
                # Without a pattern any string looks valid, yet only decimals are accepted.
                branch["pattern"] = (
                    NON_NEGATIVE_DECIMAL_PATTERN if non_negative else DECIMAL_PATTERN
                )
        return json_schema


BoundedDecimal = Annotated[
    Decimal,
    refuse_long_string(DECIMAL_MAX_LENGTH),
    StringBranchMaxLength(DECIMAL_MAX_LENGTH),
]
"""A decimal that arrives as a number or a string of at most DECIMAL_MAX_LENGTH characters."""
