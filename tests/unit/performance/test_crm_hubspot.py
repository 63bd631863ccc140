"""HubSpot v3 signatures, deal-change events and the deal read-back over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.performance.adapters.crm import hubspot
from services.performance.adapters.crm.base import MalformedWebhook, WebhookRejected
from shared.domain_errors import InvalidInput

pytestmark = pytest.mark.unit

CRM = Path(__file__).resolve().parents[2] / "fixtures" / "crm"
BODY = (CRM / "hubspot_deal_closedwon.json").read_bytes()
DEAL_OBJECT = (CRM / "hubspot_deal_object.json").read_bytes()
SECRET = "hs-app-client-secret-2f9a61"
URL = "https://attain.example.com/v1/webhooks/3f6c2a9e-8d0b-4b1e-9f57-2c4de0a1b7c3/hubspot"
TIMESTAMP = "1796656000123"
SIGNATURE = "BmolKhjrRnkyydh5wcpg5QzIIaoGK9w2PEp0vwLvY/4="
HEADERS = {"X-HubSpot-Signature-v3": SIGNATURE, "X-HubSpot-Request-Timestamp": TIMESTAMP}
FROZEN = datetime.fromtimestamp(1796656000, UTC)  # the vector's second
DEAL_ID = "18930512211"
TOKEN = "pat-eu1-test-token"


def verify(
    body: bytes = BODY,
    headers: dict[str, str] | None = None,
    secrets: list[str] | None = None,
    now: datetime = FROZEN,
    url: str = URL,
    method: str = "POST",
) -> None:
    hubspot.verify(
        body=body,
        headers=HEADERS if headers is None else headers,
        secrets=[SECRET] if secrets is None else secrets,
        now=now,
        url=url,
        method=method,
    )


def sign(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's documented v3 recipe, written out independently of the adapter."""
    source = f"{method}{uri}{body.decode()}{timestamp}".encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def event(**changes: Any) -> dict[str, Any]:
    return json.loads(BODY)[0] | changes


def batch(*events: dict[str, Any]) -> bytes:
    return json.dumps(list(events)).encode()


# -- verification ---------------------------------------------------------------------------


def test_accepts_the_documented_vector_at_its_timestamp() -> None:
    verify()
    verify(now=FROZEN + timedelta(milliseconds=123))


def test_the_documented_recipe_reproduces_the_vector() -> None:
    assert sign(SECRET, "POST", URL, BODY, TIMESTAMP) == SIGNATURE


@pytest.mark.parametrize("index", [0, len(BODY) // 2, len(BODY) - 1], ids=["first", "mid", "nl"])
def test_refuses_the_body_with_one_byte_changed(index: int) -> None:
    with pytest.raises(WebhookRejected):
        verify(body=flip(BODY, index))


def test_refuses_a_secret_with_one_character_changed() -> None:
    with pytest.raises(WebhookRejected):
        verify(secrets=[SECRET[:-1] + "2"])


def test_refuses_a_changed_timestamp() -> None:
    with pytest.raises(WebhookRejected):
        verify(headers=HEADERS | {"X-HubSpot-Request-Timestamp": "1796656000124"})


@pytest.mark.parametrize("minutes", [6, -6], ids=["replayed-late", "from-the-future"])
def test_refuses_a_delivery_more_than_five_minutes_from_our_clock(minutes: int) -> None:
    with pytest.raises(WebhookRejected):
        verify(now=FROZEN + timedelta(minutes=minutes))


@pytest.mark.parametrize(
    ("url", "method"),
    [
        pytest.param(URL.replace("https://", "http://"), "POST", id="internal-scheme"),
        pytest.param(URL.replace("3f6c2a9e", "3f6c2a9f"), "POST", id="another-org"),
        pytest.param(URL + "?x=1", "POST", id="query-added"),
        pytest.param(URL, "PUT", id="other-method"),
    ],
)
def test_refuses_a_signature_made_for_another_request(url: str, method: str) -> None:
    with pytest.raises(WebhookRejected):
        verify(url=url, method=method)


def test_accepts_either_client_secret_during_a_rotation() -> None:
    verify(secrets=["hs-app-client-secret-new-0001", SECRET])


def test_decodes_the_escapes_hubspot_decodes_before_signing() -> None:
    signed_uri = "https://attain.example.com/hook?since=2026-12-07T15:04:11&ids=1,2"
    received_url = "https://attain.example.com/hook?since=2026-12-07T15%3A04%3A11&ids=1%2C2"
    signature = sign(SECRET, "POST", signed_uri, BODY, TIMESTAMP)
    verify(url=received_url, headers=HEADERS | {"X-HubSpot-Signature-v3": signature})


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-HubSpot-Request-Timestamp": TIMESTAMP}, id="no-signature"),
        pytest.param({"X-HubSpot-Signature-v3": SIGNATURE}, id="no-timestamp"),
        pytest.param(HEADERS | {"X-HubSpot-Signature-v3": "not base64!"}, id="garbled"),
        pytest.param(HEADERS | {"X-HubSpot-Request-Timestamp": "1.7e12"}, id="timestamp-float"),
    ],
)
def test_refuses_deliveries_without_usable_signature_headers(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookRejected):
        verify(headers=headers)


def test_reads_headers_case_insensitively() -> None:
    verify(headers={name.lower(): value for name, value in HEADERS.items()})


def test_cannot_verify_without_the_public_url() -> None:
    with pytest.raises(ValueError, match="URL"):
        hubspot.verify(body=BODY, headers=HEADERS, secrets=[SECRET], now=FROZEN, url=None)


# -- parsing -------------------------------------------------------------------------------


def test_parses_the_fixture_field_by_field() -> None:
    [change] = hubspot.parse(BODY)
    assert change.dedupe_key == '[62515,18930512211,"dealstage","closedwon",1796515200000]'
    assert change.portal_id == 62515
    assert change.object_id == DEAL_ID
    assert change.subscription_type == "deal.propertyChange"
    assert change.property_name == "dealstage"
    assert change.property_value == "closedwon"
    assert change.occurred_at == datetime(2026, 12, 6, tzinfo=UTC)
    assert change.kind == "won"
    assert change.needs_fetch
    assert change.raw["eventId"] == 1726519431


def test_a_repeated_event_with_a_new_event_id_is_one_change() -> None:
    changes = hubspot.parse(batch(event(), event(eventId=99, attemptNumber=1)))
    assert len(changes) == 1


def test_the_same_stage_at_another_moment_is_another_change() -> None:
    changes = hubspot.parse(batch(event(), event(occurredAt=1796515300000)))
    assert len({change.dedupe_key for change in changes}) == 2


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        pytest.param({"propertyValue": "appointmentscheduled"}, "reversed", id="left-won"),
        pytest.param({"propertyValue": "closedlost"}, "lost", id="lost"),
        pytest.param({"propertyName": "amount", "propertyValue": "19000"}, "amount_changed"),
        pytest.param(
            {"propertyName": "deal_currency_code", "propertyValue": "USD"}, "amount_changed"
        ),
    ],
)
def test_stage_and_amount_changes_map_to_kinds(changes: dict[str, Any], kind: str) -> None:
    [change] = hubspot.parse(batch(event(**changes)))
    assert change.kind == kind


def test_won_stages_are_configurable_for_custom_pipelines() -> None:
    body = batch(event(propertyValue="98765432"))
    assert hubspot.parse(body)[0].kind == "reversed"
    assert hubspot.parse(body, won_stages={"closedwon", "98765432"})[0].kind == "won"


CUSTOM_BODY = (CRM / "hubspot_deal_custom_pipeline.json").read_bytes()
CUSTOM_SIGNATURE = "SDqJnw6uRzvWWGuY4JtDc7GkiNnlOlrDlywy7ybe6dY="
CUSTOM_WON = json.loads((CRM / "hubspot_deal_object_custom_won.json").read_bytes())
CUSTOM_LOST = json.loads((CRM / "hubspot_deal_object_custom_lost.json").read_bytes())


def test_the_custom_pipeline_vector_is_signed_as_documented() -> None:
    assert sign(SECRET, "POST", URL, CUSTOM_BODY, TIMESTAMP) == CUSTOM_SIGNATURE
    verify(body=CUSTOM_BODY, headers=HEADERS | {"X-HubSpot-Signature-v3": CUSTOM_SIGNATURE})


def test_a_custom_pipeline_win_is_won_by_hubspots_flags() -> None:
    won, _ = hubspot.parse(CUSTOM_BODY)
    assert won.kind == "reversed"  # the numeric stage id alone says nothing
    sale = hubspot.to_deal_event(won, hubspot.deal_from_object(CUSTOM_WON))
    assert (sale.kind, sale.external_id, sale.amount) == ("won", "18930577001", Decimal("24000.00"))
    assert (sale.competitor, sale.reasons) == (None, ())


def test_a_custom_pipeline_loss_is_a_lost_deal_with_reason_and_competitor() -> None:
    _, lost = hubspot.parse(CUSTOM_BODY)
    sale = hubspot.to_deal_event(lost, hubspot.deal_from_object(CUSTOM_LOST))
    assert (sale.kind, sale.external_id, sale.amount, sale.currency) == (
        "lost",
        "18930577002",
        Decimal("31000.00"),
        "EUR",
    )
    assert sale.closed_at == datetime(2026, 12, 6, 17, tzinfo=UTC)
    assert sale.competitor == "Globex"
    assert sale.reasons == ("Price: Globex offered 20% off a 2-year term",)


def test_the_org_stage_map_overrides_hubspots_flags() -> None:
    won, lost = hubspot.parse(CUSTOM_BODY)
    stages = hubspot.StageMap(won=frozenset({"87654322"}), lost=frozenset({"87654321"}))
    assert (
        hubspot.to_deal_event(lost, hubspot.deal_from_object(CUSTOM_LOST), stages=stages).kind
        == "won"
    )
    assert (
        hubspot.to_deal_event(won, hubspot.deal_from_object(CUSTOM_WON), stages=stages).kind
        == "lost"
    )


@pytest.mark.parametrize(
    ("properties", "decided"),
    [
        pytest.param({"hs_is_closed_won": "true", "hs_is_closed": "true"}, "won", id="won"),
        pytest.param({"hs_is_closed_won": "false", "hs_is_closed": "true"}, "lost", id="lost"),
        pytest.param({"hs_is_closed_won": "false", "hs_is_closed": "false"}, "open", id="open"),
        pytest.param({"dealstage": "closedlost"}, "lost", id="no-flags-default-lost"),
        pytest.param({"dealstage": "87654321"}, "open", id="no-flags-custom-stage"),
    ],
)
def test_outcome_follows_the_flags_then_the_default_stages(
    properties: dict[str, str], decided: str
) -> None:
    payload = json.loads(DEAL_OBJECT)
    payload["properties"] |= properties
    assert hubspot.outcome(hubspot.deal_from_object(payload)) == decided


def test_a_flag_that_is_not_a_boolean_is_malformed() -> None:
    payload = json.loads(DEAL_OBJECT)
    payload["properties"]["hs_is_closed_won"] = "maybe"
    with pytest.raises(MalformedWebhook):
        hubspot.deal_from_object(payload)


def test_the_fetch_asks_for_the_flags_reason_and_competitor() -> None:
    assert {"hs_is_closed_won", "hs_is_closed", "closed_lost_reason", "competitor"} <= set(
        hubspot.DEAL_PROPERTIES
    )


def test_a_deleted_deal_is_reversed_without_fetching() -> None:
    deletion = {
        key: value
        for key, value in event(subscriptionType="deal.deletion").items()
        if key not in ("propertyName", "propertyValue")
    }
    [change] = hubspot.parse(batch(deletion))
    assert (change.kind, change.needs_fetch) == ("reversed", False)
    sale = hubspot.to_deal_event(change, None)
    assert (sale.kind, sale.external_id, sale.amount) == ("reversed", DEAL_ID, None)


def test_ignores_events_no_sale_depends_on() -> None:
    body = batch(
        event(subscriptionType="contact.propertyChange", propertyName="email"),
        event(propertyName="dealname", propertyValue="Renamed"),
        event(subscriptionType="deal.creation"),
    )
    assert hubspot.parse(body) == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(json.dumps(json.loads(BODY)[0]).encode(), id="object-not-array"),
        pytest.param(b"[1]", id="event-not-object"),
        pytest.param(batch(event(objectId="18930512211")), id="object-id-as-string"),
        pytest.param(batch(event(occurredAt=None)), id="no-occurred-at"),
        pytest.param(batch(event(propertyValue=None)), id="stage-without-value"),
        pytest.param(b"[", id="not-json"),
    ],
)
def test_refuses_deliveries_it_cannot_read(body: bytes) -> None:
    with pytest.raises(MalformedWebhook):
        hubspot.parse(body)


def test_reads_the_deal_object_field_by_field() -> None:
    deal = hubspot.deal_from_object(json.loads(DEAL_OBJECT))
    assert deal.id == DEAL_ID
    assert deal.stage == "closedwon"
    assert deal.amount == Decimal("18250.00")
    assert deal.currency == "EUR"
    assert deal.closed_at == datetime(2026, 12, 7, 15, 4, 11, tzinfo=UTC)
    assert deal.owner_ref == "4021113"


def test_a_deal_without_amount_or_currency_reads_as_none() -> None:
    payload = json.loads(DEAL_OBJECT)
    payload["properties"] |= {"amount": "", "deal_currency_code": None, "closedate": None}
    deal = hubspot.deal_from_object(payload)
    assert (deal.amount, deal.currency, deal.closed_at) == (None, None, None)


def test_the_won_event_and_fetched_deal_make_one_sale() -> None:
    [change] = hubspot.parse(BODY)
    sale = hubspot.to_deal_event(change, hubspot.deal_from_object(json.loads(DEAL_OBJECT)))
    assert sale.source == "hubspot"
    assert sale.external_id == DEAL_ID
    assert sale.dedupe_key == change.dedupe_key
    assert sale.kind == "won"
    assert sale.amount == Decimal("18250.00")
    assert sale.currency == "EUR"
    assert sale.closed_at == datetime(2026, 12, 7, 15, 4, 11, tzinfo=UTC)
    assert sale.owner_ref == "4021113"
    assert sale.owner_email is None
    assert sale.raw["deal"]["properties"]["dealname"] == "Northwind Traders - annual renewal"


def test_the_fetched_stage_wins_over_a_stale_event() -> None:
    # The deal was won, then moved back before we processed the won event.
    [change] = hubspot.parse(BODY)
    payload = json.loads(DEAL_OBJECT)
    payload["properties"]["dealstage"] = "contractsent"
    sale = hubspot.to_deal_event(change, hubspot.deal_from_object(payload))
    assert (sale.kind, sale.amount) == ("reversed", None)


def test_an_amount_change_on_a_won_deal_carries_the_new_amount() -> None:
    [change] = hubspot.parse(batch(event(propertyName="amount", propertyValue="19000")))
    payload = json.loads(DEAL_OBJECT)
    payload["properties"]["amount"] = "19000"
    sale = hubspot.to_deal_event(change, hubspot.deal_from_object(payload))
    assert (sale.kind, sale.amount) == ("amount_changed", Decimal("19000"))


def test_a_won_event_cannot_become_a_sale_without_the_deal() -> None:
    [change] = hubspot.parse(BODY)
    with pytest.raises(ValueError):
        hubspot.to_deal_event(change, None)


# -- fetching the deal from a real HTTP server ---------------------------------------------


class FakeHubSpot(BaseHTTPRequestHandler):
    """A small stand-in for HubSpot's CRM objects API, serving the fixture over real HTTP."""

    requests: list[dict[str, Any]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.requests.append(
            {"path": url.path, "query": parse_qs(url.query), "auth": self.headers["Authorization"]}
        )
        if self.headers["Authorization"] != f"Bearer {TOKEN}":
            return self.reply(401, b'{"status":"error","category":"INVALID_AUTHENTICATION"}')
        if url.path == f"/crm/v3/objects/deals/{DEAL_ID}":
            return self.reply(200, DEAL_OBJECT)
        if url.path == "/crm/v3/objects/deals/500":
            return self.reply(503, b'{"status":"error"}')
        return self.reply(404, b'{"status":"error","category":"OBJECT_NOT_FOUND"}')

    def reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet


@pytest.fixture
def hubspot_api() -> Iterator[str]:
    FakeHubSpot.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHubSpot)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


async def test_fetches_the_deal_with_the_token_and_the_properties_a_sale_needs(
    hubspot_api: str,
) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        deal = await hubspot.fetch_deal(
            client, base_url=hubspot_api + "/", token=TOKEN, deal_id=DEAL_ID
        )
    assert deal == hubspot.deal_from_object(json.loads(DEAL_OBJECT))
    [request] = FakeHubSpot.requests
    assert request["path"] == f"/crm/v3/objects/deals/{DEAL_ID}"
    assert request["query"] == {
        "properties": [
            "amount,closedate,hubspot_owner_id,deal_currency_code,dealstage,"
            "hs_is_closed_won,hs_is_closed,closed_lost_reason,competitor"
        ]
    }
    assert request["auth"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("deal_id", "token", "upstream", "retryable"),
    [
        pytest.param("404", TOKEN, 404, False, id="deleted-deal"),
        pytest.param(DEAL_ID, "pat-revoked", 401, False, id="revoked-token"),
        pytest.param("500", TOKEN, 503, True, id="hubspot-down"),
    ],
)
async def test_fetch_reports_hubspot_errors_with_whether_to_retry(
    hubspot_api: str, deal_id: str, token: str, upstream: int, retryable: bool
) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        with pytest.raises(hubspot.HubSpotApiError) as raised:
            await hubspot.fetch_deal(client, base_url=hubspot_api, token=token, deal_id=deal_id)
    assert (raised.value.upstream_status, raised.value.retryable) == (upstream, retryable)


async def test_fetch_reports_an_unreachable_hubspot_as_retryable() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHubSpot)
    closed_port = server.server_address[1]
    server.server_close()  # nothing listens there any more
    async with httpx.AsyncClient(timeout=5) as client:
        with pytest.raises(hubspot.HubSpotApiError) as raised:
            await hubspot.fetch_deal(
                client, base_url=f"http://127.0.0.1:{closed_port}", token=TOKEN, deal_id=DEAL_ID
            )
    assert (raised.value.upstream_status, raised.value.retryable) == (None, True)


async def test_fetch_refuses_a_deal_id_that_could_steer_the_request() -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        with pytest.raises(InvalidInput):
            await hubspot.fetch_deal(
                client, base_url="http://127.0.0.1:9", token=TOKEN, deal_id="1/../../owners"
            )
