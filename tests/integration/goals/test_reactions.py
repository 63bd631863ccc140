"""Goals' reactions to performance and feedback facts, through the real consumer processor."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from shared.events import to_kafka, wrap
from shared.events.feedback import AdjustTarget, DisputeResolved, ReassignSaleCredit
from shared.events.performance import (
    MemberFigures,
    MemberResult,
    MemberShortfall,
    MemberSnapshot,
    PeriodClosed,
    ShortfallDetected,
    ShortfallRecovered,
    TeamShortfallsDetected,
)
from tests.integration.goals.conftest import seed

pytestmark = pytest.mark.integration


@dataclass
class KafkaRecord:
    """A Kafka record as the processor reads it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list


def record_of(envelope, offset: int = 0) -> KafkaRecord:
    """The Kafka record of an envelope."""
    message = to_kafka(envelope)
    return KafkaRecord(
        topic=f"attain.{envelope.type.split('.')[1]}.v1",
        partition=0,
        offset=offset,
        key=message.key if isinstance(message.key, bytes) else None,
        value=message.value,
        headers=list(message.headers.items()),
    )


def shortfall(g, s, *, giver: int = 0, versions=None, as_of=None) -> ShortfallDetected:
    """Giver struggling at 40 % of target, the others on track well ahead."""
    snap = []
    for i, m in enumerate(s.members):
        t = s.target_of(m["id"])
        amount = Decimal(t["amount"])
        struggling = i == giver
        snap.append(
            MemberSnapshot(
                member_id=m["id"],
                target_id=t["id"],
                target_version=(versions or {}).get(t["id"], t["version"]),
                target=amount,
                achieved=Decimal("20000") if struggling else Decimal("60000"),
                projected=amount * Decimal("0.4") if struggling else amount * Decimal("1.5"),
                status="struggling" if struggling else "on_track",
            )
        )
    giver_target = Decimal(s.target_of(s.members[giver]["id"])["amount"])
    return ShortfallDetected(
        org_id=g.org,
        team_id=s.team_id,
        shortfall_id=uuid.uuid4(),
        member_id=s.members[giver]["id"],
        period_id=s.period["id"],
        shortfall=giver_target * Decimal("0.6"),
        currency="EUR",
        as_of=as_of or datetime(2030, 2, 1, tzinfo=UTC),
        period_ends_at=datetime(2030, 4, 1, tzinfo=UTC),
        snapshot=snap,
    )


def team_shortfalls(g, s, *, givers=(0,), as_of=None) -> TeamShortfallsDetected:
    """One team evaluation: the givers at 40 % of target, the others on track well ahead."""
    legacy = shortfall(g, s, giver=givers[0], as_of=as_of)
    standings = []
    for i, snap in enumerate(legacy.snapshot):
        struggling = i in givers
        standings.append(
            MemberFigures(
                **snap.model_dump()
                | {
                    "achieved": Decimal("20000") if struggling else Decimal("60000"),
                    "projected": snap.target * (Decimal("0.4") if struggling else Decimal("1.5")),
                    "status": "struggling" if struggling else "on_track",
                }
            )
        )
    return TeamShortfallsDetected(
        org_id=g.org,
        team_id=s.team_id,
        evaluation_id=uuid.uuid4(),
        period_id=s.period["id"],
        currency="EUR",
        as_of=legacy.as_of,
        period_ends_at=legacy.period_ends_at,
        shortfalls=[
            MemberShortfall(
                shortfall_id=uuid.uuid4(),
                member_id=standings[i].member_id,
                episode=1,
                shortfall=standings[i].target * Decimal("0.6"),
                new=True,
            )
            for i in givers
        ],
        standings=standings,
    )


async def set_policy(g, s, **policy) -> None:
    """PUT a rebalance policy."""
    r = await g.client.put(
        f"/v1/teams/{s.team_id}/rebalance-policy", json=policy, headers=g.as_admin()
    )
    assert r.status_code == 200, r.text


async def plan_of(g, s) -> dict:
    """The plan as the API shows it."""
    r = await g.client.get(f"/v1/teams/{s.team_id}/plans/{s.period['id']}", headers=g.as_admin())
    return r.json()


async def rebalances(g, s) -> list[dict]:
    """Every rebalance of the team."""
    r = await g.client.get(f"/v1/teams/{s.team_id}/rebalances", headers=g.as_admin())
    return r.json()["items"]


async def outbox_types(g) -> list[str]:
    """Types of every outbox row, in order."""
    outbox = g.runtime.plumbing.outbox
    async with g.runtime.engine.connect() as conn:
        rows = await conn.execute(sa.select(outbox.c.type).order_by(outbox.c.created_at))
        return [r[0] for r in rows]


def total(plan: dict) -> Decimal:
    """Sum of the plan's individual targets."""
    return sum((Decimal(t["amount"]) for t in plan["targets"]), Decimal(0))


async def test_a_shortfall_delivered_twice_yields_one_rebalance(goals_db):
    g = goals_db
    s = await seed(g)
    await set_policy(g, s, mode="auto")
    record = record_of(wrap(team_shortfalls(g, s)))
    processor = g.runtime.consumer._processor
    assert (await processor.process(record)).status == "applied"
    assert (await processor.process(record)).status == "duplicate"
    rows = await rebalances(g, s)
    assert len(rows) == 1 and rows[0]["status"] == "applied", rows
    assert Decimal(rows[0]["moved"]) + Decimal(rows[0]["uncovered"]) == Decimal("60000.00")
    plan = await plan_of(g, s)
    assert total(plan) == Decimal("300000.00")
    giver = s.target_of(s.members[0]["id"])["id"]
    assert next(t for t in plan["targets"] if t["id"] == giver)["amount"] == "50000.00"
    types = await outbox_types(g)
    assert types.count("attain.goals.targets_rebalanced.v1") == 1
    assert types.count("attain.goals.target_changed.v1") == 3
    history = (await g.client.get(f"/v1/targets/{giver}/history", headers=g.as_admin())).json()
    last = history["items"][-1]
    assert last["reason"] == "rebalance" and last["source_event_id"] == rows[0]["source_event_id"]


async def test_figures_older_than_a_persons_target_change_are_skipped(goals_db):
    g = goals_db
    s = await seed(g)
    await set_policy(g, s, mode="auto", cooldown_hours=0)
    old = team_shortfalls(g, s, as_of=datetime.now(UTC) - timedelta(hours=1))
    edited = s.target_of(s.members[1]["id"])
    r = await g.client.patch(
        f"/v1/targets/{edited['id']}",
        json={"amount": "110000.00", "reason": "new account"},
        headers=g.as_admin(),
    )
    assert r.status_code == 200
    before = await plan_of(g, s)
    processor = g.runtime.consumer._processor
    assert (await processor.process(record_of(wrap(old)))).status == "applied"
    rows = await rebalances(g, s)
    assert [r["status"] for r in rows] == ["skipped"]
    # The edit re-spread the remainder over the others: every target moved after the figures.
    assert rows[0]["reason"].startswith("stale_figures: ") and edited["id"] in rows[0]["reason"]
    assert await plan_of(g, s) == before


async def test_a_rebalance_never_makes_the_next_evaluation_stale(goals_db):
    """The measured failure: after the first rebalance, every later shortfall was dropped."""
    g = goals_db
    s = await seed(g, n=4, target="400000.00")
    await set_policy(g, s, mode="auto", cooldown_hours=0, max_increase_pct="100")
    processor = g.runtime.consumer._processor
    first = team_shortfalls(g, s, givers=(0,))
    second = team_shortfalls(g, s, givers=(1,), as_of=first.as_of + timedelta(hours=1))
    for event in (first, second):  # the second still carries performance's old versions
        assert (await processor.process(record_of(wrap(event)))).status == "applied"
    rows = await rebalances(g, s)
    assert [r["status"] for r in rows] == ["applied", "applied"], rows
    assert [r["givers"][0]["member_id"] for r in rows] == [
        str(s.members[0]["id"]),
        str(s.members[1]["id"]),
    ]
    for row in rows:
        [giver] = row["givers"]
        assert Decimal(giver["moved"]) > 0
        assert Decimal(giver["moved"]) + Decimal(giver["uncovered"]) == Decimal(giver["requested"])
    assert total(await plan_of(g, s)) == Decimal("400000.00")


async def test_one_decision_moves_every_struggling_reps_shortfall(goals_db):
    g = goals_db
    s = await seed(g, n=5, target="500000.00")
    await set_policy(g, s, mode="auto", cooldown_hours=0, max_increase_pct="25")
    processor = g.runtime.consumer._processor
    event = team_shortfalls(g, s, givers=(0, 1, 2))
    record = record_of(wrap(event))
    assert (await processor.process(record)).status == "applied"
    [row] = await rebalances(g, s)
    assert row["status"] == "applied"
    assert [x["member_id"] for x in row["givers"]] == sorted(
        str(s.members[i]["id"]) for i in range(3)
    )
    # 3 x 60 000 of shortfall against 2 x 25 000 of room under the cap: shared equally.
    assert {x["moved"] for x in row["givers"]} <= {"16666.66", "16666.67"}
    assert sum(Decimal(x["moved"]) for x in row["givers"]) == Decimal("50000.00")
    assert all(
        Decimal(x["moved"]) + Decimal(x["uncovered"]) == Decimal(x["requested"])
        for x in row["givers"]
    )
    assert total(await plan_of(g, s)) == Decimal("500000.00")
    types = await outbox_types(g)
    assert types.count("attain.goals.targets_rebalanced.v1") == 1
    assert (await processor.process(record)).status == "duplicate"
    # Evaluated again, the same claims still uncovered and the receivers at their cap: the
    # first report stands, no new row.
    again = event.model_copy(update={"evaluation_id": uuid.uuid4()})
    assert (await processor.process(record_of(wrap(again)))).status == "applied"
    assert len(await rebalances(g, s)) == 1


async def test_policy_off_freeze_and_cooldown_are_recorded_as_skipped(goals):
    s = await seed(goals)
    processor = goals.runtime.consumer._processor
    await set_policy(goals, s, mode="off")
    await processor.process(record_of(wrap(team_shortfalls(goals, s))))
    await set_policy(goals, s, mode="propose", freeze_days_before_end=7, cooldown_hours=24)
    late = datetime(2030, 3, 28, tzinfo=UTC)
    await processor.process(record_of(wrap(team_shortfalls(goals, s, as_of=late))))
    first = datetime(2030, 2, 1, tzinfo=UTC)
    await processor.process(record_of(wrap(team_shortfalls(goals, s, as_of=first))))
    soon = first + timedelta(hours=3)
    await processor.process(record_of(wrap(team_shortfalls(goals, s, as_of=soon))))
    rows = await rebalances(goals, s)
    assert [(r["status"], r["reason"]) for r in rows] == [
        ("skipped", "policy_off"),
        ("skipped", "freeze_window"),
        ("proposed", None),
        ("skipped", "cooldown"),
    ]


async def test_a_proposal_is_rerun_when_approved_and_refused_after_a_persons_change(goals):
    s = await seed(goals)
    c, manager = goals.client, goals.as_manager(s.team_id)
    await set_policy(goals, s, mode="propose", cooldown_hours=0)
    processor = goals.runtime.consumer._processor
    await processor.process(record_of(wrap(team_shortfalls(goals, s))))
    await processor.process(record_of(wrap(team_shortfalls(goals, s))))
    first, second = await rebalances(goals, s)
    assert first["status"] == "superseded" and second["status"] == "proposed"
    assert second["transfers"]
    assert (await plan_of(goals, s))["targets"] == s.plan["targets"]  # nothing moved yet
    read = await c.get(f"/v1/rebalances/{second['id']}", headers=manager)
    assert read.json() == second
    stale = await c.post(f"/v1/rebalances/{first['id']}/approval", headers=manager)
    assert stale.status_code == 409
    approved = await c.post(f"/v1/rebalances/{second['id']}/approval", headers=manager)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    plan = await plan_of(goals, s)
    assert total(plan) == Decimal("300000.00") and plan["targets"] != s.plan["targets"]
    again = await c.post(f"/v1/rebalances/{second['id']}/approval", headers=manager)
    assert again.status_code == 409
    types = await outbox_types(goals)
    assert types.count("attain.goals.targets_rebalanced.v1") == 1
    giver = s.target_of(s.members[0]["id"])["id"]
    history = (await c.get(f"/v1/targets/{giver}/history", headers=manager)).json()
    assert history["items"][-1]["reason"] == "proposal_approved"

    # A new proposal, then a person edits a target: the proposal can only be rejected.
    await processor.process(record_of(wrap(team_shortfalls(goals, s, givers=(1,)))))
    third = (await rebalances(goals, s))[-1]
    assert third["status"] == "proposed"
    edited = s.target_of(s.members[2]["id"])
    r = await c.patch(
        f"/v1/targets/{edited['id']}",
        json={"amount": "90000.00", "reason": "territory"},
        headers=goals.as_admin(),
    )
    assert r.status_code == 200, r.text
    refused = await c.post(f"/v1/rebalances/{third['id']}/approval", headers=manager)
    assert refused.status_code == 409 and edited["id"] in refused.json()["changed_targets"]
    rejected = await c.post(f"/v1/rebalances/{third['id']}/rejection", headers=manager)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    repeat = await c.post(f"/v1/rebalances/{third['id']}/rejection", headers=manager)
    assert repeat.status_code == 409


async def test_the_earlier_one_member_shortfall_is_still_answered(goals_db):
    g = goals_db
    s = await seed(g)
    await set_policy(g, s, mode="auto")
    processor = g.runtime.consumer._processor
    assert (await processor.process(record_of(wrap(shortfall(g, s))))).status == "applied"
    [row] = await rebalances(g, s)
    assert row["status"] == "applied" and row["givers"][0]["member_id"] == str(s.members[0]["id"])


async def test_a_member_leaving_hands_on_their_target_and_keeps_the_team_total(goals_db):
    g = goals_db
    s = await seed(g, n=4, target="400000.00")
    leaver = s.members[0]["id"]
    r = await g.client.delete(f"/v1/members/{leaver}", headers=g.as_manager(s.team_id))
    assert r.status_code == 200, r.text
    assert len(r.json()["changed_targets"]) == 4
    plan = await plan_of(g, s)
    assert total(plan) == Decimal("400000.00")
    assert next(t for t in plan["targets"] if t["member_id"] == leaver)["amount"] == "0.00"
    assert leaver not in plan["not_acknowledged"]
    types = await outbox_types(g)
    assert types.count("attain.goals.member_left.v1") == 1
    assert types.count("attain.goals.target_changed.v1") == 4
    history = (
        await g.client.get(f"/v1/targets/{s.target_of(leaver)['id']}/history", headers=g.as_admin())
    ).json()
    assert history["items"][-1]["reason"] == "member_left"


async def test_a_dispute_adjust_target_is_applied_once_and_balanced(goals_db):
    g = goals_db
    s = await seed(g)
    me = s.members[0]["id"]
    event = DisputeResolved(
        org_id=g.org,
        team_id=s.team_id,
        dispute_id=uuid.uuid4(),
        decided_by=str(uuid.uuid4()),
        summary="territory overlap",
        rationale="the account moved mid-quarter",
        actions=[
            AdjustTarget(member_id=me, period_id=s.period["id"], delta=Decimal("-10000")),
            ReassignSaleCredit(sale_id=uuid.uuid4(), to_member_id=me, percent=Decimal(50)),
        ],
    )
    record = record_of(wrap(event))
    processor = g.runtime.consumer._processor
    assert (await processor.process(record)).status == "applied"
    assert (await processor.process(record)).status == "duplicate"
    plan = await plan_of(g, s)
    assert total(plan) == Decimal("300000.00")
    mine = next(t for t in plan["targets"] if t["member_id"] == me)
    assert mine["amount"] == "90000.00" and mine["version"] == 2
    history = (await g.client.get(f"/v1/targets/{mine['id']}/history", headers=g.as_admin())).json()
    assert [h["reason"] for h in history["items"]] == ["allocation", "dispute_outcome"]
    assert history["items"][-1]["source_event_id"]


async def test_a_dispute_that_changes_the_team_total_moves_the_plan_target(goals):
    s = await seed(goals)
    me = s.members[0]["id"]
    event = DisputeResolved(
        org_id=goals.org,
        team_id=s.team_id,
        dispute_id=uuid.uuid4(),
        decided_by="manager",
        summary="s",
        rationale="r",
        actions=[
            AdjustTarget(
                member_id=me, period_id=s.period["id"], delta=Decimal(5000), team_total_changes=True
            )
        ],
    )
    await goals.runtime.consumer._processor.process(record_of(wrap(event)))
    plan = await plan_of(goals, s)
    assert plan["target"] == "305000.00" and total(plan) == Decimal("305000.00")


async def test_closed_periods_become_past_results_for_historical_allocation(goals):
    s = await seed(goals, publish=False)
    a, b = s.members[0]["id"], s.members[1]["id"]
    event = PeriodClosed(
        org_id=goals.org,
        team_id=s.team_id,
        period_id=uuid.uuid4(),
        period_name="2029-Q4",
        starts_on="2029-10-01",
        ends_on="2029-12-31",
        currency="EUR",
        results=[
            MemberResult(member_id=a, target=Decimal(100), achieved=Decimal("120.50")),
            MemberResult(member_id=b, target=Decimal(100), achieved=Decimal("80")),
            MemberResult(member_id=uuid.uuid4(), target=Decimal(1), achieved=Decimal(1)),
        ],
    )
    async with goals.runtime.uow() as uow:
        from services.goals.handlers.events import on_period_closed

        await on_period_closed(event, wrap(event), uow)
        await uow.commit()
    r = await goals.client.get(f"/v1/members/{a}/results", headers=goals.as_admin())
    item = r.json()["items"][0]
    assert (item["achieved"], item["source"], item["period_name"]) == ("120.50", "event", "2029-Q4")


async def recovered(g, s, shortfall_id, *, giver: int = 0, projected: str) -> ShortfallRecovered:
    """The giver out of their episode and projected at `projected`; the others as they stand."""
    plan = await plan_of(g, s)
    by_member = {t["member_id"]: t for t in plan["targets"]}
    standings = []
    for i, m in enumerate(s.members):
        t = by_member[str(m["id"])]
        standings.append(
            MemberFigures(
                member_id=m["id"],
                target_id=t["id"],
                target_version=t["version"],
                target=Decimal(t["amount"]),
                achieved=Decimal("20000") if i == giver else Decimal("60000"),
                projected=Decimal(projected) if i == giver else Decimal(t["amount"]) * 2,
                status="on_track",
            )
        )
    return ShortfallRecovered(
        org_id=g.org,
        team_id=s.team_id,
        member_id=s.members[giver]["id"],
        period_id=s.period["id"],
        shortfall_id=shortfall_id,
        episode=1,
        currency="EUR",
        as_of=datetime(2030, 2, 20, tzinfo=UTC),
        standings=standings,
    )


async def test_a_recovered_giver_gets_back_what_their_episode_moved_away(goals_db):
    g = goals_db
    s = await seed(g)
    c, manager = g.client, g.as_manager(s.team_id)
    await set_policy(g, s, mode="auto", cooldown_hours=0)
    processor = g.runtime.consumer._processor
    event = team_shortfalls(g, s)
    assert (await processor.process(record_of(wrap(event)))).status == "applied"
    [moved] = await rebalances(g, s)
    giver_id = str(s.members[0]["id"])
    after_rebalance = await plan_of(g, s)
    given = Decimal(moved["moved"])
    assert given > 0
    # The giver sold their way back: projected 30 000 above their lowered target.
    lowered = next(t for t in after_rebalance["targets"] if t["member_id"] == giver_id)
    projected = Decimal(lowered["amount"]) + Decimal("30000")
    shortfall_id = event.shortfalls[0].shortfall_id
    back = record_of(wrap(await recovered(g, s, shortfall_id, projected=str(projected))))
    assert (await processor.process(back)).status == "applied"
    proposal = (await rebalances(g, s))[-1]
    assert (proposal["kind"], proposal["status"]) == ("give_back", "proposed")  # the default
    assert Decimal(proposal["moved"]) == min(given, Decimal("30000"))
    assert {t["to_member_id"] for t in proposal["transfers"]} == {giver_id}
    approved = await c.post(f"/v1/rebalances/{proposal['id']}/approval", headers=manager)
    assert approved.status_code == 200, approved.text
    restored = await plan_of(g, s)
    assert total(restored) == Decimal("300000.00")
    mine = next(t for t in restored["targets"] if t["member_id"] == giver_id)
    assert Decimal(mine["amount"]) == Decimal(lowered["amount"]) + Decimal(approved.json()["moved"])
    history = (await c.get(f"/v1/targets/{mine['id']}/history", headers=manager)).json()
    assert history["items"][-1]["reason"] == "give_back"
    # One give-back per episode, however often the recovery is announced.
    again = record_of(wrap(await recovered(g, s, shortfall_id, projected=str(projected * 2))))
    assert (await processor.process(again)).status == "applied"
    assert len(await rebalances(g, s)) == 2
    # The rep's statement nets every move with its source.
    rep = g.as_rep(s.members[0]["id"], team=s.team_id)
    statement = await c.get(
        f"/v1/members/{giver_id}/periods/{s.period['id']}/transfer-statement", headers=rep
    )
    assert statement.status_code == 200, statement.text
    body = statement.json()
    assert Decimal(body["given"]) == given
    assert Decimal(body["received"]) == Decimal(approved.json()["moved"])
    assert Decimal(body["net"]) == Decimal(body["received"]) - Decimal(body["given"])
    assert [line["kind"] for line in body["lines"]][-1] == "give_back"
    assert sum(Decimal(line["amount"]) for line in body["lines"]) == Decimal(body["net"])


async def test_give_back_auto_applies_and_off_records_why(goals):
    s = await seed(goals)
    processor = goals.runtime.consumer._processor
    await set_policy(goals, s, mode="auto", cooldown_hours=0, give_back="off")
    event = team_shortfalls(goals, s)
    await processor.process(record_of(wrap(event)))
    shortfall_id = event.shortfalls[0].shortfall_id
    await processor.process(
        record_of(wrap(await recovered(goals, s, shortfall_id, projected="200000.00")))
    )
    last = (await rebalances(goals, s))[-1]
    assert (last["kind"], last["status"], last["reason"]) == ("give_back", "skipped", "policy_off")
    await set_policy(goals, s, mode="auto", cooldown_hours=0, give_back="auto")
    second = team_shortfalls(goals, s, givers=(1,))
    await processor.process(record_of(wrap(second)))
    before = await plan_of(goals, s)
    await processor.process(
        record_of(
            wrap(
                await recovered(
                    goals, s, second.shortfalls[0].shortfall_id, giver=1, projected="200000.00"
                )
            )
        )
    )
    last = (await rebalances(goals, s))[-1]
    assert (last["kind"], last["status"]) == ("give_back", "applied")
    assert total(await plan_of(goals, s)) == total(before) == Decimal("300000.00")
