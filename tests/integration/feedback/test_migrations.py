"""The alembic migration builds a schema the service runs on, full-text search included."""

from __future__ import annotations

import asyncio

import pytest

from services.feedback.config import Settings
from services.feedback.handlers.intel import ShareIntel, search_intel, share_intel
from services.feedback.main import create_app
from shared.auth import Principal
from shared.migrate import upgrade
from tests.integration.feedback.conftest import seed_team

pytestmark = pytest.mark.integration


async def test_migrated_database_searches_intel(db_url):
    await asyncio.to_thread(upgrade, "feedback", db_url)
    runtime = create_app(Settings(database_url=db_url, run_workers=False, env="test")).state.runtime
    try:
        team = await seed_team(runtime, reps=1)
        rep = Principal(
            sub=str(team.reps[0]),
            org=team.org,
            roles=frozenset({"rep"}),
            teams=frozenset({team.id}),
        )
        cmd = ShareIntel(
            team_id=team.id,
            title="Rival launches bundles",
            kind="competitor",
            body="Bundled support at no cost",
            tags=["rival"],
        )
        await share_intel(cmd, uow=runtime.uow(), principal=rep)
        rows, _ = await search_intel(
            uow=runtime.uow(),
            principal=rep,
            team_id=team.id,
            q="bundle",
            tag="rival",
            cursor=None,
            limit=10,
        )
        assert [r.title for r in rows] == ["Rival launches bundles"]
    finally:
        await runtime.stop()
