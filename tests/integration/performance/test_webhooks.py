"""Each CRM adapter through the HTTP endpoint: vectors accepted, tampering refused, once only."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from services.performance.handlers.jobs import purge_webhook_rejections
from tests.integration.performance.conftest import (
    CRM,
    FROZEN,
    HUBSPOT_TOKEN,
    ORG,
    PerfApp,
)

pytestmark = pytest.mark.integration

GENERIC_BODY = (CRM / "generic_sale.json").read_bytes()
GENERIC_SECRET = "whsec_YXR0YWluLWdlbmVyaWMtdGVzdC1zZWNyZXQtMDAwMQ=="
GENERIC_HEADERS = {
    "webhook-id": "msg_2ZpWq1c7M9tH4kR8xVb3nY6eJ0s",
    "webhook-timestamp": "1796656000",
    "webhook-signature": "v1,58j4KYQ7aH7gFzN6xHXmjT6zL8Zxe+Fbf4xB0FTCTGk=",
    "content-type": "application/json",
}
HUBSPOT_BODY = (CRM / "hubspot_deal_closedwon.json").read_bytes()
HUBSPOT_SECRET = "hs-app-client-secret-2f9a61"
HUBSPOT_HEADERS = {
    "X-HubSpot-Signature-v3": "BmolKhjrRnkyydh5wcpg5QzIIaoGK9w2PEp0vwLvY/4=",
    "X-HubSpot-Request-Timestamp": "1796656000123",
    "content-type": "application/json",
}
PIPEDRIVE_BODY = (CRM / "pipedrive_deal_won_v2.json").read_bytes()
PIPEDRIVE_SECRET = "attain-pipedrive:pd-basic-pass-5531"
PIPEDRIVE_HEADERS = {
    "Authorization": "Basic YXR0YWluLXBpcGVkcml2ZTpwZC1iYXNpYy1wYXNzLTU1MzE=",
    "content-type": "application/json",
}
SALESFORCE_BODY = (CRM / "salesforce_outbound_opportunity.xml").read_bytes()
SALESFORCE_SECRET = "00D5g000004XyZaEAK"


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def flip_text(text: str, index: int) -> str:
    return flip(text.encode(), index).decode()


async def post(perf: PerfApp, source: str, body: bytes, headers: dict[str, str]):
    return await perf.client.post(f"/v1/webhooks/{ORG}/{source}", content=body, headers=headers)


async def ana_sales(perf: PerfApp) -> list[dict]:
    response = await perf.client.get(
        "/v1/sales", params={"member_id": str(perf.seeded.ana)}, headers=perf.as_admin()
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def delivery_view(perf: PerfApp, response) -> dict:
    """The delivery log's view of the delivery a 202 acknowledged."""
    delivery_id = response.json()["delivery_id"]
    got = await perf.client.get(f"/v1/webhook-deliveries/{delivery_id}", headers=perf.as_admin())
    assert got.status_code == 200, got.text
    return got.json()


async def assert_refused(perf: PerfApp, response, before: dict[str, int]) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401
    assert await perf.state() == before


# -- generic --------------------------------------------------------------------------------


async def test_generic_vector_becomes_attainment_for_the_mapped_member(perf: PerfApp):
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    response = await post(perf, "generic", GENERIC_BODY, GENERIC_HEADERS)
    assert response.status_code == 202, response.text
    assert response.json()["outcome"] == "received"
    assert await perf.processed() == 1
    assert (await delivery_view(perf, response))["applied"] == 1
    [sale] = await ana_sales(perf)
    assert (sale["amount"], sale["currency"], sale["external_id"]) == (
        "12500.00",
        "EUR",
        "INV-2026-000871",
    )
    view = await perf.client.get(
        f"/v1/members/{perf.seeded.ana}/attainment",
        params={"period_id": str(perf.seeded.period_id)},
        headers=perf.as_rep(perf.seeded.ana),
    )
    assert view.json()[0]["achieved"] == "12500.00"
    [delivery] = await perf.deliveries()
    assert delivery.verified and delivery.outcome == "processed" and delivery.body == GENERIC_BODY


@pytest.mark.parametrize("index", [0, len(GENERIC_BODY) // 2, len(GENERIC_BODY) - 1])
async def test_generic_refuses_a_body_with_one_byte_changed(perf: PerfApp, index: int):
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    before = await perf.state()
    response = await post(perf, "generic", flip(GENERIC_BODY, index), GENERIC_HEADERS)
    await assert_refused(perf, response, before)
    # Refused: only a bounded audit record, never the delivery itself.
    assert await perf.deliveries() == []
    [record] = await perf.rejections()
    sent = flip(GENERIC_BODY, index)
    assert (record.reason, record.body_size) == ("rejected", len(sent))
    assert record.body_sha256 == hashlib.sha256(sent).hexdigest()
    assert record.body_head == sent[:2048] and record.headers["webhook-id"]


async def test_a_delivery_for_a_source_without_a_secret_leaves_no_body_behind(perf: PerfApp):
    await perf.seed()
    before = await perf.state()
    await assert_refused(perf, await post(perf, "generic", GENERIC_BODY, GENERIC_HEADERS), before)
    assert await perf.deliveries() == []
    [record] = await perf.rejections()
    assert (record.reason, record.body_head, record.body_size) == (
        "no_secret",
        b"",
        len(GENERIC_BODY),
    )


async def test_pipedrive_credentials_are_not_kept_in_the_audit_record(perf: PerfApp):
    await perf.seed()
    await perf.set_secret("pipedrive", PIPEDRIVE_SECRET)
    wrong = {**PIPEDRIVE_HEADERS, "Authorization": "Basic d3Jvbmc6d3Jvbmc="}
    assert (await post(perf, "pipedrive", PIPEDRIVE_BODY, wrong)).status_code == 401
    [record] = await perf.rejections()
    assert "authorization" not in record.headers and record.reason == "rejected"


async def test_past_the_cap_refusals_are_counted_but_not_recorded(perf_db: PerfApp):
    perf = perf_db
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    perf.runtime.settings.webhook_rejection_max_rows = 2
    for index in range(4):
        assert (
            await post(perf, "generic", flip(GENERIC_BODY, index), GENERIC_HEADERS)
        ).status_code == 401
    assert len(await perf.rejections()) == 2
    metrics = (await perf.client.get("/metrics")).text
    assert (
        'webhooks_rejected_total{reason="rejected",recorded="false",source="generic"} 2.0'
        in metrics
    )
    assert (
        'webhooks_rejected_total{reason="rejected",recorded="true",source="generic"} 2.0' in metrics
    )


async def test_audit_records_past_their_retention_are_purged(perf_db: PerfApp):
    perf = perf_db
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    await post(perf, "generic", flip(GENERIC_BODY, 0), GENERIC_HEADERS)
    perf.runtime.clock = lambda: FROZEN + timedelta(hours=24 * 7 - 1)
    assert await purge_webhook_rejections(perf.runtime) == 0
    perf.runtime.clock = lambda: FROZEN + timedelta(hours=24 * 7 + 1)
    assert await purge_webhook_rejections(perf.runtime) == 1
    assert await perf.rejections() == []


async def test_generic_refuses_a_secret_with_one_character_changed(perf: PerfApp):
    await perf.seed()
    await perf.set_secret("generic", "whsec_" + "YXR0YWluLWdlbmVyaWMtdGVzdC1zZWNyZXQtMDAwMg==")
    before = await perf.state()
    await assert_refused(perf, await post(perf, "generic", GENERIC_BODY, GENERIC_HEADERS), before)


async def test_generic_refuses_a_changed_or_stale_timestamp(perf: PerfApp):
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    before = await perf.state()
    changed = GENERIC_HEADERS | {"webhook-timestamp": "1796656001"}
    await assert_refused(perf, await post(perf, "generic", GENERIC_BODY, changed), before)
    perf.runtime.clock = lambda: FROZEN + timedelta(minutes=5, seconds=1)
    await assert_refused(perf, await post(perf, "generic", GENERIC_BODY, GENERIC_HEADERS), before)


async def test_a_redelivered_webhook_counts_once(perf: PerfApp):
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    first = await post(perf, "generic", GENERIC_BODY, GENERIC_HEADERS)
    await perf.processed()
    again = await post(perf, "generic", GENERIC_BODY, GENERIC_HEADERS)
    assert (first.status_code, again.status_code) == (202, 202)
    await perf.processed()
    assert {
        k: (await delivery_view(perf, again))[k] for k in ("outcome", "applied", "duplicates")
    } == {
        "outcome": "processed",
        "applied": 0,
        "duplicates": 1,
    }
    assert await perf.state() == {"sales": 1, "applied": 1, "achieved": 1_250_000}
    assert len(await perf.deliveries()) == 2  # both verified deliveries are logged


async def test_a_concurrent_duplicate_counts_once(perf_db: PerfApp):
    perf = perf_db
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    responses = await asyncio.gather(
        *(post(perf, "generic", GENERIC_BODY, GENERIC_HEADERS) for _ in range(2))
    )
    assert [r.status_code for r in responses] == [202, 202]
    await perf.processed()
    assert sorted([(await delivery_view(perf, r))["applied"] for r in responses]) == [0, 1]
    assert await perf.state() == {"sales": 1, "applied": 1, "achieved": 1_250_000}


async def test_secret_rotation_keeps_the_previous_secret_valid_for_the_overlap(perf: PerfApp):
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    await perf.set_secret("generic", "whsec_bmV3LXNlY3JldA==", overlap_seconds=60)
    response = await post(perf, "generic", GENERIC_BODY, GENERIC_HEADERS)
    assert response.status_code == 202, response.text
    perf.runtime.clock = lambda: FROZEN + timedelta(seconds=61)
    # Same id: would be a duplicate if it got through; it must be refused by signature age.
    fresh = GENERIC_HEADERS | {"webhook-timestamp": str(int(FROZEN.timestamp()) + 61)}
    refused = await post(perf, "generic", GENERIC_BODY, fresh)
    assert refused.status_code == 401


async def test_rotating_secrets_is_for_admins_only(perf: PerfApp):
    response = await perf.client.put(
        "/v1/webhook-secrets/generic", json={"secret": GENERIC_SECRET}, headers=perf.as_manager()
    )
    assert response.status_code == 403
    bad = await perf.client.put(
        "/v1/webhook-secrets/pipedrive", json={"secret": "no-colon"}, headers=perf.as_admin()
    )
    assert bad.status_code == 422


async def test_an_unmappable_owner_is_kept_unassigned_until_a_manager_assigns_it(perf: PerfApp):
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    body = GENERIC_BODY.replace(b"ana.ruiz@example.com", b"nobody@example.com")
    signed = _sign_generic(body, GENERIC_HEADERS["webhook-id"], "1796656000")
    assert (await post(perf, "generic", body, signed)).status_code == 202
    await perf.processed()
    listed = await perf.client.get(
        "/v1/sales", params={"unassigned": "true"}, headers=perf.as_manager()
    )
    [sale] = listed.json()["items"]
    assert sale["unassigned"] and sale["credits"] == []
    assert await perf.achieved_total() == 0
    assigned = await perf.client.post(
        f"/v1/sales/{sale['id']}/assignment",
        json={"member_id": str(perf.seeded.ben)},
        headers=perf.as_manager(),
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["credits"][0]["amount"] == "12500.00"
    assert await perf.achieved_total() == 1_250_000


async def test_a_sale_in_another_currency_is_kept_flagged_and_not_counted(perf: PerfApp):
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    body = GENERIC_BODY.replace(b'"EUR"', b'"USD"')
    signed = _sign_generic(body, GENERIC_HEADERS["webhook-id"], "1796656000")
    assert (await post(perf, "generic", body, signed)).status_code == 202
    await perf.processed()
    [sale] = await ana_sales(perf)
    assert sale["currency_mismatch"] is True and sale["currency"] == "USD"
    assert await perf.achieved_total() == 0


async def test_amount_change_adjusts_and_reversal_reverses_the_same_sale(perf: PerfApp):
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    assert (await post(perf, "generic", GENERIC_BODY, GENERIC_HEADERS)).status_code == 202
    payload = json.loads(GENERIC_BODY)
    updated = json.dumps(payload | {"type": "sale.updated", "amount": "15000.00"}).encode()
    await post(perf, "generic", updated, _sign_generic(updated, "msg_update", "1796656000"))
    await perf.processed()
    assert await perf.state() == {"sales": 1, "applied": 2, "achieved": 1_500_000}
    refund = json.dumps({"type": "sale.refunded", "external_id": payload["external_id"]}).encode()
    await post(perf, "generic", refund, _sign_generic(refund, "msg_refund", "1796656000"))
    await perf.processed()
    [sale] = await ana_sales(perf)
    assert sale["status"] == "reversed" and sale["version"] == 3
    assert await perf.achieved_total() == 0


async def test_a_malformed_delivery_is_stored_marked_malformed_and_changes_nothing(perf: PerfApp):
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    body = b'{"type": "sale.exploded"}'
    response = await post(perf, "generic", body, _sign_generic(body, "msg_bad", "1796656000"))
    assert response.status_code == 202  # authentic, so stored: parsing is the processor's job
    await perf.processed()
    seen = await delivery_view(perf, response)
    assert (seen["outcome"], seen["applied"]) == ("malformed", 0)
    assert "unknown type" in seen["error"]
    assert await perf.state() == {"sales": 0, "applied": 0, "achieved": 0}


def _sign_generic(body: bytes, message_id: str, timestamp: str) -> dict[str, str]:
    # The vendor's reference library as an independent sender.
    signature = Webhook(GENERIC_SECRET).sign(
        message_id, datetime.fromtimestamp(int(timestamp), UTC), body.decode()
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature,
        "content-type": "application/json",
    }


# -- hubspot --------------------------------------------------------------------------------


async def _hubspot_ready(perf: PerfApp, fake: dict) -> None:
    perf.runtime.settings.hubspot_api_base_url = fake["url"]
    await perf.seed()
    await perf.set_secret("hubspot", HUBSPOT_SECRET, api_token=HUBSPOT_TOKEN)


async def test_hubspot_vector_is_verified_on_the_public_url_and_the_deal_is_fetched(
    perf: PerfApp, fake_hubspot: dict
):
    await _hubspot_ready(perf, fake_hubspot)
    response = await post(perf, "hubspot", HUBSPOT_BODY, HUBSPOT_HEADERS)
    assert response.status_code == 202, response.text
    assert fake_hubspot["calls"] == []  # HubSpot has its answer before any call back
    await perf.processed()
    [call] = fake_hubspot["calls"]
    assert call["auth"] == f"Bearer {HUBSPOT_TOKEN}"
    [sale] = await ana_sales(perf)
    assert (sale["amount"], sale["external_id"], sale["owner_ref"]) == (
        "18250.00",
        "18930512211",
        "4021113",
    )


@pytest.mark.parametrize("index", [0, len(HUBSPOT_BODY) // 2, len(HUBSPOT_BODY) - 2])
async def test_hubspot_refuses_a_body_with_one_byte_changed(
    perf: PerfApp, fake_hubspot: dict, index: int
):
    await _hubspot_ready(perf, fake_hubspot)
    before = await perf.state()
    await assert_refused(
        perf, await post(perf, "hubspot", flip(HUBSPOT_BODY, index), HUBSPOT_HEADERS), before
    )
    assert fake_hubspot["calls"] == []


async def test_hubspot_refuses_a_changed_secret_or_timestamp(perf: PerfApp, fake_hubspot: dict):
    perf.runtime.settings.hubspot_api_base_url = fake_hubspot["url"]
    await perf.seed()
    await perf.set_secret("hubspot", flip_text(HUBSPOT_SECRET, 3), api_token=HUBSPOT_TOKEN)
    before = await perf.state()
    await assert_refused(perf, await post(perf, "hubspot", HUBSPOT_BODY, HUBSPOT_HEADERS), before)
    await perf.set_secret("hubspot", HUBSPOT_SECRET, api_token=HUBSPOT_TOKEN, overlap_seconds=0)
    changed = HUBSPOT_HEADERS | {"X-HubSpot-Request-Timestamp": "1796656000124"}
    await assert_refused(perf, await post(perf, "hubspot", HUBSPOT_BODY, changed), before)
    assert fake_hubspot["calls"] == []


async def test_a_hubspot_api_failure_waits_as_fetching_and_is_retried_with_backoff(
    perf: PerfApp, fake_hubspot: dict
):
    """HubSpot gets its 202 at once; the processor retries the fetch after its backoff."""
    await _hubspot_ready(perf, fake_hubspot)
    fake_hubspot["state"]["status"] = 502
    response = await post(perf, "hubspot", HUBSPOT_BODY, HUBSPOT_HEADERS)
    assert response.status_code == 202
    await perf.processed()
    seen = await delivery_view(perf, response)
    assert (seen["outcome"], seen["attempts"]) == ("fetching", 1)
    assert "502" in seen["error"]
    fake_hubspot["state"]["status"] = 200
    assert await perf.processed() == 0  # the retry is not due yet
    perf.runtime.clock = lambda: FROZEN + timedelta(seconds=3)
    assert await perf.processed() == 1
    assert (await delivery_view(perf, response))["outcome"] == "processed"
    assert await perf.state() == {"sales": 1, "applied": 1, "achieved": 1_825_000}


async def test_a_delivery_failed_after_its_fetch_attempts_is_reprocessed_on_request(
    perf: PerfApp, fake_hubspot: dict
):
    """Past the last attempt the delivery is failed; reprocess queues it and it then applies."""
    await _hubspot_ready(perf, fake_hubspot)
    perf.runtime.settings.hubspot_fetch_attempts = 1
    fake_hubspot["state"]["status"] = 503
    response = await post(perf, "hubspot", HUBSPOT_BODY, HUBSPOT_HEADERS)
    await perf.processed()
    assert (await delivery_view(perf, response))["outcome"] == "failed"
    delivery_id = response.json()["delivery_id"]
    path = f"/v1/webhook-deliveries/{delivery_id}/reprocess"
    assert (await perf.client.post(path, headers=perf.as_manager())).status_code == 403
    fake_hubspot["state"]["status"] = 200
    queued = await perf.client.post(path, headers=perf.as_admin())
    assert (queued.status_code, queued.json()["outcome"]) == (202, "received")
    await perf.processed()
    assert (await delivery_view(perf, response))["outcome"] == "processed"
    assert await perf.state() == {"sales": 1, "applied": 1, "achieved": 1_825_000}
    again = await perf.client.post(path, headers=perf.as_admin())
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


# -- pipedrive ------------------------------------------------------------------------------


async def test_pipedrive_vector_becomes_a_sale_of_the_mapped_owner(perf: PerfApp):
    await perf.seed()
    await perf.set_secret("pipedrive", PIPEDRIVE_SECRET)
    response = await post(perf, "pipedrive", PIPEDRIVE_BODY, PIPEDRIVE_HEADERS)
    assert response.status_code == 202, response.text
    await perf.processed()
    [sale] = await ana_sales(perf)
    assert (sale["amount"], sale["external_id"]) == ("9600.00", "4417")
    again = await post(perf, "pipedrive", PIPEDRIVE_BODY, PIPEDRIVE_HEADERS)
    await perf.processed()
    assert (await delivery_view(perf, again))["duplicates"] == 1


async def test_pipedrive_refuses_changed_credentials_or_secret(perf: PerfApp):
    # Pipedrive signs nothing: its Basic credentials are the secret; no timestamp to change.
    await perf.seed()
    await perf.set_secret("pipedrive", PIPEDRIVE_SECRET)
    before = await perf.state()
    header = PIPEDRIVE_HEADERS["Authorization"]
    tampered = base64.b64encode(flip(base64.b64decode(header[6:]), 20)).decode()
    changed = PIPEDRIVE_HEADERS | {"Authorization": f"Basic {tampered}"}
    await assert_refused(perf, await post(perf, "pipedrive", PIPEDRIVE_BODY, changed), before)
    await perf.set_secret("pipedrive", flip_text(PIPEDRIVE_SECRET, 25), overlap_seconds=0)
    await assert_refused(
        perf, await post(perf, "pipedrive", PIPEDRIVE_BODY, PIPEDRIVE_HEADERS), before
    )


# -- salesforce -----------------------------------------------------------------------------


async def test_salesforce_vector_is_acknowledged_in_soap_and_recorded(perf: PerfApp):
    await perf.seed()
    await perf.set_secret("salesforce", SALESFORCE_SECRET)
    headers = {"content-type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    response = await post(perf, "salesforce", SALESFORCE_BODY, headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert b"<Ack>true</Ack>" in response.content
    await perf.processed()
    [sale] = await ana_sales(perf)
    assert (sale["amount"], sale["currency"]) == ("27500.00", "EUR")
    assert sale["closed_at"].startswith("2026-12-07T00:00:00")


async def test_salesforce_refuses_a_changed_organization_id_or_secret(perf: PerfApp):
    await perf.seed()
    await perf.set_secret("salesforce", SALESFORCE_SECRET)
    before = await perf.state()
    at = SALESFORCE_BODY.index(b"00D5g000004XyZaEAK") + 5
    headers = {"content-type": "text/xml"}
    await assert_refused(
        perf, await post(perf, "salesforce", flip(SALESFORCE_BODY, at), headers), before
    )
    await perf.set_secret("salesforce", flip_text(SALESFORCE_SECRET, 7), overlap_seconds=0)
    await assert_refused(perf, await post(perf, "salesforce", SALESFORCE_BODY, headers), before)
