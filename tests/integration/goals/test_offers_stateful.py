"""Consent offers through the real app and database, as a hypothesis state machine."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from services.goals.adapters.orm import Rebalance
from services.goals.handlers.offers import settle_expired_rounds
from shared.events import wrap
from shared.timeutil import utcnow
from tests.integration.goals.conftest import make_goals, seed
from tests.integration.goals.test_reactions import (
    plan_of,
    rebalances,
    record_of,
    set_policy,
    team_shortfalls,
    total,
)

pytestmark = pytest.mark.integration

OFFERED = 2_500_000  # each receiver's room under the 25 % cap, in cents
GIVABLE = 5_000_000  # the giver keeps half their original target (max_decrease_pct 50)
REQUESTED = 6_000_000


def money(minor: int) -> str:
    """Cents as the API's decimal text."""
    return str(Decimal(minor).scaleb(-2).quantize(Decimal("0.01")))


class OfferRoundMachine(RuleBasedStateMachine):
    """Reps answer (or over-answer) in any order, managers try to answer for them, time runs out."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory()
        self.apps = make_goals(f"sqlite+aiosqlite:///{Path(self.tmp.name) / 'g.db'}")
        self.g = self.run(self.apps.__anext__())
        self.s = self.run(seed(self.g, n=4, target="400000.00"))
        self.run(set_policy(self.g, self.s, mode="offer", cooldown_hours=0))
        event = team_shortfalls(self.g, self.s, givers=(0,))
        self.run(self.g.runtime.consumer._processor.process(record_of(wrap(event))))
        [row] = self.run(rebalances(self.g, self.s))
        self.rebalance_id = row["id"]
        self.answers: dict[str, int] = {}
        self.expired = False
        self.settled = False

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def receiver(self, i: int) -> str:
        return str(self.s.members[i]["id"])

    @rule(
        i=st.integers(1, 3),
        amount=st.one_of(
            st.just(0),
            st.integers(1, OFFERED - 1),
            st.just(OFFERED),
            st.integers(OFFERED + 1, 10**9),
        ),
        by_manager=st.booleans(),
    )
    def answer(self, i: int, amount: int, by_manager: bool) -> None:
        member = self.receiver(i)
        headers = (
            self.g.as_manager(self.s.team_id)
            if by_manager
            else self.g.as_rep(member, team=self.s.team_id)
        )
        r = self.run(
            self.g.client.post(
                f"/v1/rebalances/{self.rebalance_id}/offers/{member}/acceptance",
                json={"amount": money(amount)},
                headers=headers,
            )
        )
        if by_manager:
            expected = 403
        elif self.settled or self.expired or member in self.answers:
            expected = 409
        elif amount > OFFERED:
            expected = 422
        else:
            expected = 200
        assert r.status_code == expected, (r.status_code, r.text)
        assert r.headers["content-type"] == (
            "application/json" if expected == 200 else "application/problem+json"
        )
        if expected == 200:
            self.answers[member] = amount
            self.settled = len(self.answers) == 3

    @precondition(lambda self: not self.expired)
    @rule()
    def expire(self) -> None:
        async def lapse() -> None:
            table = Rebalance.__table__
            async with self.g.runtime.engine.begin() as conn:
                await conn.execute(
                    sa.update(table)
                    .where(table.c.id == uuid.UUID(self.rebalance_id))
                    .values(expires_at=utcnow() - timedelta(seconds=1))
                )

        self.run(lapse())
        self.expired = True

    @rule()
    def sweep(self) -> None:
        settled = self.run(settle_expired_rounds(uow_factory=self.g.runtime.uow))
        assert settled == (1 if self.expired and not self.settled else 0)
        self.settled = self.settled or self.expired

    @invariant()
    def the_round_shows_the_answers_and_settles_over_the_accepted_room(self) -> None:
        r = self.run(
            self.g.client.get(f"/v1/rebalances/{self.rebalance_id}", headers=self.g.as_admin())
        )
        row = r.json()
        offers = {o["member_id"]: o for o in row["offers"]}
        assert {k: o["offered"] for k, o in offers.items()} == {
            self.receiver(i): money(OFFERED) for i in (1, 2, 3)
        }
        assert {k: o["accepted"] for k, o in offers.items() if o["accepted"] is not None} == {
            k: money(v) for k, v in self.answers.items()
        }
        if not self.settled:
            assert row["status"] == "offered" and row["transfers"] == []
            assert self.run(plan_of(self.g, self.s)) == self.s.plan
            return
        accepted = sum(self.answers.values())
        moved = min(accepted, GIVABLE)
        assert row["status"] == ("applied" if moved else "skipped")
        assert (row["moved"], row["requested"]) == (money(moved), money(REQUESTED))
        assert Decimal(row["moved"]) + Decimal(row["uncovered"]) == Decimal(row["requested"])
        for t in row["transfers"]:
            assert Decimal(t["amount"]) <= Decimal(money(self.answers[t["to_member_id"]]))
        assert total(self.run(plan_of(self.g, self.s))) == Decimal("400000.00")

    def teardown(self) -> None:
        self.run(self.apps.aclose())
        self.loop.close()
        self.tmp.cleanup()


OfferRoundMachine.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_offer_rounds_hold_their_rules_through_the_api = OfferRoundMachine.TestCase
