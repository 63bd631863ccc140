"""Bulk sale imports on SQLite and PostgreSQL: stored on the request, applied like webhooks.

Workers are off: the test drives the processor (``perf.processed()``), as for deliveries.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import sqlalchemy as sa

from services.performance.adapters.orm import EvaluationDue, Sale
from services.performance.handlers import imports
from tests.harness import as_admin
from tests.integration.performance.conftest import ORG, PerfApp
from tests.integration.performance.test_delivery_processor import _app, _ready, _sale
from tests.integration.performance.test_webhooks import post

CLOSED_AT = "2026-11-16T10:00:00Z"


def _ndjson(rows: list[tuple[str, str]]) -> bytes:
    return b"".join(
        json.dumps(
            {
                "external_id": ext,
                "amount": amount,
                "currency": "EUR",
                "closed_at": CLOSED_AT,
                "owner": {"email": "ana.ruiz@example.com"},
            }
        ).encode()
        + b"\n"
        for ext, amount in rows
    )


async def _import(perf: PerfApp, body: bytes, content_type: str) -> dict:
    response = await perf.client.post(
        "/v1/sales/imports", content=body, headers={**perf.as_admin(), "content-type": content_type}
    )
    assert response.status_code == 202, response.text
    return response.json()


async def _view(perf: PerfApp, import_id: str) -> dict:
    response = await perf.client.get(f"/v1/sales/imports/{import_id}", headers=perf.as_admin())
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_import_mixed_with_webhooks_counts_each_deal_once(perf_db: PerfApp):
    """3,000 imported deals, 300 of them also by webhook before and 300 after: 3,000 sales."""
    perf = perf_db
    await _ready(perf)
    rows = [(f"INV-{i}", "100.00") for i in range(3000)]
    for i in range(300):  # delivered by webhook before the import is applied
        assert (await post(perf, "generic", *_sale(f"msg_pre_{i}", ext=f"INV-{i}"))).status_code
    accepted = await _import(perf, _ndjson(rows), "application/x-ndjson")
    assert (accepted["state"], accepted["received"]) == ("queued", 3000)
    await perf.processed()
    view = await _view(perf, accepted["import_id"])
    assert (view["state"], view["received"], view["failed"], view["errors"]) == (
        "finished",
        3000,
        0,
        [],
    )
    assert (view["applied"], view["duplicates"]) == (2700, 300)
    for i in range(2700, 3000):  # and delivered by webhook after the import applied them
        assert (await post(perf, "generic", *_sale(f"msg_post_{i}", ext=f"INV-{i}"))).status_code
    await perf.processed()
    state = await perf.state()
    assert (state["sales"], state["achieved"]) == (3000, 3000 * 10_000)
    again = await _import(perf, _ndjson(rows[:10]), "application/x-ndjson")
    await perf.processed()
    assert (await _view(perf, again["import_id"]))["duplicates"] == 10
    assert (await perf.state())["sales"] == 3000


async def test_a_csv_with_bad_rows_reports_them_by_line_and_applies_the_rest(perf_db: PerfApp):
    """Bad amount, currency, date or missing id: refused with their line; good rows apply."""
    perf = perf_db
    await _ready(perf)
    body = (
        "external_id,amount,currency,closed_at,owner_email\r\n"
        f"INV-1,250.00,EUR,{CLOSED_AT},ana.ruiz@example.com\r\n"
        f"INV-2,not-money,EUR,{CLOSED_AT},ana.ruiz@example.com\r\n"
        f"INV-3,10.00,EURO,{CLOSED_AT},ana.ruiz@example.com\r\n"
        "\r\n"
        "INV-4,10.00,EUR,yesterday,ana.ruiz@example.com\r\n"
        f",10.00,EUR,{CLOSED_AT},ana.ruiz@example.com\r\n"
        f"INV-5,10.00,EUR,{CLOSED_AT}\r\n"
        f'"INV-6","1,000.50",EUR,{CLOSED_AT},ana.ruiz@example.com\r\n'
        f"INV-7,750.00,EUR,{CLOSED_AT},ana.ruiz@example.com\r\n"
    ).encode()
    accepted = await _import(perf, body, "text/csv; charset=utf-8")
    await perf.processed()
    view = await _view(perf, accepted["import_id"])
    assert [e["line"] for e in view["errors"]] == [3, 4, 6, 7, 8, 9]
    assert "amount" in view["errors"][0]["error"]
    assert "ISO 4217" in view["errors"][1]["error"]
    assert (view["received"], view["applied"], view["failed"]) == (8, 2, 6)
    state = await perf.state()
    assert (state["sales"], state["achieved"]) == (2, 100_000)


async def test_evaluations_of_touched_teams_wait_until_the_import_has_finished(
    perf_db: PerfApp,
):
    """Half applied: the team's evaluation is held (even past the max delay); finished: due."""
    perf = perf_db
    await _ready(perf)
    rows = _ndjson([(f"INV-{i}", "10.00") for i in range(4)])
    accepted = await _import(perf, rows, "application/x-ndjson")
    first = await imports.process_import_batch(
        uow_factory=perf.runtime.uow, now=perf.runtime.clock(), limit=2
    )
    assert first == 2
    assert (await _view(perf, accepted["import_id"]))["state"] == "running"
    later = perf.runtime.clock() + timedelta(days=1)
    async with perf.runtime.uow() as uow:
        held = await uow.repo.settled_evaluations(quiet_since=later, waiting_since=later, limit=10)
    assert held == []
    await perf.processed()
    assert (await _view(perf, accepted["import_id"]))["state"] == "finished"
    async with perf.runtime.uow() as uow:
        due = await uow.repo.settled_evaluations(quiet_since=later, waiting_since=later, limit=10)
    assert [(d.team_id, d.held_by) for d in due] == [(perf.seeded.team_id, None)]
    async with perf.runtime.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(Sale))).scalar_one() == 4
        marks = (await conn.execute(sa.select(EvaluationDue.marks))).scalar_one()
    assert marks == 2  # one mark per batch, not per sale


async def test_imports_are_for_admins_and_refuse_other_media_types(perf: PerfApp):
    """A manager gets 403 problem+json, JSON gets 415, another org's import is 404."""
    await _ready(perf)
    body = _ndjson([("INV-1", "1.00")])
    for headers, status in (
        ({**perf.as_manager(), "content-type": "application/x-ndjson"}, 403),
        ({**perf.as_admin(), "content-type": "application/json"}, 415),
    ):
        response = await perf.client.post("/v1/sales/imports", content=body, headers=headers)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    accepted = await _import(perf, body, "application/x-ndjson")
    other = as_admin(uuid.UUID(int=ORG.int + 1))
    missing = await perf.client.get(f"/v1/sales/imports/{accepted['import_id']}", headers=other)
    assert missing.status_code == 404
    assert (await perf.state())["sales"] == 0


async def test_an_import_stored_before_a_stop_is_applied_by_the_next_process(db_url: str):
    """202 means stored: the next process applies it; a deal twice in the file counts once."""
    rows = _ndjson([("INV-1", "10.00"), ("INV-2", "20.00"), ("INV-1", "99.00")])
    async with _app(db_url) as first:
        await _ready(first)
        accepted = await _import(first, rows, "application/x-ndjson")
    async with _app(db_url) as second:
        second.seeded = first.seeded
        await second.processed()
        view = await _view(second, accepted["import_id"])
        assert (view["state"], view["applied"], view["duplicates"]) == ("finished", 2, 1)
        assert await second.state() == {"sales": 2, "applied": 2, "achieved": 3_000}
