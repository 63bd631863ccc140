"""Manual sales, split credit, visibility, credit moves from disputes, evaluation and closing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from services.performance.handlers import jobs
from shared.events import to_kafka, wrap
from shared.events.feedback import DisputeResolved, ReassignSaleCredit
from tests.harness import as_admin
from tests.integration.performance.conftest import FROZEN, ORG, Q4_END, Q4_START, PerfApp

pytestmark = pytest.mark.integration
MID_Q4 = Q4_START + (Q4_END - Q4_START) / 2


@dataclass
class KafkaRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


async def outbox_types(perf: PerfApp) -> list[str]:
    table = perf.runtime.plumbing.outbox
    async with perf.runtime.engine.connect() as conn:
        rows = await conn.execute(sa.select(table.c.type).order_by(table.c.created_at))
        return [r.type.split(".")[2] for r in rows]


async def outbox_payloads(perf: PerfApp, fact: str) -> list[dict]:
    table = perf.runtime.plumbing.outbox
    async with perf.runtime.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(table.c.payload)
            .where(table.c.type == f"attain.performance.{fact}.v1")
            .order_by(table.c.created_at)
        )
        return [r.payload for r in rows]


async def manual_sale(perf: PerfApp, **body: object):
    payload = {"amount": "100.01", "currency": "EUR", "closed_at": "2026-11-02T10:00:00Z"} | body
    return await perf.client.post("/v1/sales", json=payload, headers=perf.as_manager())


async def test_split_credit_counts_exact_shares_in_attainment(perf: PerfApp):
    s = await perf.seed()
    credits = [
        {"member_id": str(s.ana), "percent": "60"},
        {"member_id": str(s.ben), "percent": "40"},
    ]
    response = await manual_sale(perf, credits=credits)
    assert response.status_code == 201, response.text
    assert [c["amount"] for c in response.json()["credits"]] == ["60.01", "40.00"]
    team = await perf.client.get(
        f"/v1/teams/{s.team_id}/periods/{s.period_id}/attainment", headers=perf.as_manager()
    )
    achieved = {row["member_id"]: row["achieved"] for row in team.json()["items"]}
    assert achieved == {str(s.ana): "60.01", str(s.ben): "40.00"}
    assert "sale_recorded" in await outbox_types(perf)


async def test_a_split_not_summing_to_100_is_refused(perf: PerfApp):
    s = await perf.seed()
    credits = [
        {"member_id": str(s.ana), "percent": "60"},
        {"member_id": str(s.ben), "percent": "30"},
    ]
    response = await manual_sale(perf, credits=credits)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_reps_see_only_their_own_sales_and_attainment(perf: PerfApp):
    s = await perf.seed()
    await manual_sale(perf, member_id=str(s.ana))
    await manual_sale(perf, member_id=str(s.ben), amount="5.00")
    mine = await perf.client.get("/v1/sales", headers=perf.as_rep(s.ben))
    assert [i["amount"] for i in mine.json()["items"]] == ["5.00"]
    other = await perf.client.get(f"/v1/members/{s.ana}/attainment", headers=perf.as_rep(s.ben))
    assert other.status_code == 403
    team = await perf.client.get(
        f"/v1/teams/{s.team_id}/periods/{s.period_id}/attainment", headers=perf.as_rep(s.ben)
    )
    assert team.status_code == 403
    board = await perf.client.get(
        f"/v1/teams/{s.team_id}/periods/{s.period_id}/leaderboard", headers=perf.as_rep(s.ben)
    )
    assert [e["member_id"] for e in board.json()["entries"]] == [str(s.ana), str(s.ben)]


async def test_another_orgs_token_gets_404_not_403(perf: PerfApp):
    s = await perf.seed()
    sale = (await manual_sale(perf, member_id=str(s.ana))).json()
    stranger = as_admin(uuid.uuid4())
    assert (await perf.client.get(f"/v1/sales/{sale['id']}", headers=stranger)).status_code == 404
    view = await perf.client.get(
        f"/v1/teams/{s.team_id}/periods/{s.period_id}/attainment", headers=stranger
    )
    assert view.status_code == 404


async def test_sales_are_cursor_paginated(perf: PerfApp):
    s = await perf.seed()
    for day in range(1, 4):
        await manual_sale(perf, member_id=str(s.ana), closed_at=f"2026-11-0{day}T10:00:00Z")
    first = (await perf.client.get("/v1/sales?limit=2", headers=perf.as_admin())).json()
    second = await perf.client.get(
        f"/v1/sales?limit=2&cursor={first['next_cursor']}", headers=perf.as_admin()
    )
    days = [i["closed_at"][:10] for i in first["items"] + second.json()["items"]]
    assert days == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert second.json()["next_cursor"] is None


async def test_a_dispute_outcome_moves_credit_once_even_when_redelivered(perf_db: PerfApp):
    perf = perf_db
    s = await perf.seed()
    sale = (await manual_sale(perf, member_id=str(s.ana), amount="1000.00")).json()
    resolved = DisputeResolved(
        org_id=ORG,
        team_id=s.team_id,
        dispute_id=uuid.uuid4(),
        decided_by=str(s.manager_id),
        summary="shared deal",
        rationale="Ben sourced the lead",
        actions=[
            ReassignSaleCredit(
                sale_id=uuid.UUID(sale["id"]), to_member_id=s.ben, percent=Decimal("25")
            )
        ],
    )
    message = to_kafka(wrap(resolved))
    record = KafkaRecord(
        topic=resolved.topic(),
        partition=0,
        offset=7,
        key=resolved.partition_key().encode(),
        value=message.value,
        headers=list(message.headers.items()),
    )
    processor = perf.runtime.consumer._processor
    assert (await processor.process(record)).status == "applied"
    assert (await processor.process(record)).status == "duplicate"
    read = (await perf.client.get(f"/v1/sales/{sale['id']}", headers=perf.as_admin())).json()
    shares = {c["member_id"]: (c["percent"], c["amount"]) for c in read["credits"]}
    assert shares == {str(s.ana): ("75", "750.00"), str(s.ben): ("25", "250.00")}
    team = await perf.client.get(
        f"/v1/teams/{s.team_id}/periods/{s.period_id}/attainment", headers=perf.as_admin()
    )
    assert {r["achieved"] for r in team.json()["items"]} == {"750.00", "250.00"}


async def test_stale_target_versions_are_ignored(perf: PerfApp):
    from shared.events.goals import TargetChanged

    s = await perf.seed()
    target_id = s.targets[s.ana]
    common = dict(
        org_id=ORG, team_id=s.team_id, target_id=target_id, member_id=s.ana,
        period_id=s.period_id, currency="EUR", reason="manual",
    )  # fmt: skip
    from services.performance.handlers import events as reactions

    for version, amount in ((3, "120000.00"), (2, "90000.00")):
        event = TargetChanged(
            **common, old_amount=Decimal(0), new_amount=Decimal(amount), version=version
        )
        async with perf.runtime.uow() as uow:
            await reactions.on_target_changed(event, wrap(event), uow)
            await uow.commit()
    [row] = (
        await perf.client.get(f"/v1/members/{s.ana}/attainment", headers=perf.as_rep(s.ana))
    ).json()
    assert (row["target"], row["target_version"]) == ("120000.00", 3)


async def test_as_of_is_for_admins_only(perf: PerfApp):
    s = await perf.seed()
    url = f"/v1/teams/{s.team_id}/periods/{s.period_id}/evaluation"
    refused = await perf.client.post(
        url, json={"as_of": MID_Q4.isoformat()}, headers=perf.as_manager()
    )
    assert refused.status_code == 403
    assert (await perf.client.post(url, headers=perf.as_manager())).status_code == 200
    rep = await perf.client.post(url, headers=perf.as_rep(s.ana))
    assert rep.status_code == 403


async def test_every_uncovered_shortfall_of_a_team_is_announced_in_one_event(perf_db: PerfApp):
    perf = perf_db
    s = await perf.seed()
    url = f"/v1/teams/{s.team_id}/periods/{s.period_id}/evaluation"

    async def evaluate(at: datetime) -> dict:
        response = await perf.client.post(
            url, json={"as_of": at.isoformat()}, headers=perf.as_admin()
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def announced() -> list[dict]:
        return await outbox_payloads(perf, "team_shortfalls_detected")

    first = await evaluate(MID_Q4)  # half the quarter gone, nothing sold: both struggle
    assert {r["status"] for r in first["items"]} == {"struggling"}
    assert len(first["shortfalls_detected"]) == 2
    [event] = await announced()
    assert sorted(x["member_id"] for x in event["shortfalls"]) == sorted([str(s.ana), str(s.ben)])
    assert all(x["new"] and x["shortfall"] == "100000.00" for x in event["shortfalls"])
    assert sorted(x["shortfall_id"] for x in event["shortfalls"]) == sorted(
        first["shortfalls_detected"]
    )
    standings = {m["member_id"]: m for m in event["standings"]}
    assert standings[str(s.ana)] | {"projected": None} == {
        "member_id": str(s.ana),
        "target_id": str(s.targets[s.ana]),
        "target_version": 1,
        "target": "100000.00",
        "achieved": "0.00",
        "projected": None,
        "status": "struggling",
    }
    # Nothing changed and little time passed: not announced again.
    assert (await evaluate(MID_Q4 + timedelta(minutes=30)))["shortfalls_detected"] == []
    assert len(await announced()) == 1
    # Still uncovered a day later: announced again (goals retries), nobody new.
    assert (await evaluate(MID_Q4 + timedelta(days=1)))["shortfalls_detected"] == []
    [_, repeat] = await announced()
    assert [x["new"] for x in repeat["shortfalls"]] == [False, False]
    assert {x["shortfall_id"] for x in repeat["shortfalls"]} == set(first["shortfalls_detected"])
    # Ana sells enough to recover (her episode ends), then falls behind again: a new episode.
    perf.runtime.clock = lambda: MID_Q4 + timedelta(days=2)
    await manual_sale(perf, member_id=str(s.ana), amount="60000.00")
    recovered = await evaluate(MID_Q4 + timedelta(days=2))
    assert next(r for r in recovered["items"] if r["member_id"] == str(s.ana))["status"] != (
        "struggling"
    )
    later = await evaluate(Q4_END - timedelta(days=2))
    ana_row = next(r for r in later["items"] if r["member_id"] == str(s.ana))
    assert ana_row["status"] == "struggling"
    assert len(later["shortfalls_detected"]) == 1
    last = (await announced())[-1]
    news = {x["member_id"]: x["new"] for x in last["shortfalls"]}
    assert news == {str(s.ana): True, str(s.ben): False}
    assert next(x for x in last["shortfalls"] if x["member_id"] == str(s.ana))["episode"] == 2


async def test_a_giver_back_on_track_is_announced_as_recovered_once(perf: PerfApp):
    s = await perf.seed()
    url = f"/v1/teams/{s.team_id}/periods/{s.period_id}/evaluation"

    async def evaluate(at: datetime) -> None:
        response = await perf.client.post(
            url, json={"as_of": at.isoformat()}, headers=perf.as_admin()
        )
        assert response.status_code == 200, response.text

    await evaluate(MID_Q4)  # both struggle: an episode each
    perf.runtime.clock = lambda: MID_Q4 + timedelta(days=1)
    await manual_sale(perf, member_id=str(s.ana), amount="90000.00")
    await evaluate(MID_Q4 + timedelta(days=1))  # Ana's episode closes
    assert await outbox_payloads(perf, "shortfall_recovered") == []
    for day in (2, 3):  # on track and projected above target: announced once
        await evaluate(MID_Q4 + timedelta(days=day))
    [recovery] = await outbox_payloads(perf, "shortfall_recovered")
    [team_event] = (await outbox_payloads(perf, "team_shortfalls_detected"))[:1]
    ana_shortfall = next(x for x in team_event["shortfalls"] if x["member_id"] == str(s.ana))
    assert recovery["member_id"] == str(s.ana)
    assert recovery["shortfall_id"] == ana_shortfall["shortfall_id"]
    assert {m["member_id"] for m in recovery["standings"]} == {str(s.ana), str(s.ben)}


async def test_sales_are_evaluated_once_the_burst_settles(perf: PerfApp):
    s = await perf.seed()
    perf.runtime.clock = lambda: MID_Q4
    settings = perf.runtime.settings
    for amount in ("100.00", "200.00", "300.00"):
        await manual_sale(perf, member_id=str(s.ana), amount=amount)
    # The burst is still loud: nothing is evaluated, nothing announced.
    settings.evaluation_quiet_s, settings.evaluation_max_delay_s = 3600, 3600
    assert await jobs.evaluate_settled(perf.runtime) == 0
    assert (await outbox_types(perf)).count("team_shortfalls_detected") == 0
    # Quiet now: one evaluation for the three sales, and the team is announced once.
    settings.evaluation_quiet_s = 0
    assert await jobs.evaluate_settled(perf.runtime) == 1
    assert await jobs.evaluate_settled(perf.runtime) == 0
    assert (await outbox_types(perf)).count("team_shortfalls_detected") == 1
    # A burst that never goes quiet is still evaluated once it waited long enough.
    settings.evaluation_quiet_s, settings.evaluation_max_delay_s = 3600, 0
    await manual_sale(perf, member_id=str(s.ben), amount="50.00")
    assert await jobs.evaluate_settled(perf.runtime) == 1


async def test_a_rep_with_no_sales_falls_behind_on_the_schedule(perf: PerfApp):
    s = await perf.seed()
    perf.runtime.clock = lambda: MID_Q4
    assert await jobs.evaluate_open_periods(perf.runtime) == 1
    team = await perf.client.get(
        f"/v1/teams/{s.team_id}/periods/{s.period_id}/attainment", headers=perf.as_manager()
    )
    assert {r["status"] for r in team.json()["items"]} == {"struggling"}
    assert (await outbox_types(perf)).count("team_shortfalls_detected") == 1


async def test_period_close_publishes_final_results_once(perf: PerfApp):
    s = await perf.seed()
    await manual_sale(perf, member_id=str(s.ana), amount="70000.00")
    assert await jobs.close_ended_periods(perf.runtime) == 0  # still open at FROZEN
    perf.runtime.clock = lambda: Q4_END + timedelta(hours=1)
    assert await jobs.close_ended_periods(perf.runtime) == 1
    assert await jobs.close_ended_periods(perf.runtime) == 0
    [closed] = await outbox_payloads(perf, "period_closed")
    results = {r["member_id"]: r["achieved"] for r in closed["results"]}
    assert results == {str(s.ana): "70000.00", str(s.ben): "0.00"}
    assert closed["period_name"] == "2026-Q4"


def test_frozen_clock_is_inside_the_seeded_quarter():
    assert Q4_START < FROZEN < Q4_END and FROZEN.tzinfo is UTC


async def test_a_zero_target_with_nothing_sold_shows_no_target_not_on_track(perf_db: PerfApp):
    """The walkthrough's failure: a rep whose whole target moved away was shown on track."""
    perf = perf_db
    s = await perf.seed(targets={"ana": "0.00", "ben": "100000.00"})
    url = f"/v1/teams/{s.team_id}/periods/{s.period_id}/evaluation"
    response = await perf.client.post(
        url, json={"as_of": MID_Q4.isoformat()}, headers=perf.as_admin()
    )
    assert response.status_code == 200, response.text
    rows = {r["member_id"]: r for r in response.json()["items"]}
    assert rows[str(s.ana)]["status"] == "no_target"
    assert rows[str(s.ben)]["status"] == "struggling"
    assert len(response.json()["shortfalls_detected"]) == 1  # Ben's only
    attainment = await perf.client.get(
        f"/v1/teams/{s.team_id}/periods/{s.period_id}/attainment", headers=perf.as_manager()
    )
    shown = {r["member_id"]: r["status"] for r in attainment.json()["items"]}
    assert shown[str(s.ana)] == "no_target"
    # One sale against the zero target: met, so on track.
    perf.runtime.clock = lambda: MID_Q4
    await manual_sale(perf, member_id=str(s.ana), amount="10.00")
    again = await perf.client.post(url, json={"as_of": MID_Q4.isoformat()}, headers=perf.as_admin())
    ana = next(r for r in again.json()["items"] if r["member_id"] == str(s.ana))
    assert ana["status"] == "on_track"
