"""The team attainment list pages with limit and cursor, in a constant number of queries."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import event

from shared.events.goals import TargetAssigned
from tests.integration.performance.conftest import ORG, Q4_END, Q4_START, PerfApp, member_joined

pytestmark = pytest.mark.integration


async def _seed_team_of(perf: PerfApp, size: int) -> None:
    s = await perf.seed()
    for i in range(size - 2):
        member = uuid.uuid4()
        await perf.react(
            member_joined(s, member, f"Rep {i}", f"rep{i}@example.com", mapped=False),
            TargetAssigned(
                org_id=ORG,
                team_id=s.team_id,
                target_id=uuid.uuid4(),
                member_id=member,
                period_id=s.period_id,
                amount=Decimal("50000.00"),
                currency="EUR",
                version=1,
                period_starts_at=Q4_START,
                period_ends_at=Q4_END,
                period_timezone="UTC",
            ),
        )


async def _page(perf: PerfApp, **params) -> dict:
    s = perf.seeded
    response = await perf.client.get(
        f"/v1/teams/{s.team_id}/periods/{s.period_id}/attainment",
        params=params,
        headers=perf.as_manager(),
    )
    assert response.status_code == 200, response.text
    return response.json()


def _count_statements(perf: PerfApp) -> list[str]:
    seen: list[str] = []
    event.listen(
        perf.runtime.read_engine.sync_engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *rest: seen.append(statement),
    )
    return seen


async def test_attainment_pages_follow_the_cursor_by_member_id_without_n_plus_1(perf_db: PerfApp):
    await _seed_team_of(perf_db, 7)
    everyone = await _page(perf_db, limit=200)
    assert len(everyone["items"]) == 7 and everyone["next_cursor"] is None
    ids = [row["member_id"] for row in everyone["items"]]
    assert ids == sorted(ids)

    statements = _count_statements(perf_db)
    pages, cursor = [], None
    while True:
        before = len(statements)
        page = await _page(perf_db, limit=3, **({"cursor": cursor} if cursor else {}))
        pages.append((len(page["items"]), len(statements) - before))
        assert set(page) == set(everyone)  # same shape as the whole list
        assert page["as_of"] == everyone["as_of"]
        cursor = page["next_cursor"]
        if page["items"]:
            assert [r["member_id"] for r in page["items"]] == ids[: len(page["items"])]
            ids = ids[len(page["items"]) :]
        if not cursor:
            break
    assert [size for size, _ in pages] == [3, 3, 1]
    assert ids == []
    # As many statements for a page of 3 as for a page of 1: nothing runs per member.
    assert len({queries for _, queries in pages}) == 1, pages


async def test_a_forged_attainment_cursor_is_a_422(perf_db: PerfApp):
    await _seed_team_of(perf_db, 3)
    s = perf_db.seeded
    response = await perf_db.client.get(
        f"/v1/teams/{s.team_id}/periods/{s.period_id}/attainment",
        params={"cursor": "not-a-cursor"},
        headers=perf_db.as_manager(),
    )
    assert response.status_code == 422
