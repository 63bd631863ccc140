"""What every CRM adapter produces, and the checks the adapters share.

An adapter turns one authenticated delivery into ``DealEvent``s. The service stores each event
once per ``(source, dedupe_key)`` and applies it to the sale keyed by ``(source, external_id)``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, overload
from zoneinfo import ZoneInfo

from shared.domain_errors import DomainError
from shared.money import MAX_MINOR

#: How far a signed timestamp may be from our clock, either way (clock skew, replays).
TOLERANCE = timedelta(minutes=5)
#: Loss reasons per deal, and the length kept of a reason or a competitor's name.
MAX_REASONS = 20
MAX_TEXT = 200

DealEventKind = Literal["won", "reversed", "amount_changed", "lost"]


class WebhookRejected(DomainError):
    """The delivery could not be authenticated: missing, wrong or stale credentials."""

    status = 401
    title = "Webhook rejected"


class MalformedWebhook(DomainError):
    """The delivery cannot be read, or does not carry what we need to act on it.

    400 rather than 422: HubSpot does not retry a 400, and retrying a bad payload cannot help.
    """

    status = 400
    title = "Malformed webhook"


@dataclass(frozen=True)
class DealEvent:
    """One CRM deal change, normalised.

    ``kind``: ``won`` (the deal is won: create or update the sale), ``amount_changed`` (a won
    deal's amount or currency changed: update the sale; it carries the full current values, so
    applying it as an upsert is the same as a repeated ``won``), ``reversed`` (the deal is no
    longer won: reopened, deleted or refunded; reversing an unknown sale is a no-op), ``lost``
    (the deal closed lost: kept as a lost deal that never counts; a won sale becomes lost).
    ``competitor`` is who the deal was won or lost against, ``reasons`` why it was lost.
    ``closed_on`` is set instead of ``closed_at`` when the CRM only knows the calendar day
    (Salesforce ``CloseDate``); ``close_instant`` places it in a period's time zone.
    """

    source: str
    external_id: str
    dedupe_key: str
    kind: DealEventKind
    amount: Decimal | None
    currency: str | None
    closed_at: datetime | None
    owner_ref: str | None
    owner_email: str | None
    # Excluded from repr: it holds customer data that should not end up in logs.
    raw: dict[str, Any] = field(repr=False)
    closed_on: date | None = None
    competitor: str | None = None
    reasons: tuple[str, ...] = ()


def close_instant(event: DealEvent, timezone: str) -> datetime | None:
    """Return when the deal closed; a date-only close starts at that day's start in ``timezone``."""
    if event.closed_at is not None:
        return event.closed_at
    if event.closed_on is None:
        return None
    return datetime.combine(event.closed_on, time(), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return the headers keyed by lower-case name (HTTP header names are case-insensitive)."""
    return {name.lower(): value for name, value in headers.items()}


def require_fresh(sent_at: datetime, now: datetime) -> None:
    """Refuse a signed timestamp more than ``TOLERANCE`` away from ``now``, either way."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if abs(now - sent_at) > TOLERANCE:
        raise WebhookRejected("webhook timestamp is outside the 5 minute tolerance")


def require_secrets(secrets: Iterable[str]) -> list[str]:
    """Return the configured secrets, refusing the delivery when there are none (fail closed)."""
    configured = [secret for secret in secrets if secret]
    if not configured:
        raise WebhookRejected("no webhook secret is configured for this source")
    return configured


def require_hmac_sha256(
    signed: bytes, *, keys: Iterable[bytes], candidates: Collection[bytes], error: str
) -> None:
    """Accept a delivery whose signature is the HMAC-SHA256 of ``signed`` under any key.

    Every key is tried against every candidate in constant time, with no early exit, so timing
    does not tell which secret (or which signature) matched.
    """
    matched = False
    for key in keys:
        expected = hmac.new(key, signed, hashlib.sha256).digest()
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookRejected(error)


def parse_digits(value: str | None, *, name: str) -> int:
    """Parse a header that must be a plain non-negative integer, else reject the delivery."""
    if not value or not value.isascii() or not value.isdigit() or len(value) > 20:
        raise WebhookRejected(f"{name} is missing or not an integer")
    return int(value)


def load_json(body: bytes) -> Any:
    """Parse a JSON body with exact decimals; refuse NaN, Infinity and unreadable input."""
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError
        raise MalformedWebhook(f"body is not valid JSON: {error}") from None


def parse_amount(value: object, *, name: str, strings_only: bool = False) -> Decimal:
    """Parse a non-negative finite amount exactly; never through float."""
    if isinstance(value, bool) or value is None:
        raise MalformedWebhook(f"{name} must be a decimal amount", field=name)
    if strings_only and not isinstance(value, str):
        raise MalformedWebhook(f'{name} must be a decimal string such as "12500.00"', field=name)
    if not isinstance(value, str | int | Decimal):
        raise MalformedWebhook(f"{name} must be a decimal amount", field=name)
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise MalformedWebhook(f"{name} is not a decimal: {value!r}", field=name) from None
    if not amount.is_finite() or amount < 0:
        raise MalformedWebhook(f"{name} must be a finite, non-negative amount", field=name)
    # Refused while parsing, so the delivery is logged malformed and answered 400 (no retries).
    if amount > MAX_MINOR:
        raise MalformedWebhook(f"{name} exceeds the maximum amount {MAX_MINOR}", field=name)
    return amount


def parse_currency(value: object, *, name: str = "currency") -> str:
    """Parse an ISO 4217 alphabetic code, upper-cased."""
    code = value.strip().upper() if isinstance(value, str) else ""
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise MalformedWebhook(f"{name} must be a 3-letter ISO 4217 code", field=name)
    return code


def parse_instant(value: object, *, name: str, assume_utc: bool = False) -> datetime:
    """Parse an ISO 8601 / RFC 3339 instant into UTC; naive times only when ``assume_utc``."""
    if not isinstance(value, str):
        raise MalformedWebhook(f"{name} must be an RFC 3339 timestamp", field=name)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MalformedWebhook(
            f"{name} is not an RFC 3339 timestamp: {value!r}", field=name
        ) from None
    if parsed.tzinfo is None:
        if not assume_utc:
            raise MalformedWebhook(f"{name} must carry a UTC offset", field=name)
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@overload
def parse_text(value: object, *, name: str, required: Literal[True] = True) -> str: ...
@overload
def parse_text(value: object, *, name: str, required: bool) -> str | None: ...
def parse_text(value: object, *, name: str, required: bool = True) -> str | None:
    """Return a non-empty string field (ids from CRMs may arrive as numbers)."""
    if isinstance(value, bool):
        raise MalformedWebhook(f"{name} must be a string", field=name)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is None and not required:
        return None
    raise MalformedWebhook(f"{name} is missing or empty", field=name)


def parse_reasons(value: object, *, name: str = "reasons") -> tuple[str, ...]:
    """Parse a list of loss reasons: non-empty strings, trimmed, repeats dropped, at most 20."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_REASONS:
        raise MalformedWebhook(
            f"{name} must be a list of at most {MAX_REASONS} strings", field=name
        )
    reasons = [parse_text(item, name=f"{name}[{index}]") for index, item in enumerate(value)]
    return tuple(dict.fromkeys(r[:MAX_TEXT] for r in reasons if r))


def parse_label(value: object, *, name: str) -> str | None:
    """Parse an optional short label (a competitor's name), trimmed; empty means none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = parse_text(value, name=name)
    return text[:MAX_TEXT] if text else None


def unique(events: Iterable[Any]) -> list[Any]:
    """Drop repeats of a dedupe key within one delivery, keeping the first."""
    seen: set[str] = set()
    kept = []
    for event in events:
        if event.dedupe_key not in seen:
            seen.add(event.dedupe_key)
            kept.append(event)
    return kept


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")
