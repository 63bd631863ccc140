"""Reads never wait behind the writer: GET requests and readiness use their own connections."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager

from shared.app import create_service_app
from tests.conftest import broker_settings
from tests.harness import as_admin
from tests.integration.probe import Effect, probe_runtime, thing

pytestmark = pytest.mark.integration


async def test_reads_answer_while_a_long_write_transaction_holds_the_writer(db_url):
    runtime = probe_runtime(
        db_url=db_url, broker=broker_settings("127.0.0.1:1") | {"run_workers": False}
    )
    await runtime.create_schema()
    app = create_service_app(runtime=runtime, title="probe", description="probe", routers=[])
    transport = httpx.ASGITransport(app=app)
    org = uuid.uuid4()
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://probe") as client,
    ):
        async with runtime.engine.begin() as writer:  # a backlog's transaction, still open
            await writer.execute(sa.insert(Effect).values(id=uuid.uuid4(), thing_id=uuid.uuid4()))
            # SQLite has one writer connection: a read queued behind it would wait forever here.
            ready, dead = await asyncio.wait_for(
                asyncio.gather(
                    client.get("/readyz"),
                    client.get("/v1/admin/dead-letters", headers=as_admin(org)),
                ),
                timeout=10,
            )
            assert ready.json()["checks"]["database"] == "ok"
            assert dead.status_code == 200 and dead.json() == {"items": [], "next_cursor": None}


async def test_a_read_only_unit_of_work_cannot_commit(db_url):
    runtime = probe_runtime(db_url=db_url, broker=broker_settings("127.0.0.1:1"))
    await runtime.create_schema()
    try:
        async with runtime.uow(read_only=True) as uow:
            uow.emit(thing())
            with pytest.raises(RuntimeError, match="read-only"):
                await uow.commit()
        async with runtime.read_engine.connect() as conn:
            assert (
                await conn.execute(sa.select(sa.func.count()).select_from(Effect))
            ).scalar() == 0
    finally:
        await runtime.engine.dispose()
        await runtime.read_engine.dispose()
