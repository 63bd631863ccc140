"""Performance follows goals' team tree: a manager above a team reads it, a sibling's manager does not."""

from __future__ import annotations

import uuid

import pytest

from services.performance.handlers.events import on_team_updated
from shared.events import wrap
from shared.events.goals import TeamCreated, TeamUpdated
from tests.integration.performance.conftest import ORG, PerfApp
from tests.integration.performance.test_sales_and_pace import outbox_payloads

pytestmark = pytest.mark.integration


async def test_a_parent_manager_reads_a_child_team_and_a_sibling_manager_is_refused(
    perf_db: PerfApp,
):
    """Region above EMEA: the region's manager gets 200 on EMEA's views; APAC's gets 403 (both DBs)."""
    perf = perf_db
    s = await perf.seed()
    region, apac = uuid.uuid4(), uuid.uuid4()
    for team_id, name in ((region, "Region"), (apac, "APAC")):
        await perf.react(
            TeamCreated(
                org_id=ORG, team_id=team_id, name=name, currency="EUR", manager_id=uuid.uuid4()
            )
        )
    moved = TeamUpdated(
        org_id=ORG,
        team_id=s.team_id,
        name="EMEA",
        currency="EUR",
        manager_id=s.manager_id,
        parent_team_id=region,
    )
    async with perf.runtime.uow() as uow:
        await on_team_updated(moved, wrap(moved), uow)
        await uow.commit()
    team_url = f"/v1/teams/{s.team_id}/periods/{s.period_id}/attainment"
    member_url = f"/v1/members/{s.ana}/attainment"
    above, sibling = perf.as_manager(region), perf.as_manager(apac)
    for url in (team_url, member_url, f"/v1/teams/{s.team_id}/thresholds"):
        assert (await perf.client.get(url, headers=above)).status_code == 200, url
        r = await perf.client.get(url, headers=sibling)
        assert r.status_code == 403, url
        assert r.headers["content-type"].startswith("application/problem+json")
    items = (await perf.client.get(team_url, headers=above)).json()["items"]
    assert {m["member_id"] for m in items} == {str(s.ana), str(s.ben)}


async def test_new_thresholds_are_announced_with_their_version_for_the_rollup(perf_db: PerfApp):
    """PUT thresholds writes thresholds_changed (exact decimals, the new version) to the outbox."""
    perf = perf_db
    s = await perf.seed()
    body = {
        "at_risk_below": "0.95",
        "struggling_below": "0.6",
        "hysteresis": "0.05",
        "min_elapsed_share": "0.2",
    }
    url = f"/v1/teams/{s.team_id}/thresholds"
    assert (await perf.client.put(url, json=body, headers=perf.as_manager())).status_code == 200
    payloads = await outbox_payloads(perf, "thresholds_changed")
    (announced,) = payloads
    assert {k: announced[k] for k in body} == body
    assert announced["team_id"] == str(s.team_id) and announced["version"] == 2
