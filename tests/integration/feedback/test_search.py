"""Intel search on SQLite FTS5 and PostgreSQL full-text search, through one repository."""

from __future__ import annotations

import uuid

import pytest

from services.feedback.config import Settings
from services.feedback.handlers.intel import ShareIntel, search_intel, share_intel
from services.feedback.main import create_app
from shared.auth import Principal
from tests.integration.feedback.conftest import seed_team

pytestmark = pytest.mark.integration


async def test_search_finds_intel_by_title_words_body_words_and_tag(db_url):
    app = create_app(Settings(database_url=db_url, run_workers=False, env="test"))
    runtime = app.state.runtime
    await runtime.create_schema()
    try:
        team = await seed_team(runtime, reps=1)
        rep = Principal(
            sub=str(team.reps[0]),
            org=team.org,
            roles=frozenset({"rep"}),
            teams=frozenset({team.id}),
        )
        items = [
            ShareIntel(
                team_id=team.id,
                title="Globex cuts prices",
                kind="pricing",
                body="Twenty percent off two-year contracts",
                tags=["globex"],
            ),
            ShareIntel(
                team_id=team.id,
                title="New buyer at Initech",
                kind="customer",
                body="The procurement lead changed; budgets are frozen",
                tags=["initech"],
            ),
        ]
        for cmd in items:
            await share_intel(cmd, uow=runtime.uow(), principal=rep)

        async def titles(**query):
            rows, _ = await search_intel(
                uow=runtime.uow(),
                principal=rep,
                team_id=None,
                cursor=None,
                limit=10,
                **{"q": None, "tag": None} | query,
            )
            return sorted(r.title for r in rows)

        assert await titles(q="prices") == ["Globex cuts prices"]
        assert await titles(q="contracts") == ["Globex cuts prices"]  # body word, plural
        assert await titles(q="budget frozen") == ["New buyer at Initech"]  # stemmed, ANDed
        assert await titles(q='"procurement (') == ["New buyer at Initech"]  # syntax is text
        assert await titles(tag="initech") == ["New buyer at Initech"]
        assert await titles(q="prices", tag="initech") == []
        assert await titles(q="nothing-like-this") == []
        assert len(await titles()) == 2
        stranger = Principal(
            sub=str(uuid.uuid4()), org=team.org, roles=frozenset({"rep"}), teams=frozenset()
        )
        rows, _ = await search_intel(
            uow=runtime.uow(),
            principal=stranger,
            team_id=None,
            q="prices",
            tag=None,
            cursor=None,
            limit=10,
        )
        assert rows == []
    finally:
        await runtime.stop()
