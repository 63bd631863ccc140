"""HubSpot app webhooks (signature v3) and the deal lookup they need.

HubSpot signs ``method + public URI + raw body + timestamp`` with HMAC-SHA256 keyed by the app's
client secret (``X-HubSpot-Signature-v3``, base64; ``X-HubSpot-Request-Timestamp``, Unix ms).
A delivery is a JSON array of events that carry ids only, so a changed deal is read back with
``fetch_deal`` before it becomes a sale. Whether it is won, lost or open comes from HubSpot's own
``hs_is_closed_won`` / ``hs_is_closed`` flags, which hold in every pipeline (custom pipelines
have numeric stage ids); an org's optional ``StageMap`` overrides them for the stages it names.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import httpx

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
    parse_text,
    require_fresh,
    require_hmac_sha256,
    require_secrets,
    unique,
)
from shared.domain_errors import DomainError, InvalidInput

SOURCE = "hubspot"
#: The default pipeline's stage ids, used only when a deal comes back without HubSpot's flags.
DEFAULT_WON_STAGES: frozenset[str] = frozenset({"closedwon"})
DEFAULT_LOST_STAGES: frozenset[str] = frozenset({"closedlost"})
#: The custom deal property naming the competitor (HubSpot has no standard one).
COMPETITOR_PROPERTY = "competitor"
DEAL_PROPERTIES = (
    "amount",
    "closedate",
    "hubspot_owner_id",
    "deal_currency_code",
    "dealstage",
    "hs_is_closed_won",
    "hs_is_closed",
    "closed_lost_reason",
    COMPETITOR_PROPERTY,
)
_FLAGS = {"true": True, "false": False}

DealOutcome = Literal["won", "lost", "open"]
#: Property changes that alter a sale's money rather than whether it exists.
AMOUNT_PROPERTIES: frozenset[str] = frozenset({"amount", "deal_currency_code"})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# HubSpot decodes exactly these percent-escapes before signing (validating-requests docs).
_SIGNED_URI_ESCAPES = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)


class HubSpotApiError(DomainError):
    """HubSpot's API did not return the deal; ``retryable`` says whether trying later may help."""

    status = 502
    title = "CRM unavailable"

    def __init__(self, detail: str, *, upstream_status: int | None) -> None:
        super().__init__(detail, upstream_status=upstream_status)
        self.upstream_status = upstream_status
        self.retryable = upstream_status is None or upstream_status == 429 or upstream_status >= 500


@dataclass(frozen=True)
class HubSpotChange:
    """One relevant event of a HubSpot delivery; ``kind`` is what the event itself claims."""

    dedupe_key: str
    portal_id: int
    object_id: str
    subscription_type: str
    property_name: str | None
    property_value: str | None
    occurred_at: datetime
    kind: DealEventKind
    raw: dict[str, Any] = field(repr=False)

    @property
    def needs_fetch(self) -> bool:
        """Whether the deal must be read back (a deleted deal cannot be, and need not be)."""
        return self.subscription_type != "deal.deletion"


@dataclass(frozen=True)
class HubSpotDeal:
    """The deal properties a sale needs, as read from the CRM objects API."""

    id: str
    stage: str | None
    amount: Decimal | None
    currency: str | None
    closed_at: datetime | None
    owner_ref: str | None
    raw: dict[str, Any] = field(repr=False)
    is_closed_won: bool | None = None
    is_closed: bool | None = None
    lost_reason: str | None = None
    competitor: str | None = None


@dataclass(frozen=True)
class StageMap:
    """An org's stage overrides: deals in these stage ids are won (or lost) whatever the flags."""

    won: frozenset[str] = frozenset()
    lost: frozenset[str] = frozenset()


def outcome(deal: HubSpotDeal, stages: StageMap | None = None) -> DealOutcome:
    """Whether a fetched deal is won, lost or still open.

    The org's stage map first; then HubSpot's flags, which hold in every pipeline; a deal read
    without the flags falls back to the default pipeline's ``closedwon`` / ``closedlost``.
    """
    stages = stages or StageMap()
    if deal.stage in stages.won:
        return "won"
    if deal.stage in stages.lost:
        return "lost"
    if deal.is_closed_won is not None or deal.is_closed is not None:
        if deal.is_closed_won:
            return "won"
        return "lost" if deal.is_closed else "open"
    if deal.stage in DEFAULT_WON_STAGES:
        return "won"
    return "lost" if deal.stage in DEFAULT_LOST_STAGES else "open"


def verify(
    *,
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: datetime,
    url: str | None,
    method: str = "POST",
) -> None:
    """Authenticate a delivery by its v3 signature; raise WebhookRejected if not.

    ``url`` is the public URL HubSpot called (scheme, host, path, query) — behind a proxy it
    comes from configuration, not from the internal request.
    """
    if not url:
        raise ValueError("HubSpot v3 verification needs the public request URL")
    configured = require_secrets(secrets)
    lowered = lower_headers(headers)
    timestamp = lowered.get("x-hubspot-request-timestamp", "")
    try:
        provided = base64.b64decode(lowered.get("x-hubspot-signature-v3", ""), validate=True)
    except binascii.Error:
        provided = b""
    if not provided:
        raise WebhookRejected("X-HubSpot-Signature-v3 is missing or not base64")
    sent_at_ms = parse_digits(timestamp, name="X-HubSpot-Request-Timestamp")
    try:
        sent_at = _EPOCH + timedelta(milliseconds=sent_at_ms)
    except OverflowError:
        raise WebhookRejected("X-HubSpot-Request-Timestamp is out of range") from None
    require_fresh(sent_at, now)
    uri = _SIGNED_URI_ESCAPES.sub(lambda match: bytes.fromhex(match[1]).decode(), url)
    signed = method.upper().encode() + uri.encode() + body + timestamp.encode()
    require_hmac_sha256(
        signed,
        keys=[secret.encode() for secret in configured],
        candidates=[provided],
        error="X-HubSpot-Signature-v3 does not match an active client secret",
    )


def parse(body: bytes, *, won_stages: Collection[str] = DEFAULT_WON_STAGES) -> list[HubSpotChange]:
    """Return the deal changes of a verified delivery that can affect a sale."""
    payload = load_json(body)
    if not isinstance(payload, list):
        raise MalformedWebhook("a HubSpot delivery is a JSON array of events")
    changes = []
    for index, event in enumerate(payload):
        if not isinstance(event, dict):
            raise MalformedWebhook(f"event {index} is not an object")
        change = _change(event, index, won_stages)
        if change is not None:
            changes.append(change)
    return unique(changes)


def deal_from_object(payload: object) -> HubSpotDeal:
    """Read a ``GET /crm/v3/objects/deals/{id}`` response into the fields a sale needs."""
    if not isinstance(payload, dict) or not isinstance(payload.get("properties"), dict):
        raise MalformedWebhook("HubSpot deal response has no properties object")
    properties: dict[str, Any] = payload["properties"]
    amount = properties.get("amount")
    currency = properties.get("deal_currency_code")
    return HubSpotDeal(
        id=parse_text(payload.get("id"), name="id"),
        stage=parse_text(properties.get("dealstage"), name="dealstage", required=False),
        # HubSpot sends null or "" for a deal nobody gave an amount.
        amount=parse_amount(amount, name="amount") if amount not in (None, "") else None,
        # Null in single-currency portals: the deal is in the portal's company currency.
        currency=parse_currency(currency, name="deal_currency_code") if currency else None,
        closed_at=_closedate(properties.get("closedate")),
        owner_ref=parse_text(
            properties.get("hubspot_owner_id"), name="hubspot_owner_id", required=False
        ),
        raw=payload,
        is_closed_won=_flag(properties.get("hs_is_closed_won"), "hs_is_closed_won"),
        is_closed=_flag(properties.get("hs_is_closed"), "hs_is_closed"),
        lost_reason=parse_label(properties.get("closed_lost_reason"), name="closed_lost_reason"),
        competitor=parse_label(properties.get(COMPETITOR_PROPERTY), name=COMPETITOR_PROPERTY),
    )


async def fetch_deal(
    client: httpx.AsyncClient, *, base_url: str, token: str, deal_id: str
) -> HubSpotDeal:
    """Fetch a deal's sale properties from HubSpot with a private-app token."""
    # Only digits reach the path: an id from a payload must not be able to steer the request.
    if not deal_id.isascii() or not deal_id.isdigit():
        raise InvalidInput(f"HubSpot deal id must be numeric, got {deal_id!r}", field="deal_id")
    try:
        response = await client.get(
            f"{base_url.rstrip('/')}/crm/v3/objects/deals/{deal_id}",
            params={"properties": ",".join(DEAL_PROPERTIES)},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
    except httpx.HTTPError as error:
        raise HubSpotApiError(f"HubSpot unreachable: {error!r}", upstream_status=None) from error
    if response.status_code != 200:
        raise HubSpotApiError(
            f"HubSpot answered {response.status_code} for deal {deal_id}",
            upstream_status=response.status_code,
        )
    return deal_from_object(load_json(response.content))


def to_deal_event(
    change: HubSpotChange,
    deal: HubSpotDeal | None,
    *,
    stages: StageMap | None = None,
) -> DealEvent:
    """Combine an event with the deal read back after it into a normalised deal event.

    The fetched deal decides won, lost or reversed (open): HubSpot does not guarantee delivery
    order, and the deal as it is now is the truth whichever event arrives last. ``deal`` may be
    None only for a reversal (deleted deal, or when the caller chooses not to fetch).
    """
    if deal is None:
        if change.kind != "reversed":
            raise ValueError("a won or changed HubSpot deal needs its fetched object")
        return _event(change, kind="reversed", raw={"event": change.raw})
    if deal.id != change.object_id:
        raise ValueError(f"fetched deal {deal.id} is not the event's deal {change.object_id}")
    raw = {"event": change.raw, "deal": deal.raw}
    decided = outcome(deal, stages)
    if decided == "open":
        return _event(change, kind="reversed", raw=raw, owner_ref=deal.owner_ref)
    kind: DealEventKind = "lost"
    if decided == "won":
        kind = "amount_changed" if change.kind == "amount_changed" else "won"
    return _event(
        change,
        kind=kind,
        raw=raw,
        amount=deal.amount,
        currency=deal.currency,
        # HubSpot sets closedate when a deal closes; the stage change time is the fallback.
        closed_at=deal.closed_at or change.occurred_at,
        owner_ref=deal.owner_ref,
        competitor=deal.competitor,
        reasons=(deal.lost_reason,) if decided == "lost" and deal.lost_reason else (),
    )


def _change(event: dict[str, Any], index: int, won_stages: Collection[str]) -> HubSpotChange | None:
    subscription = event.get("subscriptionType")
    property_name = event.get("propertyName")
    if subscription == "deal.deletion":
        kind: DealEventKind = "reversed"
        property_name = property_value = None
    elif subscription == "deal.propertyChange" and property_name == "dealstage":
        property_value = parse_text(event.get("propertyValue"), name=f"[{index}].propertyValue")
        # What the event claims; the deal read back decides (custom stage ids are numeric).
        kind = "won" if property_value in won_stages else "reversed"
        if property_value in DEFAULT_LOST_STAGES:
            kind = "lost"
    elif subscription == "deal.propertyChange" and property_name in AMOUNT_PROPERTIES:
        property_value = parse_text(
            event.get("propertyValue"), name=f"[{index}].propertyValue", required=False
        )
        kind = "amount_changed"
    else:
        return None  # contacts, other deal properties: nothing a sale depends on
    portal_id = _integer(event.get("portalId"), f"[{index}].portalId")
    object_id = _integer(event.get("objectId"), f"[{index}].objectId")
    occurred_at_ms = _integer(event.get("occurredAt"), f"[{index}].occurredAt")
    # eventId is not unique across HubSpot's retries and fan-out; this tuple is.
    dedupe_key = json.dumps(
        [portal_id, object_id, property_name, property_value, occurred_at_ms],
        separators=(",", ":"),
    )
    return HubSpotChange(
        dedupe_key=dedupe_key,
        portal_id=portal_id,
        object_id=str(object_id),
        subscription_type=subscription,
        property_name=property_name,
        property_value=property_value,
        occurred_at=_from_ms(occurred_at_ms, f"[{index}].occurredAt"),
        kind=kind,
        raw=event,
    )


def _event(
    change: HubSpotChange, *, kind: DealEventKind, raw: dict[str, Any], **values: Any
) -> DealEvent:
    return DealEvent(
        source=SOURCE,
        external_id=change.object_id,
        dedupe_key=change.dedupe_key,
        kind=kind,
        amount=values.get("amount"),
        currency=values.get("currency"),
        closed_at=values.get("closed_at"),
        owner_ref=values.get("owner_ref"),
        owner_email=None,
        raw=raw,
        competitor=values.get("competitor"),
        reasons=values.get("reasons", ()),
    )


def _flag(value: object, name: str) -> bool | None:
    """Read one of HubSpot's boolean properties, which arrive as "true" / "false" strings."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    flag = _FLAGS.get(value.strip().lower()) if isinstance(value, str) else None
    if flag is None:
        raise MalformedWebhook(f"{name} must be true or false", field=name)
    return flag


def _closedate(value: object) -> datetime | None:
    if value in (None, ""):
        return None
    # Older API versions return epoch milliseconds as a string.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return _from_ms(int(value), "closedate")
    return parse_instant(value, name="closedate")


def _integer(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedWebhook(f"{name} must be a non-negative integer", field=name)
    return value


def _from_ms(milliseconds: int, name: str) -> datetime:
    try:
        return _EPOCH + timedelta(milliseconds=milliseconds)
    except OverflowError:
        raise MalformedWebhook(f"{name} is out of range", field=name) from None
