"""Pipedrive webhooks v2.

Pipedrive does not sign deliveries; it sends the HTTP Basic credentials set on the webhook, so
the configured secrets are ``"user:password"`` strings. Without a signed timestamp there is no
replay window: ``meta.id`` deduplication is what makes a replay harmless.

A delivery is one object change: ``meta`` (``entity``, ``action``, ``id``), ``data`` (the object
now; null after a delete) and ``previous`` (the values that changed; null on create).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.performance.adapters.crm.base import (
    DealEvent,
    DealEventKind,
    MalformedWebhook,
    WebhookRejected,
    load_json,
    lower_headers,
    parse_amount,
    parse_currency,
    parse_instant,
    parse_label,
    parse_text,
    require_secrets,
)

SOURCE = "pipedrive"
_MONEY_FIELDS = ("value", "currency")
_CLOSED = ("won", "lost")


def verify(
    *,
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: datetime | None = None,
    url: str | None = None,
) -> None:
    """Authenticate a delivery by its Basic credentials; raise WebhookRejected if not."""
    configured = [_credentials(secret) for secret in require_secrets(secrets)]
    user, password = _basic_credentials(lower_headers(headers).get("authorization", ""))
    matched = False
    for expected_user, expected_password in configured:
        # Both parts always compared, so timing does not tell which of them was wrong.
        user_ok = hmac.compare_digest(user, expected_user)
        password_ok = hmac.compare_digest(password, expected_password)
        matched |= user_ok & password_ok
    if not matched:
        raise WebhookRejected("Basic credentials do not match the configured ones")


def parse(body: bytes) -> list[DealEvent]:
    """Turn a verified v2 delivery into its deal event, if it changes a sale.

    Won: ``data.status`` is ``won`` and the status changed into it (``previous.status`` is
    present and not ``won``, or the deal was created won). A won deal whose ``value`` or
    ``currency`` changed gives ``amount_changed`` with the full current values. Lost:
    ``data.status`` changed into ``lost`` (from won too), with ``lost_reason`` as its reason; a
    lost deal whose value or reason changes gives ``lost`` again. ``status`` leaving ``won`` or
    ``lost`` otherwise (reopened, deleted) gives ``reversed``. Anything else is ignored.
    """
    payload = load_json(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("meta"), dict):
        raise MalformedWebhook("a Pipedrive delivery is an object with a meta object")
    meta: dict[str, Any] = payload["meta"]
    if not str(meta.get("version", "")).startswith("2"):
        raise MalformedWebhook("only Pipedrive webhooks v2 are supported", field="meta.version")
    if meta.get("entity") != "deal":
        return []
    data = _object(payload.get("data"), "data")
    previous = _object(payload.get("previous"), "previous")
    action = meta.get("action")
    kind = _kind(action, data, previous)
    if kind is None:
        return []
    deal = data if kind != "reversed" else (data or previous)
    external_id = parse_text(deal.get("id", meta.get("entity_id")), name="data.id")
    amount = currency = closed_at = None
    if kind != "reversed":
        amount = parse_amount(data.get("value"), name="data.value")
        currency = parse_currency(data.get("currency"), name="data.currency")
        closed_at = _closed_time(data, "lost_time" if kind == "lost" else "won_time")
    reason = None
    if kind == "lost":
        reason = parse_label(data.get("lost_reason"), name="data.lost_reason")
    return [
        DealEvent(
            source=SOURCE,
            external_id=external_id,
            dedupe_key=parse_text(meta.get("id"), name="meta.id"),
            kind=kind,
            amount=amount,
            currency=currency,
            closed_at=closed_at,
            owner_ref=parse_text(deal.get("owner_id"), name="data.owner_id", required=False),
            owner_email=None,
            raw=payload,
            reasons=(reason,) if reason else (),
        )
    ]


def _kind(action: object, data: dict[str, Any], previous: dict[str, Any]) -> DealEventKind | None:
    status = data.get("status") if action != "delete" else None
    if "status" in previous:
        was = previous["status"]
    else:
        # v2 lists only changed fields in previous: a change without status there kept it.
        was = data.get("status") if action == "change" else None
    if status != was:
        if status in _CLOSED:
            return "won" if status == "won" else "lost"
        return "reversed" if was in _CLOSED else None
    corrected = {f for f in (*_MONEY_FIELDS, "lost_reason") if f in previous}
    corrected = {f for f in corrected if previous[f] != data.get(f)}
    if status == "won" and corrected & set(_MONEY_FIELDS):
        return "amount_changed"
    # A lost deal corrected (value, reason) is sent again with its full current values.
    return "lost" if status == "lost" and corrected else None


def _closed_time(data: dict[str, Any], first: str) -> datetime | None:
    for name in (first, "close_time"):
        if data.get(name):
            # Older Pipedrive payloads write "YYYY-MM-DD HH:MM:SS" in UTC without an offset.
            return parse_instant(data[name], name=f"data.{name}", assume_utc=True)
    return None


def _object(value: object, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedWebhook(f"{name} must be an object", field=name)
    return value


def _credentials(secret: str) -> tuple[bytes, bytes]:
    user, separator, password = secret.partition(":")
    if not separator or not user:
        # A configuration fault, not the sender's: let it surface as a server error.
        raise ValueError('a Pipedrive webhook secret must be "user:password"')
    return user.encode(), password.encode()


def _basic_credentials(header: str) -> tuple[bytes, bytes]:
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise WebhookRejected("Basic authorization is required")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        raise WebhookRejected("Basic credentials are not base64") from None
    # RFC 7617: the user id cannot contain a colon, the password can.
    user, separator, password = decoded.partition(b":")
    if not separator:
        raise WebhookRejected("Basic credentials must be user:password")
    return user, password
