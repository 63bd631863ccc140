"""HTTP helpers: cursor pagination and ETag / If-Match preconditions."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

import sqlalchemy as sa
from fastapi import Header, Query
from pydantic import BaseModel, Field

from shared.domain_errors import InvalidInput, PreconditionFailed

T = TypeVar("T")
S = TypeVar("S", bound=sa.Select[Any])

Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=1000,
        pattern=r"^[A-Za-z0-9_=-]*$",
        description="next_cursor of the previous page (opaque; a forged one is a 422)",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(max_length=200, description="ETag of the version you read; 412 when it is stale"),
]


class Page(BaseModel, Generic[T]):
    """One page of a list; pass next_cursor back as cursor for the next page."""

    items: list[T]
    next_cursor: str | None = Field(None, description="Opaque cursor of the next page, if any")


def encode_cursor(values: Sequence[Any]) -> str:
    """Opaque cursor from the sort key of the last item."""
    return base64.urlsafe_b64encode(json.dumps([str(v) for v in values]).encode()).decode()


def decode_cursor(cursor: str) -> list[str]:
    """Sort key values back from a cursor; a forged cursor is a 422."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise InvalidInput("cursor is not valid") from exc
    if not isinstance(values, list):
        raise InvalidInput("cursor is not valid")
    return values


def keyset(
    stmt: S, columns: Sequence[sa.SQLColumnExpression[Any]], cursor: str | None, limit: int
) -> S:
    """Order by columns and continue after the cursor; fetch one extra row to see if more exist."""
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != len(columns):
            raise InvalidInput("cursor is not valid")
        key = sa.tuple_(*columns)
        typed = [
            sa.literal(_coerce(type_, v), type_=type_)
            for type_, v in zip(key.type.types, values, strict=True)
        ]
        stmt = stmt.where(key > sa.tuple_(*typed))
    return stmt.order_by(*columns).limit(limit + 1)


def _coerce(type_: sa.types.TypeEngine[Any], value: str) -> Any:
    try:
        python_type = type_.python_type
    except NotImplementedError:
        return value
    parse = _PARSERS.get(python_type, python_type)
    if python_type is object:  # e.g. SQLModel's AutoString: keep the text as it is
        return value
    try:
        return parse(value)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("cursor is not valid") from exc


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    # Cursors issued before instants were stored as UtcDateTime carry naive UTC (SQLite).
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


# date("2030-01-01") is a TypeError: a day in a cursor (a period's start, say) parses as ISO.
_PARSERS: dict[type, Any] = {datetime: _instant, date: date.fromisoformat, UUID: UUID}


def page_of(
    rows: Sequence[T], limit: int, key: Callable[[T], Sequence[object]]
) -> tuple[list[T], str | None]:
    """Split limit+1 fetched rows into a page and the cursor of the next one."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return items, (encode_cursor(key(items[-1])) if more and items else None)


def etag_of(version: int) -> str:
    """Strong ETag of a resource version."""
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """Refuse with 412 when If-Match names another version (absent If-Match passes)."""
    if if_match is None:
        return
    candidates = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in candidates and etag_of(version) not in candidates:
        raise PreconditionFailed(
            f"the resource is at version {version}; reload it and retry",
            current_etag=etag_of(version),
        )
