"""Salesforce Outbound Messages for Opportunities.

SOAP over HTTPS and not signed: the only check is that ``OrganizationId`` is the org configured
for this Attain organisation (compared in constant time). The org id is not a strong secret —
it appears in Salesforce URLs — so the webhook URL should also be unguessable, or the route
restricted by client certificate / Salesforce IP ranges.

Salesforce retries a message for up to 24 hours until it receives ``ACK_RESPONSE``; it may
deliver a notification more than once and in any order.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException

from services.performance.adapters.crm.base import (
    DealEvent,
    MalformedWebhook,
    WebhookRejected,
    parse_amount,
    parse_currency,
    parse_label,
    require_secrets,
    unique,
)

SOURCE = "salesforce"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
#: Custom fields read when the outbound message selects them (Salesforce has no standard ones).
COMPETITOR_FIELD = "MainCompetitors__c"
LOSS_REASON_FIELD = "Loss_Reason__c"

#: The acknowledgement Salesforce waits for (answer it as ``200 text/xml``).
ACK_RESPONSE: bytes = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b"<soapenv:Body>"
    b'<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
    b"<Ack>true</Ack>"
    b"</notificationsResponse>"
    b"</soapenv:Body>"
    b"</soapenv:Envelope>"
)
ACK_CONTENT_TYPE = "text/xml"

_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def verify(
    *,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    secrets: Sequence[str],
    now: datetime | None = None,
    url: str | None = None,
) -> None:
    """Accept a message only from the configured Salesforce org; raise WebhookRejected if not.

    ``secrets`` are org ids, 15 or 18 characters (Setup shows the 15-character form).
    """
    expected = [full_org_id(secret) for secret in require_secrets(secrets)]
    received, _ = _read(body)
    matched = False
    for org_id in expected:
        matched |= _compare(received, org_id)
    if not matched:
        raise WebhookRejected("OrganizationId is not the configured Salesforce org")


def parse(body: bytes) -> list[DealEvent]:
    """Turn a verified message into one deal event per Opportunity notification.

    ``IsWon`` true gives ``won`` (``Amount`` required; ``CurrencyIsoCode`` only exists in
    multi-currency orgs, so it may be None); ``IsClosed`` true with ``IsWon`` false gives
    ``lost`` (an Amount left empty counts as zero); otherwise ``reversed``. ``CloseDate`` is a
    calendar day, so the event carries ``closed_on`` rather than ``closed_at``.
    """
    organization_id, notifications = _read(body)
    events = []
    for index, notification in enumerate(notifications):
        event = _event(notification, index, organization_id)
        if event is not None:
            events.append(event)
    return unique(events)


def full_org_id(org_id: str) -> str:
    """Return the 18-character form of a Salesforce id (adds the case-checksum to 15 chars)."""
    org_id = org_id.strip()
    if not org_id.isascii() or not org_id.isalnum() or len(org_id) not in (15, 18):
        raise ValueError("a Salesforce org id has 15 or 18 letters and digits")
    if len(org_id) == 18:
        return org_id
    suffix = ""
    for start in range(0, 15, 5):
        chunk = org_id[start : start + 5]
        bits = sum(1 << position for position, char in enumerate(chunk) if char.isupper())
        suffix += _CHECKSUM_ALPHABET[bits]
    return org_id + suffix


def _read(body: bytes) -> tuple[str, list[Element]]:
    try:
        # No DTD at all: a SOAP message never needs one, and DTDs carry entity bombs and XXE.
        root = SafeElementTree.fromstring(body, forbid_dtd=True)
    except (DefusedXmlException, ParseError, ValueError) as error:
        raise MalformedWebhook(f"body is not acceptable XML: {error}") from None
    notifications = root.find(f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notifications")
    if root.tag != f"{{{SOAP_NS}}}Envelope" or notifications is None:
        raise MalformedWebhook("body is not a Salesforce outbound message")
    items = notifications.findall(f"{{{OUTBOUND_NS}}}Notification")
    if len(items) > MAX_NOTIFICATIONS:
        raise MalformedWebhook(f"more than {MAX_NOTIFICATIONS} notifications in one message")
    organization_id = (notifications.findtext(f"{{{OUTBOUND_NS}}}OrganizationId") or "").strip()
    return organization_id, items


def _event(notification: Element, index: int, organization_id: str) -> DealEvent | None:
    notification_id = _text(notification.find(f"{{{OUTBOUND_NS}}}Id"))
    sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
    if notification_id is None or sobject is None:
        raise MalformedWebhook(f"notification {index} has no Id or sObject")
    if sobject.get(f"{{{XSI_NS}}}type", "Opportunity").rpartition(":")[2] != "Opportunity":
        return None
    # Field names are matched without their namespace: enterprise and partner WSDLs differ.
    fields = {_local_name(child.tag): _text(child) for child in sobject}
    opportunity_id = fields.get("Id")
    is_won = _BOOLEANS.get((fields.get("IsWon") or "").lower())
    if opportunity_id is None or is_won is None:
        raise MalformedWebhook(
            f"notification {notification_id} needs the Opportunity Id and IsWon fields"
        )
    raw: dict[str, Any] = {
        "OrganizationId": organization_id,
        "NotificationId": notification_id,
        "sObject": fields,
    }
    # IsClosed is sent only when the outbound message selects it; without it nothing is lost.
    is_lost = not is_won and _BOOLEANS.get((fields.get("IsClosed") or "").lower()) is True
    reason = parse_label(fields.get(LOSS_REASON_FIELD), name=LOSS_REASON_FIELD)
    amount = currency = closed_on = None
    if is_won or is_lost:
        if is_won and fields.get("Amount") is None:
            raise MalformedWebhook(f"won opportunity {opportunity_id} has no Amount field")
        amount = parse_amount(fields.get("Amount") or "0", name="Amount")
        if fields.get("CurrencyIsoCode"):
            currency = parse_currency(fields["CurrencyIsoCode"], name="CurrencyIsoCode")
        close_date = fields.get("CloseDate")
        if close_date:
            closed_on = _date(close_date)
    return DealEvent(
        source=SOURCE,
        external_id=opportunity_id,
        dedupe_key=notification_id,
        kind="won" if is_won else "lost" if is_lost else "reversed",
        amount=amount,
        currency=currency,
        closed_at=None,
        owner_ref=fields.get("OwnerId"),
        owner_email=None,
        raw=raw,
        closed_on=closed_on,
        competitor=parse_label(fields.get(COMPETITOR_FIELD), name=COMPETITOR_FIELD),
        reasons=(reason,) if is_lost and reason else (),
    )


def _text(element: Element | None) -> str | None:
    if element is None or element.get(f"{{{XSI_NS}}}nil") == "true":
        return None
    return (element.text or "").strip() or None


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise MalformedWebhook(f"CloseDate is not a date: {value!r}", field="CloseDate") from None


def _compare(received: str, expected: str) -> bool:
    return hmac.compare_digest(received.encode(), expected.encode())
