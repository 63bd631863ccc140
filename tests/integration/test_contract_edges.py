"""Edges the fuzzing found: instants PostgreSQL cannot compare are a 422 naming the field."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.goals import config, main
from tests.harness import as_admin

pytestmark = pytest.mark.integration


@pytest.fixture
async def goals(db_url: str):
    """The goals app on a fresh database, spoken to in-process."""
    app = main.create_app(
        config.Settings(database_url=db_url, run_workers=False, env="test", log_level="CRITICAL")
    )
    await app.state.runtime.create_schema()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    await app.state.runtime.stop()


@pytest.mark.parametrize(
    ("since", "status"),
    [
        ("2026-12-01T00:00:00Z", 200),
        ("0001-01-01T00:00:00Z", 200),
        ("0001-01-01T00:00:00+01:00", 422),  # before year 1 in UTC
        ("9999-12-31T23:59:59-01:00", 422),  # after year 9999 in UTC
        ("2026-12-01T00:00:00", 422),  # no offset: which instant?
    ],
)
async def test_outbox_replay_refuses_instants_without_a_utc_reading(goals, since, status):
    response = await goals.post(
        "/v1/admin/outbox/replay", json={"since": since}, headers=as_admin(uuid.uuid4())
    )
    assert response.status_code == status, response.text
    if status == 422:
        assert response.headers["content-type"] == "application/problem+json"
        assert "since" in response.text
