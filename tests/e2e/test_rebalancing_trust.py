"""Rebalancing people trust, through the real services: consent offers and give-back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from scripts.scenario import (
    DEFAULT_THRESHOLDS,
    HOLD_JUDGEMENT,
    Attain,
    Rep,
    Team,
    followed_targets,
    half_elapsed_period,
    money,
    wait_for,
    wait_until_performance_knows,
)

pytestmark = pytest.mark.e2e

NAMES = ("Ana", "Ben", "Cleo", "Dev")


@pytest.fixture(scope="module")
def period(api: Attain) -> dict:
    """A period that started a month ago and ends in a month: pace can be judged now."""
    starts_on, ends_on = half_elapsed_period()
    return api.define_period("Half elapsed", starts_on, ends_on)


def team_with_cleo_behind(api: Attain, period_id: str, name: str, **policy: Any) -> Team:
    """Four reps on 100 000 each; all but Cleo sell 80 000 by half time; pace is judged."""
    tag = uuid.uuid4().hex[:6]
    team = api.create_team(
        name, [{"name": n, "email": f"{n.lower()}.{tag}@example.com"} for n in NAMES]
    )
    api.put_plan(team, period_id, target="400000.00", summary="s", initiatives=[], measures=[])
    api.allocate(team, period_id, "equal", dry_run=False)
    plan = api.publish(team, period_id)
    api.set_policy(team, **policy)
    wait_until_performance_knows(api, team, period_id, plan)
    api.set_thresholds(team, HOLD_JUDGEMENT)
    api.set_generic_secret()
    for rep in ("Ana", "Ben", "Dev"):
        sell(api, team, rep, "80000.00")
    api.set_thresholds(team, DEFAULT_THRESHOLDS)
    evaluation = api.evaluate(team, period_id)
    assert len(evaluation["shortfalls_detected"]) == 1  # Cleo's
    return team


def sell(api: Attain, team: Team, name: str, amount: str) -> None:
    """A signed CRM sale, waited for until the processor applied it."""
    closed_at = datetime.now(UTC) - timedelta(days=2)
    delivery = api.sale_delivery(email=team.rep(name).email, amount=amount, closed_at=closed_at)
    api.processed_delivery(api.deliver(delivery).json())


def _sum(targets: dict[str, dict]) -> Decimal:
    return sum((money(t["amount"]) for t in targets.values()), Decimal(0))


def test_an_offer_round_where_only_one_rep_accepts(api: Attain, period: dict) -> None:
    period_id = period["id"]
    team = team_with_cleo_behind(api, period_id, "Volunteers", mode="offer", offer_hours=48)
    before = api.targets(team, period_id)
    (round_,) = wait_for(lambda: api.rebalances(team, status="offered"), what="an offer round")
    ana, ben, dev = (team.rep(n) for n in ("Ana", "Ben", "Dev"))
    assert {o["member_id"]: money(o["offered"]) for o in round_["offers"]} == {
        r.id: Decimal("25000.00") for r in (ana, ben, dev)
    }
    assert api.targets(team, period_id) == before  # an offer moves nothing
    api.accept_offer(ana, round_["id"], "20000.00")
    api.accept_offer(ben, round_["id"], "0")
    settled = api.accept_offer(dev, round_["id"], "0.00")
    # The last answer settles the round over Ana's 20 000 only (Cleo may give up to 50 000).
    assert settled["status"] == "applied", settled
    assert [(t["to_member_id"], money(t["amount"])) for t in settled["transfers"]] == [
        (ana.id, Decimal("20000.00"))
    ]
    assert money(settled["moved"]) + money(settled["uncovered"]) == money(settled["requested"])

    def followed() -> Any:
        result = followed_targets(api, team, period_id)()
        return result if result and result[0][ana.id]["version"] > 1 else None

    after, _ = wait_for(followed, what="performance following the accepted uplift")
    assert _sum(after) == _sum(before) == Decimal("400000.00")
    cleo = team.rep("Cleo").id
    assert money(after[cleo]["amount"]) == money(before[cleo]["amount"]) - Decimal("20000.00")
    assert money(after[ana.id]["amount"]) == money(before[ana.id]["amount"]) + Decimal("20000.00")
    assert after[ben.id] == before[ben.id] and after[dev.id] == before[dev.id]

    def recognition(rep: Rep) -> list[dict]:
        """The recognition notes in a rep's own feed (notes are private to their parties)."""
        page = api.get("feedback", "/v1/feedback", token=rep.token, params={"kind": "recognition"})
        return page["items"]

    thanked = wait_for(lambda: recognition(ana), what="Ana's recognition note")
    assert "20000.00 EUR" in thanked[0]["body"] and thanked[0]["member_id"] == ana.id
    assert recognition(ben) == [] and recognition(dev) == []


def test_a_rep_recovers_and_the_give_back_proposal_restores_the_receivers(
    api: Attain, period: dict
) -> None:
    period_id = period["id"]
    team = team_with_cleo_behind(api, period_id, "Comeback", mode="auto", give_back="propose")
    original = {r.id: Decimal("100000.00") for r in team.reps}
    (moved,) = wait_for(lambda: api.rebalances(team, status="applied"), what="the rebalance")
    assert money(moved["moved"]) > 0
    cleo = team.rep("Cleo").id

    def rebalanced() -> Any:
        result = followed_targets(api, team, period_id)()
        return result if result and result[0][cleo]["version"] > 1 else None

    lowered, _ = wait_for(rebalanced, what="performance following the rebalance")
    assert money(lowered[cleo]["amount"]) == original[cleo] - money(moved["moved"])
    # Cleo sells her way back: the first evaluation closes her episode, the next one hands back.
    sell(api, team, "Cleo", "120000.00")
    api.evaluate(team, period_id)
    api.evaluate(team, period_id)
    (proposal,) = wait_for(
        lambda: api.rebalances(team, status="proposed"), what="the give-back proposal"
    )
    assert proposal["kind"] == "give_back" and proposal["giver_id"] == cleo
    assert {t["to_member_id"] for t in proposal["transfers"]} == {cleo}
    assert money(proposal["moved"]) == money(moved["moved"])
    approved = api.approve(team, proposal["id"])
    assert approved["status"] == "approved"

    def restored() -> Any:
        result = followed_targets(api, team, period_id)()
        return result if result and result[0][cleo]["version"] > 2 else None

    after, attainment = wait_for(restored, what="performance following the give-back")
    # Every receiver is back on their original target, and so is Cleo.
    assert {m: money(t["amount"]) for m, t in after.items()} == original
    assert {m: money(r["target"]) for m, r in attainment.items()} == original
