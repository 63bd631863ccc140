"""Our generic Standard Webhooks format: the README's test vector and the sale it carries."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from services.performance.adapters.crm import generic
from services.performance.adapters.crm.base import MalformedWebhook, WebhookRejected

pytestmark = pytest.mark.unit

CRM = Path(__file__).resolve().parents[2] / "fixtures" / "crm"
BODY = (CRM / "generic_sale.json").read_bytes()
SECRET = "whsec_YXR0YWluLWdlbmVyaWMtdGVzdC1zZWNyZXQtMDAwMQ=="
MESSAGE_ID = "msg_2ZpWq1c7M9tH4kR8xVb3nY6eJ0s"
TIMESTAMP = "1796656000"
SIGNATURE = "v1,58j4KYQ7aH7gFzN6xHXmjT6zL8Zxe+Fbf4xB0FTCTGk="
SENT_AT = datetime.fromtimestamp(int(TIMESTAMP), UTC)
HEADERS = {"webhook-id": MESSAGE_ID, "webhook-timestamp": TIMESTAMP, "webhook-signature": SIGNATURE}
OTHER_SECRET = "whsec_" + base64.b64encode(b"a-newer-generic-secret-0002").decode()


def verify(
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
    secrets: list[str] | None = None,
    now: datetime = SENT_AT,
) -> None:
    generic.verify(
        body=body,
        headers=HEADERS if headers is None else headers,
        secrets=[SECRET] if secrets is None else secrets,
        now=now,
        url=None,
    )


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_accepts_the_documented_vector_at_its_timestamp() -> None:
    verify()


def test_accepts_headers_in_any_case() -> None:
    verify(headers={name.title(): value for name, value in HEADERS.items()})


@pytest.mark.parametrize("index", [0, len(BODY) // 2, len(BODY) - 1], ids=["first", "mid", "nl"])
def test_refuses_the_body_with_one_byte_changed(index: int) -> None:
    with pytest.raises(WebhookRejected):
        verify(body=flip(BODY, index))


def test_refuses_a_secret_with_one_character_changed() -> None:
    changed = SECRET.replace("YXR0", "ZXR0", 1)
    assert changed != SECRET
    with pytest.raises(WebhookRejected):
        verify(secrets=[changed])


def test_refuses_a_changed_timestamp() -> None:
    with pytest.raises(WebhookRejected):
        verify(headers=HEADERS | {"webhook-timestamp": str(int(TIMESTAMP) + 1)})


def test_refuses_a_changed_message_id() -> None:
    with pytest.raises(WebhookRejected):
        verify(headers=HEADERS | {"webhook-id": MESSAGE_ID + "x"})


@pytest.mark.parametrize("minutes", [6, -6], ids=["replayed-late", "from-the-future"])
def test_refuses_a_delivery_more_than_five_minutes_from_our_clock(minutes: int) -> None:
    with pytest.raises(WebhookRejected):
        verify(now=SENT_AT + timedelta(minutes=minutes))


@pytest.mark.parametrize("minutes", [5, -5])
def test_accepts_a_delivery_exactly_five_minutes_from_our_clock(minutes: int) -> None:
    verify(now=SENT_AT + timedelta(minutes=minutes))


def test_accepts_either_secret_during_a_rotation() -> None:
    verify(secrets=[OTHER_SECRET, SECRET])
    verify(secrets=[SECRET, OTHER_SECRET])


def test_accepts_when_any_of_several_signatures_matches() -> None:
    unknown = "v1," + base64.b64encode(b"x" * 32).decode()
    verify(headers=HEADERS | {"webhook-signature": f"v1a,abc {unknown} {SIGNATURE}"})


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_refuses_a_delivery_without_its_signature_headers(missing: str) -> None:
    headers = {name: value for name, value in HEADERS.items() if name != missing}
    with pytest.raises(WebhookRejected) as raised:
        verify(headers=headers)
    assert raised.value.status == 401


def test_refuses_everything_while_no_secret_is_configured() -> None:
    with pytest.raises(WebhookRejected):
        verify(secrets=[])


def test_a_broken_configured_secret_is_a_server_fault_not_a_rejection() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        verify(secrets=["whsec_not base64!"])


def test_standardwebhooks_reference_sender_agrees_with_our_verifier() -> None:
    # The vector reproduces with the reference library...
    assert Webhook(SECRET).sign(MESSAGE_ID, SENT_AT, BODY.decode()) == SIGNATURE
    # ...and a fresh delivery signed by it, under a rotated secret, passes our check.
    sent_at = SENT_AT + timedelta(days=3)
    body = json.dumps({"type": "sale.refunded", "external_id": "INV-1"}).encode()
    signature = Webhook(OTHER_SECRET).sign("msg_other", sent_at, body.decode())
    headers = {
        "webhook-id": "msg_other",
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }
    verify(body=body, headers=headers, secrets=[SECRET, OTHER_SECRET], now=sent_at)
    with pytest.raises(WebhookRejected):
        verify(body=body, headers=headers, secrets=[SECRET], now=sent_at)


LOST_BODY = (CRM / "generic_sale_lost.json").read_bytes()
LOST_HEADERS = {
    "webhook-id": "msg_2ZpWq1c7M9tH4kR8xVb3nY6eJ0t",
    "webhook-timestamp": TIMESTAMP,
    "webhook-signature": "v1,cUYQpr0XNSpO/CgEmwLdtvf2dbCZSVvEiuhvzRlqG1Y=",
}


def test_the_lost_vector_verifies_and_parses_with_competitor_and_reasons() -> None:
    verify(body=LOST_BODY, headers=LOST_HEADERS)
    [event] = generic.parse(LOST_BODY, message_id=LOST_HEADERS["webhook-id"])
    assert (event.kind, event.external_id, event.amount, event.currency) == (
        "lost",
        "OPP-2026-000912",
        Decimal("15800.00"),
        "EUR",
    )
    assert event.closed_at == datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
    assert (event.competitor, event.reasons) == ("Globex", ("price", "contract length"))


def test_a_won_sale_may_name_its_competitor() -> None:
    body = json.dumps(json.loads(BODY) | {"competitor": "  Initech "}).encode()
    [event] = generic.parse(body, message_id=MESSAGE_ID)
    assert (event.kind, event.competitor, event.reasons) == ("won", "Initech", ())


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"reasons": "price"}, id="reasons-not-a-list"),
        pytest.param({"reasons": [""]}, id="empty-reason"),
        pytest.param({"reasons": [{"why": "price"}]}, id="reason-not-text"),
        pytest.param({"reasons": ["r"] * 21}, id="too-many-reasons"),
        pytest.param({"closed_at": None}, id="no-closed-at"),
        pytest.param({"amount": None}, id="no-amount"),
        pytest.param({"competitor": ["Globex"]}, id="competitor-not-text"),
    ],
)
def test_refuses_a_lost_deal_it_cannot_read(changes: dict) -> None:
    body = json.dumps(json.loads(LOST_BODY) | changes).encode()
    with pytest.raises(MalformedWebhook):
        generic.parse(body, message_id="m")


def test_parses_the_fixture_field_by_field() -> None:
    [event] = generic.parse(BODY, message_id=MESSAGE_ID)
    assert event.source == "generic"
    assert event.external_id == "INV-2026-000871"
    assert event.dedupe_key == MESSAGE_ID
    assert event.kind == "won"
    assert event.amount == Decimal("12500.00")
    assert str(event.amount) == "12500.00"  # exact, scale kept, never a float
    assert event.currency == "EUR"
    assert event.closed_at == datetime(2026, 12, 7, 15, 4, 11, tzinfo=UTC)
    assert event.owner_ref is None
    assert event.owner_email == "ana.ruiz@example.com"
    assert event.closed_on is None
    assert event.raw["customer"] == "Tailspin Toys"


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("sale.closed", "won"),
        ("sale.updated", "amount_changed"),
        ("sale.reversed", "reversed"),
        ("sale.refunded", "reversed"),
        ("sale.reopened", "reversed"),
        ("sale.lost", "lost"),
    ],
)
def test_each_sale_type_maps_to_one_kind(event_type: str, kind: str) -> None:
    body = BODY.replace(b'"sale.closed"', json.dumps(event_type).encode())
    [event] = generic.parse(body, message_id="m")
    assert event.kind == kind


def test_a_reversal_needs_only_the_external_id() -> None:
    body = json.dumps({"type": "sale.refunded", "external_id": "INV-2026-000871"}).encode()
    [event] = generic.parse(body, message_id="msg_refund")
    assert (event.kind, event.external_id, event.dedupe_key) == (
        "reversed",
        "INV-2026-000871",
        "msg_refund",
    )
    assert (event.amount, event.currency, event.closed_at) == (None, None, None)


def test_owner_id_is_carried_for_mapping() -> None:
    payload = json.loads(BODY) | {"owner": {"id": "rep-17"}}
    [event] = generic.parse(json.dumps(payload).encode(), message_id="m")
    assert (event.owner_ref, event.owner_email) == ("rep-17", None)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"type": "sale.closd"}, id="unknown-type-is-not-guessed"),
        pytest.param({"amount": 12500.0}, id="number-amount"),
        pytest.param({"amount": "12,500.00"}, id="unparseable-amount"),
        pytest.param({"amount": "NaN"}, id="nan-amount"),
        pytest.param({"amount": "-5.00"}, id="negative-amount"),
        pytest.param({"currency": "euro"}, id="bad-currency"),
        pytest.param({"closed_at": "2026-12-07T15:04:11"}, id="closed-at-without-offset"),
        pytest.param({"closed_at": None}, id="won-without-close-time"),
        pytest.param({"external_id": ""}, id="empty-external-id"),
        pytest.param({"owner": "ana"}, id="owner-not-an-object"),
    ],
)
def test_refuses_payloads_it_cannot_act_on(change: dict[str, object]) -> None:
    body = json.dumps(json.loads(BODY) | change).encode()
    with pytest.raises(MalformedWebhook) as raised:
        generic.parse(body, message_id="m")
    assert raised.value.status == 400


@pytest.mark.parametrize("body", [b"{", b"[]", b'"sale"', b"\xff\xfe", b'{"amount": NaN}'])
def test_refuses_bodies_that_are_not_a_json_object(body: bytes) -> None:
    with pytest.raises(MalformedWebhook):
        generic.parse(body, message_id="m")
