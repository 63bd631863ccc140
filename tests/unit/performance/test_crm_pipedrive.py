"""Pipedrive webhooks v2: Basic credentials and the won / changed / reversed deal rules."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.performance.adapters.crm import pipedrive
from services.performance.adapters.crm.base import MalformedWebhook, WebhookRejected

pytestmark = pytest.mark.unit

CRM = Path(__file__).resolve().parents[2] / "fixtures" / "crm"
BODY = (CRM / "pipedrive_deal_won_v2.json").read_bytes()
SECRET = "attain-pipedrive:pd-basic-pass-5531"
AUTHORIZATION = "Basic YXR0YWluLXBpcGVkcml2ZTpwZC1iYXNpYy1wYXNzLTU1MzE="
DELIVERED_AT = datetime(2026, 12, 7, 15, 4, 12, tzinfo=UTC)


def verify(
    authorization: str | None = AUTHORIZATION,
    secrets: list[str] | None = None,
    body: bytes = BODY,
    now: datetime = DELIVERED_AT,
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    pipedrive.verify(
        body=body, headers=headers, secrets=[SECRET] if secrets is None else secrets, now=now
    )


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def delivery(**parts: Any) -> bytes:
    """The fixture with meta and data fields overridden, and previous replaced whole."""
    payload = json.loads(BODY)
    for name, value in parts.items():
        if name in ("meta", "data") and isinstance(value, dict):
            payload[name] = payload[name] | value
        else:
            payload[name] = value
    return json.dumps(payload).encode()


def test_accepts_the_documented_credentials() -> None:
    assert basic(SECRET) == AUTHORIZATION
    verify()


def test_reads_the_authorization_header_case_insensitively() -> None:
    pipedrive.verify(body=BODY, headers={"authorization": AUTHORIZATION}, secrets=[SECRET])


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("attain-pipedrive:pd-basic-pass-5532", id="password-one-char-changed"),
        pytest.param("attain-pipedrivf:pd-basic-pass-5531", id="user-one-char-changed"),
        pytest.param("attain-pipedrive:", id="empty-password"),
    ],
)
def test_refuses_credentials_that_differ_from_the_configured_ones(secret: str) -> None:
    with pytest.raises(WebhookRejected) as raised:
        verify(secrets=[secret])
    assert raised.value.status == 401


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param(basic("attain-pipedrive:pd-basic-pass-5530"), id="wrong-password"),
        pytest.param(basic("attain-pipedrive"), id="no-colon"),
        pytest.param("Bearer YXR0YWluLXBpcGVkcml2ZTpwZC1iYXNpYy1wYXNzLTU1MzE=", id="not-basic"),
        pytest.param("Basic ***", id="not-base64"),
        pytest.param(basic("ättain:pässword"), id="non-ascii"),
    ],
)
def test_refuses_deliveries_without_the_right_basic_credentials(
    authorization: str | None,
) -> None:
    with pytest.raises(WebhookRejected):
        verify(authorization=authorization)


def test_accepts_either_credential_pair_during_a_rotation() -> None:
    verify(secrets=["attain-pipedrive:the-new-pass-9001", SECRET])
    verify(
        authorization=basic("attain-pipedrive:the-new:pass"),
        secrets=["attain-pipedrive:the-new:pass", SECRET],
    )


def test_credentials_cover_neither_body_nor_time_so_meta_id_must_dedupe() -> None:
    # Pipedrive does not sign: an altered or replayed body passes the credential check.
    # This is why the service stores each meta.id once.
    verify(body=BODY.replace(b"9600", b"9700"), now=DELIVERED_AT + timedelta(days=30))


def test_refuses_everything_while_no_credentials_are_configured() -> None:
    with pytest.raises(WebhookRejected):
        verify(secrets=[])


def test_parses_the_fixture_field_by_field() -> None:
    [event] = pipedrive.parse(BODY)
    assert event.source == "pipedrive"
    assert event.external_id == "4417"
    assert event.dedupe_key == "6f0b3c8e-2d1f-4c35-9a7e-0b7f0f1e5a21"
    assert event.kind == "won"
    assert event.amount == Decimal("9600")
    assert event.currency == "EUR"
    assert event.closed_at == datetime(2026, 12, 7, 15, 4, 11, tzinfo=UTC)
    assert event.owner_ref == "11842301"
    assert event.owner_email is None
    assert event.raw["data"]["title"] == "Contoso - 40 seats"


def test_a_fractional_value_stays_exact() -> None:
    [event] = pipedrive.parse(delivery(data={"value": 9600.1}))
    assert event.amount == Decimal("9600.1")


def test_a_deal_created_already_won_is_won() -> None:
    [event] = pipedrive.parse(delivery(meta={"action": "create"}, previous=None))
    assert event.kind == "won"


def test_a_won_deal_whose_value_changes_adjusts_the_sale() -> None:
    body = delivery(data={"value": 10_400}, previous={"value": 9600})
    [event] = pipedrive.parse(body)
    assert (event.kind, event.amount, event.currency) == ("amount_changed", Decimal(10400), "EUR")


def test_a_won_deal_whose_currency_changes_adjusts_the_sale() -> None:
    [event] = pipedrive.parse(delivery(data={"currency": "USD"}, previous={"currency": "EUR"}))
    assert (event.kind, event.currency) == ("amount_changed", "USD")


LOST_BODY = (CRM / "pipedrive_deal_lost_v2.json").read_bytes()


def test_the_lost_fixture_is_a_lost_deal_with_its_reason() -> None:
    [event] = pipedrive.parse(LOST_BODY)
    assert (event.kind, event.external_id, event.amount, event.currency) == (
        "lost",
        "4418",
        Decimal(7200),
        "EUR",
    )
    assert event.closed_at == datetime(2026, 12, 7, 15, 5, 1, tzinfo=UTC)
    assert event.reasons == ("Went with a cheaper competitor",)
    assert (event.owner_ref, event.dedupe_key) == (
        "11842301",
        "a3d91e57-7c2b-4f0e-8b61-5e9c0d2f4b37",
    )


def test_a_won_deal_that_is_lost_becomes_lost() -> None:
    [event] = pipedrive.parse(delivery(data={"status": "lost"}, previous={"status": "won"}))
    assert (event.kind, event.amount) == ("lost", Decimal(9600))


def test_a_lost_deal_whose_reason_changes_is_sent_again() -> None:
    body = delivery(
        data={"status": "lost", "lost_reason": "Timing"},
        previous={"lost_reason": "Price"},
    )
    [event] = pipedrive.parse(body)
    assert (event.kind, event.reasons) == ("lost", ("Timing",))


def test_a_lost_deal_reopened_is_reversed() -> None:
    [event] = pipedrive.parse(delivery(data={"status": "open"}, previous={"status": "lost"}))
    assert event.kind == "reversed"


@pytest.mark.parametrize("status", ["open", "deleted"])
def test_status_leaving_won_reverses_the_sale(status: str) -> None:
    body = delivery(data={"status": status}, previous={"status": "won"})
    [event] = pipedrive.parse(body)
    assert (event.kind, event.external_id, event.amount) == ("reversed", "4417", None)
    assert event.owner_ref == "11842301"


def test_deleting_a_won_deal_reverses_the_sale() -> None:
    deleted = json.loads(BODY)["data"]
    body = delivery(meta={"action": "delete"}, data=None, previous=deleted)
    [event] = pipedrive.parse(body)
    assert (event.kind, event.external_id) == ("reversed", "4417")


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param({"previous": {"title": "Old title"}}, id="rename-of-a-won-deal"),
        pytest.param({"previous": {}}, id="nothing-changed"),
        pytest.param({"meta": {"entity": "person"}}, id="not-a-deal"),
        pytest.param(
            {
                "meta": {"action": "delete"},
                "data": None,
                "previous": {"id": 4417, "status": "open"},
            },
            id="deleting-an-open-deal",
        ),
    ],
)
def test_changes_that_do_not_touch_a_sale_are_ignored(parts: dict[str, Any]) -> None:
    assert pipedrive.parse(delivery(**parts)) == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(delivery(meta={"version": "1.0"}), id="webhooks-v1"),
        pytest.param(json.dumps({"v": 1, "current": {}}).encode(), id="v1-shape"),
        pytest.param(delivery(data={"value": "lots"}), id="value-not-a-number"),
        pytest.param(delivery(data={"currency": None}), id="no-currency"),
        pytest.param(delivery(meta={"id": None}), id="no-meta-id"),
        pytest.param(delivery(previous=["status"]), id="previous-not-an-object"),
        pytest.param(b"{", id="not-json"),
    ],
)
def test_refuses_deliveries_it_cannot_act_on(body: bytes) -> None:
    with pytest.raises(MalformedWebhook):
        pipedrive.parse(body)
