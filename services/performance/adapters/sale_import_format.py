"""Rows of a bulk sale import, read as the bytes arrive: NDJSON or CSV of the generic format.

Each row is one won sale of the generic webhook format (``adapters/crm/generic.py``):
NDJSON lines are its JSON objects (``type`` may be left out); CSV has a header naming the
columns ``external_id, amount, currency, closed_at, owner_email, owner_id`` (and optionally
``type``), one record per line. Every row is checked as the webhook would check it; a bad row
becomes an error with its line number, the others are kept in a normal form for the processor.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from services.performance.adapters.crm.base import DealEvent, load_json
from services.performance.adapters.crm.generic import SOURCE, parse_payload
from shared.domain_errors import DomainError

ImportFormat = Literal["ndjson", "csv"]
WON = "sale.closed"
#: The dedupe key ``import:<external_id>`` must fit its column (400).
MAX_EXTERNAL_ID = 256
CSV_COLUMNS = ("external_id", "amount", "currency", "closed_at", "owner_email", "owner_id", "type")


@dataclass(frozen=True)
class ImportRow:
    """A row as read: its line, and the normal form of its sale or why it is refused."""

    line: int
    payload: dict[str, Any] | None
    error: str | None = None


def deal_event(payload: dict[str, Any]) -> DealEvent:
    """The won deal of a stored row; one deal is imported once, whichever file carries it."""
    return DealEvent(
        source=SOURCE,
        external_id=payload["external_id"],
        dedupe_key=f"import:{payload['external_id']}",
        kind="won",
        amount=Decimal(payload["amount"]),
        currency=payload["currency"],
        closed_at=datetime.fromisoformat(payload["closed_at"]),
        owner_ref=payload.get("owner_id"),
        owner_email=payload.get("owner_email"),
        raw={},
    )


async def read_rows(chunks: AsyncIterable[bytes], fmt: ImportFormat) -> AsyncIterator[ImportRow]:
    """Rows of the body as it streams in (CSV: no line breaks inside a field)."""
    header: list[str] | None = None
    async for number, text in _lines(chunks):
        if not text.strip():
            continue
        if fmt == "ndjson":
            yield _row(number, lambda t=text: load_json(t.encode()))
            continue
        try:
            fields = next(csv.reader([text]))
        except csv.Error as error:  # e.g. a NUL byte
            yield ImportRow(number, None, f"unreadable CSV: {error}")
            if header is None:
                return
            continue
        if header is None:
            header = [name.strip().lower() for name in fields]
            unknown = sorted(set(header) - set(CSV_COLUMNS))
            if unknown or "external_id" not in header:
                yield ImportRow(
                    number,
                    None,
                    f"CSV header must name columns of {CSV_COLUMNS}; unknown: {unknown}",
                )
                return
            continue
        yield _row(number, lambda f=fields, h=header: _csv_payload(h, f))


def _csv_payload(header: list[str], fields: list[str]) -> dict[str, Any]:
    if len(fields) != len(header):
        raise ValueError(f"{len(fields)} fields where the header names {len(header)}")
    values = {name: (value.strip() or None) for name, value in zip(header, fields, strict=True)}
    return {
        "type": values.get("type") or WON,
        "external_id": values.get("external_id"),
        "amount": values.get("amount"),
        "currency": values.get("currency"),
        "closed_at": values.get("closed_at"),
        "owner": {"email": values.get("owner_email"), "id": values.get("owner_id")},
    }


def _row(number: int, read: Any) -> ImportRow:
    try:
        payload = read()
        if isinstance(payload, dict):
            payload.setdefault("type", WON)
        event = parse_payload(payload, dedupe_key="import")
        if event.kind != "won":
            return ImportRow(number, None, f"an import carries won sales only: type must be {WON}")
        if len(event.external_id) > MAX_EXTERNAL_ID:
            return ImportRow(number, None, f"external_id is longer than {MAX_EXTERNAL_ID}")
    except DomainError as error:
        return ImportRow(number, None, error.detail)
    except ValueError as error:
        return ImportRow(number, None, str(error))
    assert event.amount is not None and event.closed_at is not None  # a won sale has both
    return ImportRow(
        number,
        {
            "external_id": event.external_id,
            "amount": str(event.amount),
            "currency": event.currency,
            "closed_at": event.closed_at.isoformat(),
            "owner_id": event.owner_ref,
            "owner_email": event.owner_email,
        },
    )


async def _lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[tuple[int, str]]:
    """Numbered text lines (from 1) of a UTF-8 byte stream, split as the chunks arrive."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    number = 0
    async for chunk in chunks:
        pending += decoder.decode(chunk)
        *complete, pending = pending.split("\n")
        for line in complete:
            number += 1
            yield number, _first_line(number, line)
    pending += decoder.decode(b"", final=True)
    if pending:
        yield number + 1, _first_line(number + 1, pending)


def _first_line(number: int, line: str) -> str:
    # A byte-order mark may open the file; a CR ends Windows lines.
    return (line.removeprefix("\ufeff") if number == 1 else line).removesuffix("\r")
