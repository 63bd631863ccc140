"""Consent offers through the real consumer processor and API, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from services.goals.adapters.orm import Rebalance
from services.goals.handlers.offers import settle_expired_rounds
from shared.events import wrap
from shared.timeutil import utcnow
from tests.integration.goals.conftest import seed
from tests.integration.goals.test_reactions import (
    outbox_types,
    plan_of,
    rebalances,
    record_of,
    set_policy,
    team_shortfalls,
    total,
)

pytestmark = pytest.mark.integration


async def open_round(g, s):
    """A team of four, rep 0 struggling 60 000 short, mode offer: the round it opens."""
    await set_policy(g, s, mode="offer", cooldown_hours=0, offer_hours=48)
    event = team_shortfalls(g, s, givers=(0,))
    assert (await g.runtime.consumer._processor.process(record_of(wrap(event)))).status == (
        "applied"
    )
    [row] = await rebalances(g, s)
    return row


def accept(g, s, row, i, amount, headers=None):
    """POST rep i's acceptance (as that rep unless told otherwise)."""
    member = s.members[i]["id"]
    return g.client.post(
        f"/v1/rebalances/{row['id']}/offers/{member}/acceptance",
        json={"amount": amount},
        headers=headers or g.as_rep(member, team=s.team_id),
    )


async def test_an_offer_round_moves_only_what_the_reps_accepted(goals_db):
    g = goals_db
    s = await seed(g, n=4, target="400000.00")
    row = await open_round(g, s)
    # Nothing moves yet; each on-track rep is offered its room under the 25 % cap.
    assert row["status"] == "offered" and row["transfers"] == [] and row["expires_at"]
    assert [(o["member_id"], o["offered"], o["accepted"]) for o in row["offers"]] == sorted(
        (str(m["id"]), "25000.00", None) for m in s.members[1:]
    )
    assert await plan_of(g, s) == s.plan
    types = await outbox_types(g)
    assert types.count("attain.goals.uplift_offered.v1") == 3

    # A rep sees their own offer only; a manager cannot volunteer a rep.
    mine = await g.client.get(
        f"/v1/rebalances/{row['id']}", headers=g.as_rep(s.members[1]["id"], team=s.team_id)
    )
    assert mine.status_code == 200 and [o["member_id"] for o in mine.json()["offers"]] == [
        str(s.members[1]["id"])
    ]
    giver = g.as_rep(s.members[0]["id"], team=s.team_id)
    assert (await g.client.get(f"/v1/rebalances/{row['id']}", headers=giver)).status_code == 403
    assert (await accept(g, s, row, 3, "10.00", headers=g.as_manager(s.team_id))).status_code == 403
    assert (await accept(g, s, row, 0, "10.00")).status_code == 403  # the giver had no offer

    partial = await accept(g, s, row, 1, "10000.00")
    assert partial.status_code == 200, partial.text
    assert partial.json()["offers"][0]["accepted"] == "10000.00"
    assert partial.json()["status"] == "offered"
    assert (await accept(g, s, row, 1, "1.00")).status_code == 409  # answered once
    over = await accept(g, s, row, 3, "25000.01")
    assert over.status_code == 422 and over.headers["content-type"] == "application/problem+json"
    assert (await accept(g, s, row, 2, "0")).status_code == 200  # declines
    last = await accept(g, s, row, 3, "25000.00")
    assert last.status_code == 200, last.text

    # The last answer settles: the water-fill over 10 000 + 0 + 25 000 of accepted room.
    settled = last.json()
    assert settled["status"] == "applied"
    assert (settled["moved"], settled["uncovered"], settled["requested"]) == (
        "35000.00",
        "25000.00",
        "60000.00",
    )
    got = {t["to_member_id"]: t["amount"] for t in settled["transfers"]}
    assert got == {str(s.members[1]["id"]): "10000.00", str(s.members[3]["id"]): "25000.00"}
    assert total(await plan_of(g, s)) == Decimal("400000.00")
    assert (await accept(g, s, row, 2, "1.00")).status_code == 409  # settled
    types = await outbox_types(g)
    assert types.count("attain.goals.offer_accepted.v1") == 3
    assert types.count("attain.goals.targets_rebalanced.v1") == 1
    giver = s.target_of(s.members[0]["id"])["id"]
    history = (await g.client.get(f"/v1/targets/{giver}/history", headers=g.as_admin())).json()
    assert history["items"][-1]["reason"] == "rebalance"


async def test_an_expired_round_refuses_late_answers_and_settles_what_was_accepted(goals_db):
    g = goals_db
    s = await seed(g, n=4, target="400000.00")
    row = await open_round(g, s)
    assert (await accept(g, s, row, 2, "5000.00")).status_code == 200
    # Not yet due: the sweep leaves it open.
    assert await settle_expired_rounds(uow_factory=g.runtime.uow) == 0
    async with g.runtime.engine.begin() as conn:
        await conn.execute(
            sa.update(Rebalance.__table__)
            .where(Rebalance.__table__.c.id == uuid.UUID(row["id"]))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    late = await accept(g, s, row, 1, "1000.00")
    assert late.status_code == 409 and "expired" in late.json()["detail"]
    assert await settle_expired_rounds(uow_factory=g.runtime.uow) == 1
    assert await settle_expired_rounds(uow_factory=g.runtime.uow) == 0  # once
    [settled] = await rebalances(g, s)
    assert (settled["status"], settled["moved"], settled["uncovered"]) == (
        "applied",
        "5000.00",
        "55000.00",
    )
    assert [t["to_member_id"] for t in settled["transfers"]] == [str(s.members[2]["id"])]
    assert total(await plan_of(g, s)) == Decimal("400000.00")


async def test_a_round_nobody_accepts_moves_nothing_and_blocks_new_rounds_while_open(goals):
    s = await seed(goals, n=3)
    row = await open_round(goals, s)
    again = team_shortfalls(goals, s, givers=(0,))
    await goals.runtime.consumer._processor.process(record_of(wrap(again)))
    rows = await rebalances(goals, s)
    assert [(r["status"], r["reason"]) for r in rows] == [
        ("offered", None),
        ("skipped", "offer_round_open"),
    ]
    for i in (1, 2):
        assert (await accept(goals, s, row, i, "0.00")).status_code == 200
    first = (await rebalances(goals, s))[0]
    assert (first["status"], first["reason"], first["moved"]) == (
        "skipped",
        "nothing_accepted",
        "0.00",
    )
    assert await plan_of(goals, s) == s.plan
