"""Webhook secrets and CRM tokens are sealed in the database, yet deliveries still verify."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import create_async_engine

from services.performance.adapters.orm import WebhookSecret
from shared.migrate import upgrade
from shared.secrets import SEALED_PREFIX, SecretBox
from tests.integration.performance.conftest import ORG, PerfApp, Seeded, open_app
from tests.integration.performance.test_webhooks import (
    GENERIC_BODY,
    GENERIC_HEADERS,
    GENERIC_SECRET,
    HUBSPOT_SECRET,
    HUBSPOT_TOKEN,
    post,
)

pytestmark = pytest.mark.integration
KEY = Fernet.generate_key().decode()
_TABLE = WebhookSecret.__table__


async def _sealed_app(db_url: str, keys: str) -> AsyncIterator[PerfApp]:
    app = await open_app(db_url, secrets_keys=keys)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=transport, base_url="http://internal:8002") as client,
    ):
        yield PerfApp(app=app, client=client, seeded=Seeded())


@pytest.fixture
async def sealed(db_url: str) -> AsyncIterator[PerfApp]:
    """The app with a secrets key, on SQLite and on PostgreSQL."""
    async for perf in _sealed_app(db_url, KEY):
        yield perf


async def _stored(perf: PerfApp) -> list[tuple[str, str | None]]:
    async with perf.runtime.engine.connect() as conn:
        rows = await conn.execute(sa.select(_TABLE.c.secret, _TABLE.c.api_token))
        return [(r.secret, r.api_token) for r in rows]


async def test_a_rotated_secret_is_stored_sealed_and_deliveries_still_verify(sealed: PerfApp):
    await sealed.seed()
    await sealed.set_secret("generic", GENERIC_SECRET)
    [(secret, _)] = await _stored(sealed)
    assert secret.startswith(SEALED_PREFIX) and GENERIC_SECRET not in secret
    assert SecretBox([KEY]).open(secret) == GENERIC_SECRET
    response = await post(sealed, "generic", GENERIC_BODY, GENERIC_HEADERS)
    assert response.status_code == 202, response.text


async def test_a_hubspot_token_is_stored_sealed(sealed: PerfApp):
    await sealed.set_secret("hubspot", HUBSPOT_SECRET, api_token=HUBSPOT_TOKEN)
    [(secret, token)] = await _stored(sealed)
    assert token is not None and HUBSPOT_TOKEN not in token and HUBSPOT_SECRET not in secret
    assert SecretBox([KEY]).open(token) == HUBSPOT_TOKEN


async def test_after_a_key_rotation_secrets_sealed_under_the_old_key_still_verify(
    db_url: str,
):
    async for perf in _sealed_app(db_url, KEY):
        await perf.seed()
        await perf.set_secret("generic", GENERIC_SECRET)
    new = Fernet.generate_key().decode()
    async for perf in _sealed_app(db_url, f"{new},{KEY}"):
        response = await post(perf, "generic", GENERIC_BODY, GENERIC_HEADERS)
        assert response.status_code == 202, response.text


async def test_the_migration_seals_secrets_stored_in_plaintext(db_url: str, monkeypatch):
    """Upgrade a database with a plaintext secret and token; both are sealed afterwards."""
    await asyncio.to_thread(upgrade, "performance", db_url, "c4d8a1f07e52")
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                _TABLE.insert().values(
                    id=uuid.uuid4(),
                    org_id=ORG,
                    source="hubspot",
                    secret=HUBSPOT_SECRET,
                    api_token=HUBSPOT_TOKEN,
                    created_at=datetime.now(UTC),
                )
            )
        monkeypatch.setenv("PERFORMANCE_SECRETS_KEYS", KEY)
        await asyncio.to_thread(upgrade, "performance", db_url)
        async with engine.connect() as conn:
            [row] = (await conn.execute(sa.select(_TABLE.c.secret, _TABLE.c.api_token))).all()
    finally:
        await engine.dispose()
    box = SecretBox([KEY])
    assert row.secret.startswith(SEALED_PREFIX) and row.api_token.startswith(SEALED_PREFIX)
    assert (box.open(row.secret), box.open(row.api_token)) == (HUBSPOT_SECRET, HUBSPOT_TOKEN)


async def test_the_migration_refuses_production_without_a_key(tmp_path, monkeypatch):
    """Refuse to mark the sealing migration done in production when no key is configured."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'prod.db'}"
    await asyncio.to_thread(upgrade, "performance", url, "c4d8a1f07e52")
    monkeypatch.setenv("ATTAIN_ENV", "production")
    monkeypatch.delenv("PERFORMANCE_SECRETS_KEYS", raising=False)
    with pytest.raises(RuntimeError, match="PERFORMANCE_SECRETS_KEYS"):
        await asyncio.to_thread(upgrade, "performance", url)
