"""require_checkin_before_rebalance: target moves for a struggling rep only after a conversation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.events import wrap
from shared.events.feedback import ConversationHeld
from tests.integration.goals.conftest import seed
from tests.integration.goals.test_reactions import (
    plan_of,
    rebalances,
    record_of,
    set_policy,
    team_shortfalls,
    total,
)

pytestmark = pytest.mark.integration


def conversation(g, s, event, giver: int, **changes) -> ConversationHeld:
    """Feedback's fact: the manager answered the giver's check-in in their episode."""
    shortfall = next(x for x in event.shortfalls if str(x.member_id) == str(s.members[giver]["id"]))
    fields = {
        "org_id": g.org,
        "team_id": s.team_id,
        "member_id": shortfall.member_id,
        "kind": "check_in_answered",
        "reference_id": uuid.uuid4(),
        "held_at": event.as_of + timedelta(minutes=30),
        "shortfall_id": shortfall.shortfall_id,
        "period_id": s.period["id"],
    }
    return ConversationHeld(**fields | changes)


def by_member(row: dict) -> dict[str, dict]:
    return {g["member_id"]: g for g in row["givers"]}


async def test_a_rep_without_a_conversation_is_held_back_while_the_others_move(goals_db):
    """Two struggling reps, one talked to: only that one's shortfall moves; the other says why."""
    g = goals_db
    s = await seed(g, n=4, target="400000.00")
    await set_policy(
        g,
        s,
        mode="auto",
        cooldown_hours=0,
        max_increase_pct="100",
        require_checkin_before_rebalance=True,
    )
    processor = g.runtime.consumer._processor
    first = team_shortfalls(g, s, givers=(0, 1), as_of=datetime(2030, 2, 1, tzinfo=UTC))
    # A conversation of another episode of rep 1 (an earlier one) does not count for this one.
    stale = conversation(g, s, first, 1, shortfall_id=uuid.uuid4())
    for fact in (conversation(g, s, first, 0), stale):
        assert (await processor.process(record_of(wrap(fact)))).status == "applied"
    assert (await processor.process(record_of(wrap(first)))).status == "applied"

    [row] = await rebalances(g, s)
    assert row["status"] == "applied" and row["reason"] is None
    givers = by_member(row)
    talked, silent = str(s.members[0]["id"]), str(s.members[1]["id"])
    assert givers[talked]["held_back"] is None and Decimal(givers[talked]["moved"]) > 0
    assert givers[silent]["held_back"] == "no_conversation"
    assert givers[silent]["moved"] == "0.00"
    assert givers[silent]["uncovered"] == givers[silent]["requested"] == "60000.00"
    assert {t["from_member_id"] for t in row["transfers"]} == {talked}
    plan = await plan_of(g, s)
    assert total(plan) == Decimal("400000.00")
    silent_target = next(t for t in plan["targets"] if t["member_id"] == silent)
    assert silent_target["amount"] == "100000.00"

    # The manager talks with rep 1 in this episode; they are still short at the next
    # evaluation, so now their shortfall moves.
    fact = conversation(g, s, first, 1, kind="one_on_one_held")
    assert (await processor.process(record_of(wrap(fact)))).status == "applied"
    later = team_shortfalls(g, s, givers=(1,), as_of=first.as_of + timedelta(hours=2))
    later = later.model_copy(
        update={
            "shortfalls": [
                x.model_copy(update={"shortfall_id": first.shortfalls[1].shortfall_id})
                for x in later.shortfalls
            ]
        }
    )
    assert (await processor.process(record_of(wrap(later)))).status == "applied"
    rows = await rebalances(g, s)
    assert [r["status"] for r in rows] == ["applied", "applied"]
    assert by_member(rows[1])[silent]["held_back"] is None
    assert Decimal(by_member(rows[1])[silent]["moved"]) > 0
    assert total(await plan_of(g, s)) == Decimal("400000.00")


async def test_nobody_talked_to_means_a_skipped_decision_that_says_so_once(goals_db):
    """With no conversation at all nothing moves: skipped, `no_conversation`, reported once."""
    g = goals_db
    s = await seed(g)
    await set_policy(g, s, mode="auto", cooldown_hours=0, require_checkin_before_rebalance=True)
    processor = g.runtime.consumer._processor
    event = team_shortfalls(g, s, givers=(0,))
    before = await plan_of(g, s)
    assert (await processor.process(record_of(wrap(event)))).status == "applied"
    again = event.model_copy(update={"evaluation_id": uuid.uuid4()})
    assert (await processor.process(record_of(wrap(again)))).status == "applied"
    [row] = await rebalances(g, s)
    assert (row["status"], row["reason"]) == ("skipped", "no_conversation")
    assert row["givers"][0]["held_back"] == "no_conversation"
    assert await plan_of(g, s) == before
    policy = await g.client.get(f"/v1/teams/{s.team_id}/rebalance-policy", headers=g.as_admin())
    assert policy.json()["require_checkin_before_rebalance"] is True


async def test_without_the_switch_conversations_change_nothing(goals_db):
    """The switch is off by default: a struggling rep's shortfall moves with no conversation."""
    g = goals_db
    s = await seed(g)
    await set_policy(g, s, mode="auto", cooldown_hours=0)
    processor = g.runtime.consumer._processor
    assert (await processor.process(record_of(wrap(team_shortfalls(g, s))))).status == "applied"
    [row] = await rebalances(g, s)
    assert row["status"] == "applied" and row["givers"][0]["held_back"] is None


async def test_a_proposal_approved_later_keeps_the_held_back_rep_where_they_are(goals_db):
    """Under `propose`, approving re-runs the movable givers only."""
    g = goals_db
    s = await seed(g, n=4, target="400000.00")
    await set_policy(
        g,
        s,
        mode="propose",
        cooldown_hours=0,
        max_increase_pct="100",
        require_checkin_before_rebalance=True,
    )
    processor = g.runtime.consumer._processor
    event = team_shortfalls(g, s, givers=(0, 1))
    assert (
        await processor.process(record_of(wrap(conversation(g, s, event, 0))))
    ).status == "applied"
    assert (await processor.process(record_of(wrap(event)))).status == "applied"
    [row] = await rebalances(g, s)
    assert row["status"] == "proposed"
    approved = await g.client.post(f"/v1/rebalances/{row['id']}/approval", headers=g.as_admin())
    assert approved.status_code == 200, approved.text
    givers = by_member(approved.json())
    assert givers[str(s.members[1]["id"])]["held_back"] == "no_conversation"
    assert givers[str(s.members[1]["id"])]["moved"] == "0.00"
    assert Decimal(givers[str(s.members[0]["id"])]["moved"]) > 0
    assert total(await plan_of(g, s)) == Decimal("400000.00")
