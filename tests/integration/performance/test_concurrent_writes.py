"""A sale written by two requests at once on PostgreSQL: one commits, the other gets 409."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from devtools.postgres import LocalPostgres
from tests.integration.performance.conftest import PerfApp, Seeded, open_app
from tests.integration.performance.test_webhooks import (
    GENERIC_BODY,
    GENERIC_HEADERS,
    GENERIC_SECRET,
    _sign_generic,
    post,
)
from tests.integration.races import race

pytestmark = pytest.mark.integration


@pytest.fixture
async def perf_pg(postgres: LocalPostgres) -> AsyncIterator[PerfApp]:
    """The performance app on PostgreSQL, where two requests really run at once."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    postgres.create_database(name)
    app = await open_app(postgres.url(name))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://internal:8002") as client,
    ):
        yield PerfApp(app=app, client=client, seeded=Seeded())


async def test_concurrent_assignments_of_one_sale_credit_it_once(perf_pg: PerfApp):
    s = await perf_pg.seed()
    await perf_pg.set_secret("generic", GENERIC_SECRET)
    body = GENERIC_BODY.replace(b"ana.ruiz@example.com", b"nobody@example.com")
    signed = _sign_generic(body, GENERIC_HEADERS["webhook-id"], "1796656000")
    assert (await post(perf_pg, "generic", body, signed)).status_code == 202
    await perf_pg.processed()
    listed = await perf_pg.client.get("/v1/sales", headers=perf_pg.as_admin())
    [sale] = listed.json()["items"]
    url = f"/v1/sales/{sale['id']}/assignment"
    responses = await race(
        perf_pg.runtime.engine,
        None,
        *(
            perf_pg.client.post(url, json={"member_id": str(m)}, headers=perf_pg.as_manager())
            for m in (s.ana, s.ben)
        ),
    )
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    # Credited once: the sale's amount counts for exactly one member, not both.
    assert await perf_pg.achieved_total() == 1_250_000


async def test_concurrent_threshold_changes_commit_once(perf_pg: PerfApp):
    s = await perf_pg.seed()
    url = f"/v1/teams/{s.team_id}/thresholds"
    current = (await perf_pg.client.get(url, headers=perf_pg.as_manager())).json()
    responses = await race(
        perf_pg.runtime.engine,
        "team",
        *(
            perf_pg.client.put(url, json=current | {"hysteresis": h}, headers=perf_pg.as_manager())
            for h in ("0.02", "0.03")
        ),
    )
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
