"""Connection health: what an admin sees of each CRM source after good and bad deliveries."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.performance.adapters.orm import WebhookRefusal
from services.performance.handlers.jobs import purge_webhook_rejections
from tests.integration.performance.conftest import FROZEN, PerfApp
from tests.integration.performance.test_webhooks import (
    GENERIC_BODY,
    GENERIC_HEADERS,
    GENERIC_SECRET,
    PIPEDRIVE_BODY,
    PIPEDRIVE_HEADERS,
    PIPEDRIVE_SECRET,
    _sign_generic,
    flip,
    post,
)

pytestmark = pytest.mark.integration
ZERO = {"received": 0, "fetching": 0, "processed": 0, "malformed": 0, "failed": 0, "refused": 0}


async def status(perf: PerfApp) -> dict[str, dict]:
    response = await perf.client.get("/v1/crm/status", headers=perf.as_admin())
    assert response.status_code == 200, response.text
    return {s["source"]: s for s in response.json()["sources"]}


def at(perf: PerfApp, seconds: float) -> None:
    """Move the frozen clock (still inside the vectors' timestamp tolerance for small moves)."""
    perf.runtime.clock = lambda: FROZEN + timedelta(seconds=seconds)


async def test_a_new_org_sees_every_source_unconnected(perf_db: PerfApp):
    seen = await status(perf_db)
    assert sorted(seen) == ["generic", "hubspot", "pipedrive", "salesforce"]
    for source in seen.values():
        assert source["secret_set"] is False and source["last_delivery"] is None
        assert source["last_24h"] == ZERO and source["last_error"] is None


async def test_status_after_good_malformed_and_refused_deliveries(perf_db: PerfApp):
    perf = perf_db
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    await perf.set_secret("pipedrive", PIPEDRIVE_SECRET)
    good = await post(perf, "generic", GENERIC_BODY, GENERIC_HEADERS)
    assert good.status_code == 202, good.text
    await perf.processed()
    at(perf, 1)
    malformed_body = b'{"type": "sale.exploded"}'
    malformed = await post(
        perf, "generic", malformed_body, _sign_generic(malformed_body, "msg_bad", "1796656000")
    )
    await perf.processed()
    at(perf, 2)
    assert (await post(perf, "generic", flip(GENERIC_BODY, 5), GENERIC_HEADERS)).status_code == 401
    assert (await post(perf, "pipedrive", PIPEDRIVE_BODY, PIPEDRIVE_HEADERS)).status_code == 202
    wrong = {**PIPEDRIVE_HEADERS, "Authorization": "Basic d3Jvbmc6d3Jvbmc="}
    assert (await post(perf, "pipedrive", PIPEDRIVE_BODY, wrong)).status_code == 401
    await perf.processed()

    seen = await status(perf)
    generic = seen["generic"]
    assert generic["secret_set"] is True
    assert generic["last_delivery"]["delivery_id"] == malformed.json()["delivery_id"]
    assert generic["last_delivery"]["outcome"] == "malformed"
    assert generic["last_24h"] == ZERO | {"processed": 1, "malformed": 1, "refused": 1}
    # The refusal (at +2 s) is newer than the malformed delivery (processed at +1 s).
    assert generic["last_error"]["kind"] == "rejected"
    assert generic["last_error"]["delivery_id"] is None
    pipedrive = seen["pipedrive"]
    assert pipedrive["last_24h"] == ZERO | {"processed": 1, "refused": 1}
    assert pipedrive["last_error"]["kind"] == "rejected"
    assert seen["hubspot"]["secret_set"] is False and seen["hubspot"]["last_24h"] == ZERO

    # A day later the counts are empty; the last delivery and the last error are still known.
    at(perf, 2 + 25 * 3600)
    later = (await status(perf))["generic"]
    assert later["last_24h"] == ZERO
    assert later["last_delivery"]["delivery_id"] == malformed.json()["delivery_id"]
    assert later["last_error"]["kind"] == "rejected"


async def test_the_last_error_names_the_failed_delivery_when_it_is_the_newest(perf_db: PerfApp):
    perf = perf_db
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    assert (await post(perf, "generic", flip(GENERIC_BODY, 5), GENERIC_HEADERS)).status_code == 401
    at(perf, 3)
    body = b'{"type": "sale.exploded"}'
    malformed = await post(perf, "generic", body, _sign_generic(body, "msg_bad", "1796656000"))
    await perf.processed()
    error = (await status(perf))["generic"]["last_error"]
    assert (error["kind"], error["delivery_id"]) == ("malformed", malformed.json()["delivery_id"])
    assert "unknown type" in error["message"]


async def test_refusals_are_counted_in_one_row_per_hour_and_never_for_unknown_orgs(
    perf_db: PerfApp,
):
    perf = perf_db
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    for index in range(5):
        assert (
            await post(perf, "generic", flip(GENERIC_BODY, index), GENERIC_HEADERS)
        ).status_code == 401
    # Anyone can post to a made-up org: that leaves no counter row (and no secret means none).
    stranger = await perf.client.post(
        f"/v1/webhooks/{uuid.uuid4()}/generic", content=GENERIC_BODY, headers=GENERIC_HEADERS
    )
    assert stranger.status_code == 401
    assert await perf.count(WebhookRefusal) == 1
    assert (await status(perf))["generic"]["last_24h"]["refused"] == 5
    # Counters go with the refusal audit records, once past their retention.
    at(perf, 8 * 24 * 3600)
    await purge_webhook_rejections(perf.runtime)
    assert await perf.count(WebhookRefusal) == 0


async def test_only_admins_see_connection_health(perf_db: PerfApp):
    perf = perf_db
    s = await perf.seed()
    for headers in (perf.as_manager(), perf.as_rep(s.ana)):
        response = await perf.client.get("/v1/crm/status", headers=headers)
        assert response.status_code == 403
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await perf.client.get("/v1/crm/status")).status_code == 401
