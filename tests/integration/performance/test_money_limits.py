"""Sales at production sizes, up to the documented maximum, by hand and by webhook, on both databases."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from services.performance.adapters.orm import Target
from shared.money import MAX_MINOR, max_amount
from tests.integration.performance.conftest import PerfApp
from tests.integration.performance.test_webhooks import (
    GENERIC_BODY,
    GENERIC_SECRET,
    _sign_generic,
    post,
)

pytestmark = pytest.mark.integration


async def _manual(perf: PerfApp, amount: str, currency: str = "EUR"):
    body = {
        "amount": amount,
        "currency": currency,
        "closed_at": "2026-11-02T10:00:00Z",
        "credits": [{"member_id": str(perf.seeded.ana), "percent": "100"}],
    }
    return await perf.client.post("/v1/sales", json=body, headers=perf.as_manager())


def _generic(amount: str, currency: str = "EUR", message_id: str = "msg_big") -> tuple[bytes, dict]:
    body = json.dumps(json.loads(GENERIC_BODY) | {"amount": amount, "currency": currency}).encode()
    return body, _sign_generic(body, message_id, "1796656000")


@pytest.mark.parametrize("amount", ["30000000.00", str(max_amount("EUR"))])
async def test_a_large_manual_sale_counts_exactly(perf_db: PerfApp, amount: str):
    await perf_db.seed()
    r = await _manual(perf_db, amount)
    assert r.status_code == 201, r.text
    assert r.json()["amount"] == amount and r.json()["credits"][0]["amount"] == amount
    assert await perf_db.achieved_total() == int(amount.replace(".", ""))


async def test_a_manual_sale_beyond_the_maximum_is_a_422_naming_the_field(perf_db: PerfApp):
    await perf_db.seed()
    r = await _manual(perf_db, "10000000000000.01")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (r.json()["field"], r.json()["maximum"]) == ("amount", "10000000000000.00")
    assert await perf_db.state() == {"sales": 0, "applied": 0, "achieved": 0}


async def test_two_sales_at_the_maximum_still_add_up(perf_db: PerfApp):
    await perf_db.seed()
    for _ in range(2):
        assert (await _manual(perf_db, str(max_amount("EUR")))).status_code == 201
    attainment = await perf_db.client.get(
        f"/v1/teams/{perf_db.seeded.team_id}/periods/{perf_db.seeded.period_id}/attainment",
        headers=perf_db.as_manager(),
    )
    assert attainment.status_code == 200, attainment.text
    achieved = {row["member_id"]: row["achieved"] for row in attainment.json()["items"]}
    assert achieved[str(perf_db.seeded.ana)] == "20000000000000.00"


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("30000000.00", "EUR", 3_000_000_000),
        ("5000000000", "JPY", 5_000_000_000),  # billions without minor units (kept, flagged)
        (str(MAX_MINOR), "JPY", MAX_MINOR),
    ],
)
async def test_a_large_signed_webhook_sale_is_accepted(
    perf_db: PerfApp, amount: str, currency: str, minor: int
):
    await perf_db.seed()
    await perf_db.set_secret("generic", GENERIC_SECRET)
    body, headers = _generic(amount, currency)
    r = await post(perf_db, "generic", body, headers)
    assert r.status_code == 202, r.text
    await perf_db.processed()
    sales = await perf_db.client.get("/v1/sales", headers=perf_db.as_admin())
    [sale] = sales.json()["items"]
    assert (sale["amount"], sale["currency"]) == (amount, currency)
    counted = minor if currency == "EUR" else 0  # another currency than the team's is not counted
    assert await perf_db.achieved_total() == counted


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("10000000000000.01", "EUR"), (str(MAX_MINOR + 1), "JPY"), ("1E+400000", "EUR")],
)
async def test_a_signed_webhook_beyond_the_maximum_is_marked_malformed_for_good(
    perf_db: PerfApp, amount: str, currency: str
):
    await perf_db.seed()
    await perf_db.set_secret("generic", GENERIC_SECRET)
    body, headers = _generic(amount, currency)
    r = await post(perf_db, "generic", body, headers)
    # Authentic, so stored and acknowledged (no CRM retries); the processor refuses it for good.
    assert r.status_code == 202, r.text
    await perf_db.processed()
    [delivery] = await perf_db.deliveries()
    assert delivery.outcome == "malformed"
    assert delivery.error is not None and delivery.error.startswith("amount ")
    assert await perf_db.state() == {"sales": 0, "applied": 0, "achieved": 0}


async def test_a_target_fact_beyond_one_amounts_maximum_is_stored_exactly(perf_db: PerfApp):
    """Store a rebalanced target above MAX_MINOR from goals' fact instead of dead-lettering it."""
    s = await perf_db.seed(targets={"ana": "12000000000000.00", "ben": str(max_amount("EUR"))})
    async with perf_db.runtime.engine.connect() as conn:
        rows = await conn.execute(sa.select(Target.member_id, Target.amount_minor))
        stored = dict(rows.all())
    assert stored == {s.ana: 1_200_000_000_000_000, s.ben: MAX_MINOR}
