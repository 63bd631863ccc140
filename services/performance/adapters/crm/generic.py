"""Our own CRM-neutral format, signed per Standard Webhooks 1.0.

Headers ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``
(space-separated ``v1,<base64>``); the signature is HMAC-SHA256 over
``"{id}.{timestamp}.{raw body}"`` keyed with the base64 part of a ``whsec_`` secret.

The body is one sale event::

    {"type": "sale.closed", "external_id": "INV-2026-000871", "amount": "12500.00",
     "currency": "EUR", "closed_at": "2026-12-07T15:04:11Z",
     "owner": {"email": "ana.ruiz@example.com", "id": "optional sender-side owner id"}}

``type``: ``sale.closed`` (won), ``sale.updated`` (amount changed), ``sale.reversed``,
``sale.refunded`` or ``sale.reopened`` (reversed), ``sale.lost`` (closed lost; it carries
``reasons``, a list of strings, and never counts). Any of them may name the ``competitor`` the
deal was won or lost against. Amounts are decimal strings, never numbers.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from services.performance.adapters.crm.base import (
    DealEvent,
    DealEventKind,
    MalformedWebhook,
    WebhookRejected,
    load_json,
    lower_headers,
    parse_amount,
    parse_currency,
    parse_digits,
    parse_instant,
    parse_label,
    parse_reasons,
    parse_text,
    require_fresh,
    require_hmac_sha256,
    require_secrets,
)

SOURCE = "generic"
SECRET_PREFIX = "whsec_"

#: Unknown types are refused rather than guessed: a typo must never reverse a sale.
KINDS: Mapping[str, DealEventKind] = {
    "sale.closed": "won",
    "sale.updated": "amount_changed",
    "sale.reversed": "reversed",
    "sale.refunded": "reversed",
    "sale.reopened": "reversed",
    "sale.lost": "lost",
}


def verify(
    *,
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: datetime,
    url: str | None = None,
) -> None:
    """Authenticate a delivery by its Standard Webhooks signature; raise WebhookRejected if not."""
    keys = [_secret_key(secret) for secret in require_secrets(secrets)]
    lowered = lower_headers(headers)
    message_id = lowered.get("webhook-id", "")
    timestamp = lowered.get("webhook-timestamp", "")
    signatures = _v1_signatures(lowered.get("webhook-signature", ""))
    if not message_id or not signatures:
        raise WebhookRejected("webhook-id and a v1 webhook-signature are required")
    sent_at = datetime.fromtimestamp(parse_digits(timestamp, name="webhook-timestamp"), UTC)
    require_fresh(sent_at, now)
    # Sign the raw bytes as received: any re-serialisation would change what was signed.
    signed = f"{message_id}.{timestamp}.".encode() + body
    require_hmac_sha256(
        signed,
        keys=keys,
        candidates=signatures,
        error="no webhook-signature matches an active secret",
    )


def parse(body: bytes, *, message_id: str) -> list[DealEvent]:
    """Turn a verified delivery into its deal event; ``message_id`` is the webhook-id header.

    The webhook-id is the dedupe key: it is stable across retries, while a later refund or
    correction of the same sale (same external_id) arrives under a new id.
    """
    if not message_id:
        raise MalformedWebhook("the webhook-id header is required")
    return [parse_payload(load_json(body), dedupe_key=message_id)]


def parse_payload(payload: object, *, dedupe_key: str) -> DealEvent:
    """One sale event of the generic format (a webhook body, or a row of a bulk import)."""
    if not isinstance(payload, dict):
        raise MalformedWebhook("body must be a JSON object")
    event_type = payload.get("type")
    kind = KINDS.get(event_type) if isinstance(event_type, str) else None
    if kind is None:
        raise MalformedWebhook(f"unknown type {event_type!r}", field="type", allowed=sorted(KINDS))
    owner = payload.get("owner") or {}
    if not isinstance(owner, dict):
        raise MalformedWebhook("owner must be an object", field="owner")
    amount = currency = closed_at = None
    if kind != "reversed" or payload.get("amount") is not None:
        amount = parse_amount(payload.get("amount"), name="amount", strings_only=True)
        currency = parse_currency(payload.get("currency"))
    if kind in ("won", "lost") or payload.get("closed_at") is not None:
        closed_at = parse_instant(payload.get("closed_at"), name="closed_at")
    return DealEvent(
        source=SOURCE,
        external_id=parse_text(payload.get("external_id"), name="external_id"),
        dedupe_key=dedupe_key,
        kind=kind,
        amount=amount,
        currency=currency,
        closed_at=closed_at,
        owner_ref=parse_text(owner.get("id"), name="owner.id", required=False),
        owner_email=parse_text(owner.get("email"), name="owner.email", required=False),
        raw=payload,
        competitor=parse_label(payload.get("competitor"), name="competitor"),
        reasons=parse_reasons(payload.get("reasons")) if kind == "lost" else (),
    )


def _secret_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        # A configuration fault, not the sender's: let it surface as a server error.
        raise ValueError("a generic webhook secret must be whsec_<base64>") from None
    if not key:
        raise ValueError("a generic webhook secret must not be empty")
    return key


def _v1_signatures(header: str) -> list[bytes]:
    decoded = []
    for entry in header.split():
        version, _, signature = entry.partition(",")
        if version != "v1":
            continue  # other schemes (v1a asymmetric) are not ours to check
        try:
            decoded.append(base64.b64decode(signature, validate=True))
        except binascii.Error:
            continue
    return decoded
