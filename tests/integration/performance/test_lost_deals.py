"""Lost deals and HubSpot pipelines through intake and the delivery processor, on both DBs."""

from __future__ import annotations

import json

import pytest

from tests.integration.performance.conftest import CRM, PerfApp
from tests.integration.performance.test_sales_and_pace import outbox_payloads
from tests.integration.performance.test_webhooks import (
    GENERIC_SECRET,
    HUBSPOT_HEADERS,
    HUBSPOT_SECRET,
    HUBSPOT_TOKEN,
    _sign_generic,
    ana_sales,
    post,
)

pytestmark = pytest.mark.integration

CUSTOM_BODY = (CRM / "hubspot_deal_custom_pipeline.json").read_bytes()
CUSTOM_HEADERS = HUBSPOT_HEADERS | {
    "X-HubSpot-Signature-v3": "SDqJnw6uRzvWWGuY4JtDc7GkiNnlOlrDlywy7ybe6dY="
}
LOST_BODY = (CRM / "generic_sale_lost.json").read_bytes()
LOST_HEADERS = {
    "webhook-id": "msg_2ZpWq1c7M9tH4kR8xVb3nY6eJ0t",
    "webhook-timestamp": "1796656000",
    "webhook-signature": "v1,cUYQpr0XNSpO/CgEmwLdtvf2dbCZSVvEiuhvzRlqG1Y=",
    "content-type": "application/json",
}


async def _hubspot_custom_pipeline(perf: PerfApp, fake: dict) -> dict[str, dict]:
    """Seed, connect HubSpot, serve both custom-pipeline deals; their sales once processed."""
    perf.runtime.settings.hubspot_api_base_url = fake["url"]
    fake["deals"] |= {
        "18930577001": (CRM / "hubspot_deal_object_custom_won.json").read_bytes(),
        "18930577002": (CRM / "hubspot_deal_object_custom_lost.json").read_bytes(),
    }
    await perf.seed()
    await perf.set_secret("hubspot", HUBSPOT_SECRET, api_token=HUBSPOT_TOKEN)
    assert (await post(perf, "hubspot", CUSTOM_BODY, CUSTOM_HEADERS)).status_code == 202
    await perf.processed()
    return {s["external_id"]: s for s in await ana_sales(perf)}


async def test_a_custom_pipeline_win_counts_and_its_loss_is_a_lost_deal(
    perf_db: PerfApp, fake_hubspot: dict
):
    sales = await _hubspot_custom_pipeline(perf_db, fake_hubspot)
    won, lost = sales["18930577001"], sales["18930577002"]
    assert (won["status"], won["amount"]) == ("active", "24000.00")
    assert (lost["status"], lost["amount"], lost["competitor"]) == ("lost", "31000.00", "Globex")
    assert lost["loss_reasons"] == ["Price: Globex offered 20% off a 2-year term"]
    assert await perf_db.achieved_total() == 2_400_000  # the lost deal never counts
    [fact] = await outbox_payloads(perf_db, "sale_lost")
    assert (fact["external_id"], fact["competitor"], fact["amount"]) == (
        "18930577002",
        "Globex",
        "31000.00",
    )
    assert fact["reasons"] == ["Price: Globex offered 20% off a 2-year term"]


async def test_the_org_stage_map_overrides_hubspots_flags(perf_db: PerfApp, fake_hubspot: dict):
    put = await perf_db.client.put(
        "/v1/crm-settings/hubspot", json={"won_stages": ["87654322"]}, headers=perf_db.as_admin()
    )
    assert put.status_code == 200, put.text
    got = await perf_db.client.get("/v1/crm-settings/hubspot", headers=perf_db.as_admin())
    assert (got.json()["won_stages"], got.json()["lost_stages"]) == (["87654322"], None)
    sales = await _hubspot_custom_pipeline(perf_db, fake_hubspot)
    assert {s["status"] for s in sales.values()} == {"active"}
    assert await perf_db.achieved_total() == 2_400_000 + 3_100_000


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({"won_stages": ["1"], "lost_stages": ["1"]}, 422, id="won-and-lost"),
        pytest.param({"won_stages": [" "]}, 422, id="blank-stage"),
        pytest.param({"won_stages": "87654321"}, 422, id="not-a-list"),
    ],
)
async def test_a_stage_map_it_cannot_use_is_refused_and_changes_nothing(
    perf: PerfApp, body: dict, status: int
):
    response = await perf.client.put("/v1/crm-settings/hubspot", json=body, headers=perf.as_admin())
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    got = await perf.client.get("/v1/crm-settings/hubspot", headers=perf.as_admin())
    assert got.json() == {"won_stages": None, "lost_stages": None, "updated_at": None}


async def test_only_admins_set_or_read_the_stage_map(perf: PerfApp):
    await perf.seed()
    body = {"won_stages": ["87654321"]}
    put = await perf.client.put("/v1/crm-settings/hubspot", json=body, headers=perf.as_manager())
    assert put.status_code == 403
    assert (
        await perf.client.get("/v1/crm-settings/hubspot", headers=perf.as_manager())
    ).status_code == 403


async def test_a_lost_deal_won_later_counts_and_lost_again_stops_counting(perf_db: PerfApp):
    await perf_db.seed()
    await perf_db.set_secret("generic", GENERIC_SECRET)
    assert (await post(perf_db, "generic", LOST_BODY, LOST_HEADERS)).status_code == 202
    await perf_db.processed()
    [sale] = await ana_sales(perf_db)
    assert (sale["status"], sale["version"], sale["competitor"]) == ("lost", 1, "Globex")
    assert sale["loss_reasons"] == ["price", "contract length"]
    assert await perf_db.achieved_total() == 0
    payload = json.loads(LOST_BODY)
    won = json.dumps(payload | {"type": "sale.closed", "reasons": None}).encode()
    await post(perf_db, "generic", won, _sign_generic(won, "msg_won", "1796656000"))
    await perf_db.processed()
    [sale] = await ana_sales(perf_db)
    assert (sale["status"], sale["version"], sale["loss_reasons"]) == ("active", 2, [])
    assert await perf_db.achieved_total() == 1_580_000
    lost = json.dumps(payload | {"reasons": ["budget"]}).encode()
    await post(perf_db, "generic", lost, _sign_generic(lost, "msg_lost_again", "1796656000"))
    await perf_db.processed()
    [sale] = await ana_sales(perf_db)
    assert (sale["status"], sale["version"], sale["loss_reasons"]) == ("lost", 3, ["budget"])
    assert await perf_db.achieved_total() == 0
    assert [f["version"] for f in await outbox_payloads(perf_db, "sale_lost")] == [1, 3]
    [recorded] = await outbox_payloads(perf_db, "sale_recorded")
    assert recorded["competitor"] == "Globex"


async def test_a_repeated_lost_deal_changes_nothing_and_a_reopened_one_is_reversed(
    perf_db: PerfApp,
):
    await perf_db.seed()
    await perf_db.set_secret("generic", GENERIC_SECRET)
    await post(perf_db, "generic", LOST_BODY, LOST_HEADERS)
    await post(perf_db, "generic", LOST_BODY, _sign_generic(LOST_BODY, "msg_again", "1796656000"))
    await perf_db.processed()
    [sale] = await ana_sales(perf_db)
    assert (sale["status"], sale["version"]) == ("lost", 1)
    reopen = json.dumps({"type": "sale.reopened", "external_id": "OPP-2026-000912"}).encode()
    await post(perf_db, "generic", reopen, _sign_generic(reopen, "msg_reopen", "1796656000"))
    await perf_db.processed()
    [sale] = await ana_sales(perf_db)
    assert (sale["status"], sale["version"]) == ("reversed", 2)
    assert len(await outbox_payloads(perf_db, "sale_reversed")) == 1
    assert await perf_db.achieved_total() == 0


async def test_an_unassigned_lost_deal_assigned_by_a_manager_stays_lost(perf_db: PerfApp):
    await perf_db.seed()
    await perf_db.set_secret("generic", GENERIC_SECRET)
    body = LOST_BODY.replace(b"ana.ruiz@example.com", b"nobody@example.com")
    await post(perf_db, "generic", body, _sign_generic(body, "msg_nobody", "1796656000"))
    await perf_db.processed()
    listed = await perf_db.client.get(
        "/v1/sales", params={"unassigned": "true"}, headers=perf_db.as_admin()
    )
    [sale] = listed.json()["items"]
    assert (sale["status"], sale["unassigned"]) == ("lost", True)
    assigned = await perf_db.client.post(
        f"/v1/sales/{sale['id']}/assignment",
        json={"member_id": str(perf_db.seeded.ben)},
        headers=perf_db.as_manager(),
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["status"] == "lost"
    assert await perf_db.achieved_total() == 0
    [fact] = await outbox_payloads(perf_db, "sale_lost")  # announced once it has a team
    assert (fact["competitor"], fact["credits"][0]["member_id"]) == (
        "Globex",
        str(perf_db.seeded.ben),
    )
    assert await outbox_payloads(perf_db, "sale_recorded") == []


async def test_a_batch_mixing_lost_and_won_deals_applies_each_change_once_in_order(
    perf_db: PerfApp,
):
    """Won, lost, won, then the first one reversed, all in one processor batch."""
    await perf_db.seed()
    await perf_db.set_secret("generic", GENERIC_SECRET)
    payload = json.loads(LOST_BODY)
    won = payload | {"type": "sale.closed", "competitor": None, "reasons": None}
    changes = [
        ("msg_mix_1", won | {"external_id": "OPP-MIX-1", "amount": "1000.00"}),
        ("msg_mix_2", payload | {"external_id": "OPP-MIX-2"}),
        ("msg_mix_3", won | {"external_id": "OPP-MIX-3", "amount": "2500.00"}),
        ("msg_mix_4", {"type": "sale.reopened", "external_id": "OPP-MIX-1"}),
    ]
    for message_id, change in changes:
        body = json.dumps(change).encode()
        headers = _sign_generic(body, message_id, "1796656000")
        assert (await post(perf_db, "generic", body, headers)).status_code == 202
    await perf_db.processed()
    sales = {s["external_id"]: s["status"] for s in await ana_sales(perf_db)}
    assert sales == {"OPP-MIX-1": "reversed", "OPP-MIX-2": "lost", "OPP-MIX-3": "active"}
    assert await perf_db.achieved_total() == 250_000  # only the third deal counts
    assert [f["external_id"] for f in await outbox_payloads(perf_db, "sale_recorded")] == [
        "OPP-MIX-1",
        "OPP-MIX-3",
    ]
    assert [f["external_id"] for f in await outbox_payloads(perf_db, "sale_lost")] == ["OPP-MIX-2"]
    assert {d.outcome for d in await perf_db.deliveries()} == {"processed"}
