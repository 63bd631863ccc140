"""The delivery pipeline on SQLite and PostgreSQL: group-committed intake, batch processing.

Each test stores deliveries through the real routes (workers off, so nothing is applied until
the test drives the processor), then checks what the processor made of them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import create_async_engine

from services.performance.adapters.orm import Sale, WebhookDelivery
from services.performance.handlers import deal_batch
from services.performance.processor import listen
from tests.integration.performance.conftest import ORG, PerfApp, Seeded, open_app
from tests.integration.performance.test_webhooks import (
    GENERIC_BODY,
    GENERIC_SECRET,
    _sign_generic,
    delivery_view,
    post,
)

PAYLOAD = json.loads(GENERIC_BODY)


def _sale(message_id: str, *, kind: str = "sale.closed", amount: str = "100.00", ext: str = ""):
    """A signed generic delivery of Ana's sale ``ext`` (the vector's own id by default)."""
    body = json.dumps(
        PAYLOAD | {"type": kind, "amount": amount, "external_id": ext or PAYLOAD["external_id"]}
    ).encode()
    return body, _sign_generic(body, message_id, "1796656000")


@asynccontextmanager
async def _app(db_url: str, **overrides: object) -> AsyncIterator[PerfApp]:
    app = await open_app(db_url, **overrides)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://internal:8002") as client,
    ):
        yield PerfApp(app=app, client=client, seeded=Seeded())


async def _ready(perf: PerfApp) -> None:
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)


async def _outcomes(perf: PerfApp) -> list[str]:
    async with perf.runtime.engine.connect() as conn:
        stmt = sa.select(WebhookDelivery.outcome).order_by(WebhookDelivery.arrival)
        return list((await conn.execute(stmt)).scalars())


async def _fact_types(perf: PerfApp) -> list[str]:
    outbox = perf.runtime.plumbing.outbox
    async with perf.runtime.engine.connect() as conn:
        stmt = sa.select(outbox.c.type).order_by(outbox.c.created_at)
        return [t.split(".")[-2] for t in (await conn.execute(stmt)).scalars()]


async def test_a_202_means_the_delivery_is_committed_before_any_processing(db_url: str):
    """Another connection sees the stored delivery as soon as the 202 is answered."""
    async with _app(db_url) as perf:
        await _ready(perf)
        body, headers = _sale("msg_durable")
        response = await post(perf, "generic", body, headers)
        assert response.status_code == 202
        other = create_async_engine(db_url)
        try:
            async with other.connect() as conn:
                stmt = sa.select(WebhookDelivery.outcome, WebhookDelivery.body)
                rows = (await conn.execute(stmt)).all()
        finally:
            await other.dispose()
        assert [(r.outcome, bytes(r.body)) for r in rows] == [("received", body)]
        assert await perf.state() == {"sales": 0, "applied": 0, "achieved": 0}


async def test_concurrent_deliveries_are_stored_in_a_few_group_commits(db_url: str):
    """Twenty concurrent 202s cost a handful of commits, not twenty, and every row is stored."""
    async with _app(db_url, webhook_group_commit_ms=50, webhook_group_commit_rows=64) as perf:
        await _ready(perf)
        writer = perf.runtime.delivery_writer
        signed = [_sale(f"msg_{i}", ext=f"INV-{i}") for i in range(20)]
        responses = await asyncio.gather(*(post(perf, "generic", b, h) for b, h in signed))
        assert [r.status_code for r in responses] == [202] * 20
        assert 1 <= writer.commits <= 5
        assert await perf.count(WebhookDelivery) == 20
        assert await perf.processed() == 20
        assert await perf.state() == {"sales": 20, "applied": 20, "achieved": 20 * 10_000}


async def test_stored_unapplied_deliveries_are_applied_by_the_next_process(db_url: str):
    """Deliveries stored by a process that stopped before processing are applied by the next."""
    async with _app(db_url) as first:
        await _ready(first)
        for i in range(3):
            assert (await post(first, "generic", *_sale(f"msg_{i}", ext=f"INV-{i}"))).status_code
        assert await _outcomes(first) == ["received"] * 3
    async with _app(db_url) as second:
        second.seeded = first.seeded
        assert await second.processed() == 3
        assert await _outcomes(second) == ["processed"] * 3
        assert await second.state() == {"sales": 3, "applied": 3, "achieved": 30_000}


async def test_a_sales_changes_apply_in_arrival_order_within_and_across_batches(db_url: str):
    """Won, then two amount changes: the last to arrive is the amount that stays."""
    async with _app(db_url, webhook_batch_size=2) as perf:
        await _ready(perf)
        for message_id, kind, amount in (
            ("msg_won", "sale.closed", "100.00"),
            ("msg_up", "sale.updated", "150.00"),
            ("msg_down", "sale.updated", "120.00"),
        ):
            await post(perf, "generic", *_sale(message_id, kind=kind, amount=amount))
        assert await perf.processed() == 3
        assert await _fact_types(perf) == ["sale_recorded", "sale_adjusted", "sale_adjusted"]
        async with perf.runtime.engine.connect() as conn:
            amount = (await conn.execute(sa.select(Sale.amount_minor))).scalar_one()
        assert (amount, await perf.achieved_total()) == (12_000, 12_000)


async def test_a_redelivery_in_the_same_batch_is_counted_as_a_duplicate(db_url: str):
    """Two copies of one webhook-id stored before processing: one applies, one is a duplicate."""
    async with _app(db_url) as perf:
        await _ready(perf)
        body, headers = _sale("msg_twice")
        first = await post(perf, "generic", body, headers)
        again = await post(perf, "generic", body, headers)
        assert await perf.processed() == 2
        views = [await delivery_view(perf, r) for r in (first, again)]
        assert [(v["applied"], v["duplicates"]) for v in views] == [(1, 0), (0, 1)]
        assert await perf.state() == {"sales": 1, "applied": 1, "achieved": 10_000}


async def test_a_poison_delivery_in_a_batch_is_marked_failed_alone(db_url: str, monkeypatch):
    """The middle delivery fails to apply: it alone is failed, with its error; the rest commit."""
    write = deal_batch.write_changes

    async def poisoned(uow, book, claims, **kwargs):
        await write(uow, book, claims, **kwargs)  # its writes must be undone too
        if any(sale.external_id == "INV-poison" for _, sale in book.changed_sales()):
            raise RuntimeError("cannot apply this one")

    monkeypatch.setattr(deal_batch, "write_changes", poisoned)
    async with _app(db_url) as perf:
        await _ready(perf)
        answers = [
            await post(perf, "generic", *_sale(f"msg_{ext}", ext=ext))
            for ext in ("INV-a", "INV-poison", "INV-b")
        ]
        assert await perf.processed() == 3
        views = [await delivery_view(perf, r) for r in answers]
        assert [v["outcome"] for v in views] == ["processed", "failed", "processed"]
        assert views[1]["error"] == "RuntimeError: cannot apply this one"
        assert await perf.state() == {"sales": 2, "applied": 2, "achieved": 20_000}
        assert await _fact_types(perf) == ["sale_recorded", "sale_recorded"]  # none of the poison's
        monkeypatch.setattr(deal_batch, "write_changes", write)
        path = f"/v1/webhook-deliveries/{views[1]['id']}/reprocess"
        assert (await perf.client.post(path, headers=perf.as_admin())).status_code == 202
        assert await perf.processed() == 1
        assert (await delivery_view(perf, answers[1]))["outcome"] == "processed"
        assert await perf.state() == {"sales": 3, "applied": 3, "achieved": 30_000}


async def test_two_processors_on_one_database_apply_each_change_once_in_order(db_url: str):
    """Two replicas draining the same stored deliveries at once apply each exactly once."""
    async with _app(db_url, webhook_batch_size=3) as one, _app(db_url, webhook_batch_size=3) as two:
        await _ready(one)
        for i in range(12):
            await post(one, "generic", *_sale(f"msg_{i}", ext=f"INV-{i % 4}", amount=f"{i}.00"))
        await asyncio.gather(one.processed(), two.processed())
        assert await _outcomes(one) == ["processed"] * 12
        assert await one.state() == {"sales": 4, "applied": 12, "achieved": (8 + 9 + 10 + 11) * 100}
        async with one.runtime.engine.connect() as conn:
            stmt = sa.select(Sale.external_id, Sale.amount_minor).order_by(Sale.external_id)
            amounts = {r.external_id: r.amount_minor for r in await conn.execute(stmt)}
        # The last delivery of each sale to arrive carried its final amount.
        assert amounts == {f"INV-{i}": (8 + i) * 100 for i in range(4)}


async def test_the_delivery_log_is_admin_only_filtered_and_paginated(perf: PerfApp):
    """Admins list deliveries by source and outcome, a page at a time; others get 403."""
    await _ready(perf)
    for i in range(3):
        await post(perf, "generic", *_sale(f"msg_{i}", ext=f"INV-{i}"))
    bad = b'{"type": "sale.exploded"}'
    await post(perf, "generic", bad, _sign_generic(bad, "msg_bad", "1796656000"))
    await perf.processed()
    forbidden = await perf.client.get("/v1/webhook-deliveries", headers=perf.as_manager())
    assert forbidden.status_code == 403
    first = await perf.client.get(
        "/v1/webhook-deliveries", params={"limit": 2}, headers=perf.as_admin()
    )
    page = first.json()
    nxt = await perf.client.get(
        "/v1/webhook-deliveries",
        params={"limit": 2, "cursor": page["next_cursor"]},
        headers=perf.as_admin(),
    )
    seen = [d["outcome"] for d in page["items"] + nxt.json()["items"]]
    assert seen == ["processed", "processed", "processed", "malformed"]
    assert nxt.json()["next_cursor"] is None
    malformed = await perf.client.get(
        "/v1/webhook-deliveries",
        params={"outcome": "malformed", "source": "generic"},
        headers=perf.as_admin(),
    )
    [only] = malformed.json()["items"]
    assert only["error"].startswith("unknown type")
    other = await perf.client.get(
        "/v1/webhook-deliveries", params={"source": "hubspot"}, headers=perf.as_admin()
    )
    assert other.json()["items"] == []
    missing = await perf.client.get(f"/v1/webhook-deliveries/{ORG}", headers=perf.as_admin())
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("outcome", ["processed", "malformed"])
async def test_only_a_failed_delivery_can_be_reprocessed(perf: PerfApp, outcome: str):
    """Reprocessing a processed or malformed delivery is a 409 problem and changes nothing."""
    await _ready(perf)
    body, headers = _sale("msg_x") if outcome == "processed" else (b"{}", None)
    if headers is None:
        headers = _sign_generic(body, "msg_x", "1796656000")
    response = await post(perf, "generic", body, headers)
    await perf.processed()
    delivery_id = response.json()["delivery_id"]
    answer = await perf.client.post(
        f"/v1/webhook-deliveries/{delivery_id}/reprocess", headers=perf.as_admin()
    )
    assert answer.status_code == 409
    assert answer.json()["outcome"] == outcome
    assert await perf.processed() == 0


async def test_a_worker_beside_the_api_is_woken_by_the_commit_on_postgresql(postgres):
    """The API's group commit NOTIFYs: a worker polling once a minute applies it at once."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    postgres.create_database(name)
    url = postgres.url(name)
    async with _app(url) as api, _app(url, webhook_poll_s=60) as worker:
        await _ready(api)
        listener = await listen(worker.runtime.engine, worker.runtime.processor.wake)
        assert listener is not None
        running = asyncio.create_task(worker.runtime.processor.run())
        try:
            await asyncio.sleep(0.2)  # the worker has drained the empty queue and now waits
            response = await post(api, "generic", *_sale("msg_woken"))
            for _ in range(100):
                if (await delivery_view(api, response))["outcome"] == "processed":
                    break
                await asyncio.sleep(0.1)
            assert (await delivery_view(api, response))["outcome"] == "processed"
        finally:
            worker.runtime.processor.stop()
            await running
            await listener.close()
