"""Every goals list walks page by page to what one large page shows, its cursor the last sort key."""

from __future__ import annotations

import pytest

from shared.events import wrap
from shared.http import decode_cursor
from tests.integration.goals.conftest import Goals, Seeded, seed
from tests.integration.goals.test_reactions import record_of, set_policy, team_shortfalls

pytestmark = pytest.mark.integration


async def _walk(g: Goals, url: str) -> tuple[list[dict], list[list[str]]]:
    """Every item of a list fetched one per page, and the decoded cursor after each page."""
    items: list[dict] = []
    cursors: list[list[str]] = []
    cursor = None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        r = await g.client.get(url, params=params, headers=g.as_admin())
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, cursors
        cursors.append(decode_cursor(cursor))


async def _post(g: Goals, url: str, body: dict, headers: dict | None = None) -> None:
    r = await g.client.post(url, json=body, headers=headers or g.as_admin())
    assert r.status_code == 201, r.text


async def _fill(g: Goals, s: Seeded) -> None:
    """Two or more rows behind every list of the seeded team."""
    first, second = (m["id"] for m in s.members[:2])
    await _post(g, "/v1/teams", {"name": "APAC", "currency": "EUR", "manager_id": first})
    await _post(
        g, "/v1/periods", {"name": "Q2", "starts_on": "2030-04-01", "ends_on": "2030-06-30"}
    )
    for quarter, starts_on, ends_on in (
        ("Q3", "2029-07-01", "2029-09-30"),
        ("Q4", "2029-10-01", "2029-12-31"),
    ):
        result = {
            "period_name": quarter,
            "starts_on": starts_on,
            "ends_on": ends_on,
            "achieved": "1.00",
        }
        await _post(g, f"/v1/members/{first}/results", result)
    for day in ("2031-05-04", "2031-06-08"):
        absence = {"starts_on": day, "ends_on": day, "kind": "pto"}
        await _post(g, f"/v1/members/{first}/absences", absence)
    target = s.target_of(first)["id"]
    edit = {"amount": "90000.00", "reason": "territory change"}
    r = await g.client.patch(f"/v1/targets/{target}", json=edit, headers=g.as_admin())
    assert r.status_code == 200, r.text
    for member in (first, second):
        ask = {"amount": "95000.00", "reason": "a key account left"}
        rep = g.as_rep(member, team=s.team_id)
        await _post(g, f"/v1/targets/{s.target_of(member)['id']}/change-requests", ask, rep)
    await set_policy(g, s, mode="off")
    processor = g.runtime.consumer._processor
    for _ in range(2):
        await processor.process(record_of(wrap(team_shortfalls(g, s))))


def _masked(cursor: list[str], key: tuple[str | None, ...]) -> list[str | None]:
    return [v if k else None for v, k in zip(cursor, key, strict=True)]


async def test_every_list_pages_through_all_its_items_once_in_order(goals_db):
    g = goals_db
    s = await seed(g)
    await _fill(g, s)
    member, target = s.members[0]["id"], s.target_of(s.members[0]["id"])["id"]
    lists = {
        "/v1/teams": ("name", "id"),
        f"/v1/teams/{s.team_id}/members": ("name", "id"),
        "/v1/periods": ("starts_on", "id"),
        f"/v1/members/{member}/results": ("starts_on", "id"),
        f"/v1/members/{member}/absences": ("starts_on", "id"),
        f"/v1/targets/{target}/history": ("version",),
        f"/v1/teams/{s.team_id}/change-requests": (None, "id"),
        f"/v1/teams/{s.team_id}/rebalances": (None, "id"),
    }
    for url, key in lists.items():
        whole = (await g.client.get(url, params={"limit": 200}, headers=g.as_admin())).json()
        assert len(whole["items"]) >= 2 and whole["next_cursor"] is None, url
        walked, cursors = await _walk(g, url)
        assert walked == whole["items"], url
        # The cursor after page n is the sort key of item n (instants are left unpinned).
        expected = [[str(item[k]) if k else None for k in key] for item in walked[:-1]]
        assert [_masked(c, key) for c in cursors] == expected, url
