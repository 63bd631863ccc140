"""The whole loop across real processes, through HTTP only, on SQLite and on PostgreSQL.

plan -> publish -> acknowledge -> signed CRM sales -> attainment -> evaluation -> shortfall ->
rebalance (auto, and propose/approve) -> performance and feedback follow -> a dispute decided only
after every party is heard moves sale credit -> another organisation sees none of it.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from scripts.run import Stack
from scripts.scenario import (
    DEFAULT_THRESHOLDS,
    HOLD_JUDGEMENT,
    Attain,
    Delivery,
    LoopTeam,
    followed_targets,
    half_elapsed_period,
    money,
    open_dispute_when_known,
    set_up_team,
    wait_for,
    wait_until_performance_knows,
)
from tests.e2e.conftest import (
    STACK_KINDS,
    print_logs,
    record_timing,
    stack_label,
    start_stack,
    stop_stack,
    urls_of,
)
from tests.integration.feedback.test_evidence import recompute
from tests.integration.feedback.test_subscriptions import Receiver

pytestmark = pytest.mark.e2e

TEAM_TARGET = Decimal("300000.00")
#: Ana and Ben sell, Cleo sells nothing. Ana's second deal is the one disputed later.
SALES = (("Ana", "75000.00"), ("Ana", "5000.00"), ("Ben", "60000.00"))
CAP = Decimal("1.25")  # the default policy raises nobody above 125 % of their original target


@dataclass
class AutoLoop:
    """What the auto-rebalancing loop did, for the tests to examine."""

    loop: LoopTeam
    deliveries: list[tuple[str, Delivery]]
    accepted: list[dict]
    attainment_after_sales: dict[str, dict]
    targets_before: dict[str, dict]
    evaluation: dict
    rebalance: dict
    targets_after: dict[str, dict]
    attainment_after: dict[str, dict]

    @property
    def team(self):
        """The team."""
        return self.loop.team

    @property
    def period_id(self) -> str:
        """The period."""
        return self.loop.period["id"]


def _sum(targets: dict[str, dict]) -> Decimal:
    return sum((money(t["amount"]) for t in targets.values()), Decimal(0))


def _achieved(rows: dict[str, dict]) -> dict[str, Decimal]:
    return {m: money(r["achieved"]) for m, r in rows.items()}


def _achieving(api: Attain, loop: LoopTeam, wanted: dict[str, Decimal]) -> Any:
    def probe() -> dict[str, dict] | None:
        rows = api.attainment(loop.team, loop.period["id"])
        return rows if _achieved(rows) == wanted else None

    return probe


@pytest.fixture(scope="module", params=STACK_KINDS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, timings_file: Path
) -> Iterator[Stack]:
    """The whole stack per database and broker kind (the loop must hold on Apache Kafka too)."""
    db, broker = request.param
    running = start_stack(db, tmp_path_factory.mktemp(f"e2e-{db}-{broker}"), broker=broker)
    yield running
    if request.session.testsfailed:
        print_logs(running)
    stop_stack(running)


@pytest.fixture(scope="module")
def period(api: Attain) -> dict:
    """A period that started a month ago and ends in a month: pace can be judged now."""
    starts_on, ends_on = half_elapsed_period()
    return api.define_period("Half elapsed", starts_on, ends_on)


@pytest.fixture(scope="module")
def auto_loop(api: Attain, period: dict, stack: Stack) -> AutoLoop:
    """Drive one team through the loop under an `auto` policy, up to performance following."""
    loop = set_up_team(api, name="EMEA Enterprise", period=period, policy="auto")
    team, period_id = loop.team, period["id"]
    api.set_generic_secret()
    closed_at = datetime.now(UTC) - timedelta(days=3)
    deliveries, accepted = [], []
    expected = {r.id: Decimal(0) for r in team.reps}
    for name, amount in SALES:
        rep = team.rep(name)
        delivery = api.sale_delivery(email=rep.email, amount=amount, closed_at=closed_at)
        started = time.monotonic()
        accepted.append(api.deliver(delivery).json())
        expected[rep.id] += Decimal(amount)
        rows = wait_for(
            _achieving(api, loop, dict(expected)), what=f"{name}'s sale of {amount} in attainment"
        )
        record_timing(
            stack_label(stack),
            f"sale webhook sent -> attainment visible ({name})",
            time.monotonic() - started,
        )
        deliveries.append((name, delivery))
    targets_before = api.targets(team, period_id)
    # Every sale is in: judge pace now with the team's real thresholds.
    api.set_thresholds(team, DEFAULT_THRESHOLDS)
    started = time.monotonic()
    evaluation = api.evaluate(team, period_id)
    cleo = team.rep("Cleo").id

    def rebalanced_and_followed() -> Any:
        result = followed_targets(api, team, period_id)()
        return result if result and result[0][cleo]["version"] > 1 else None

    targets_after, attainment_after = wait_for(
        rebalanced_and_followed, what="the rebalanced targets in performance"
    )
    record_timing(
        stack_label(stack),
        "shortfall evaluation -> rebalanced target visible in performance",
        time.monotonic() - started,
    )
    (rebalance,) = api.rebalances(team)
    return AutoLoop(
        loop=loop,
        deliveries=deliveries,
        accepted=accepted,
        attainment_after_sales=rows,
        targets_before=targets_before,
        evaluation=evaluation,
        rebalance=rebalance,
        targets_after=targets_after,
        attainment_after=attainment_after,
    )


def test_historical_allocation_is_previewed_then_published_and_adds_up_to_the_team_target(
    auto_loop: AutoLoop,
) -> None:
    preview, plan, team = auto_loop.loop.dry_run, auto_loop.loop.plan, auto_loop.team
    assert preview["dry_run"] is True
    assert all(row["target_id"] is None for row in preview["targets"])  # nothing stored
    assert plan["status"] == "published"
    assert plan["method"] == "historical"
    published = {t["member_id"]: t for t in plan["targets"]}
    assert {r["member_id"]: r["amount"] for r in preview["targets"]} == {
        m: t["amount"] for m, t in published.items()
    }
    assert _sum(published) == TEAM_TARGET
    derivation = {team.name_of(m): t["derivation"] for m, t in published.items()}
    assert {d["method"] for d in derivation.values()} == {"historical"}
    assert derivation["Ana"]["inputs"]["source"] == "own_history"
    assert derivation["Cleo"]["inputs"]["source"] == "team_median"  # new: no history of her own
    # More history earns a larger share.
    amounts = {team.name_of(m): money(t["amount"]) for m, t in published.items()}
    assert amounts["Ana"] > amounts["Cleo"] > amounts["Ben"]


def test_rep_acknowledges_their_target_and_the_manager_sees_who_has_not(
    api: Attain, auto_loop: AutoLoop
) -> None:
    team, period_id = auto_loop.team, auto_loop.period_id
    ana = team.rep("Ana")
    target = auto_loop.targets_before[ana.id]
    mine = api.get("goals", f"/v1/targets/{target['id']}", token=ana.token)
    assert mine["derivation"]["method"] == "historical"
    acknowledged = api.acknowledge(ana, target["id"])
    assert acknowledged["acknowledged_at"] is not None
    plan = api.plan(team, period_id)
    assert plan["acknowledged"] == [ana.id]
    assert set(plan["not_acknowledged"]) == {team.rep("Ben").id, team.rep("Cleo").id}


def test_signed_crm_sales_count_once_towards_their_reps_attainment(
    api: Attain, auto_loop: AutoLoop
) -> None:
    team, period_id = auto_loop.team, auto_loop.period_id
    assert [api.processed_delivery(a)["applied"] for a in auto_loop.accepted] == [1, 1, 1]
    achieved = {team.name_of(m): v for m, v in _achieved(auto_loop.attainment_after_sales).items()}
    assert achieved == {
        "Ana": Decimal("80000.00"),
        "Ben": Decimal("60000.00"),
        "Cleo": Decimal("0.00"),
    }
    # The CRM retries a delivery (same webhook-id, fresh signature): same outcome, no new sale.
    _, first = auto_loop.deliveries[0]
    again = api.processed_delivery(api.deliver(first).json())
    assert (again["outcome"], again["applied"], again["duplicates"]) == ("processed", 0, 1)
    assert _achieved(api.attainment(team, period_id))[team.rep("Ana").id] == Decimal("80000.00")
    assert len(api.sales(period_id=period_id)) == len(SALES)


def test_struggling_rep_gets_exactly_one_auto_rebalance_that_keeps_the_team_total(
    api: Attain, auto_loop: AutoLoop
) -> None:
    team = auto_loop.team
    cleo = team.rep("Cleo").id
    statuses = {team.name_of(r["member_id"]): r["status"] for r in auto_loop.evaluation["items"]}
    assert statuses == {"Ana": "on_track", "Ben": "on_track", "Cleo": "struggling"}
    assert len(auto_loop.evaluation["shortfalls_detected"]) == 1
    rebalance = auto_loop.rebalance
    assert rebalance["status"] == "applied"
    assert rebalance["giver_id"] == cleo
    assert rebalance["shortfall_id"] == auto_loop.evaluation["shortfalls_detected"][0]
    before, after = auto_loop.targets_before, auto_loop.targets_after
    moved = money(rebalance["moved"])
    assert moved > 0
    assert money(rebalance["requested"]) == money(before[cleo]["amount"])  # projection is 0
    assert moved + money(rebalance["uncovered"]) == money(rebalance["requested"])
    # The giver drops by what moved, the takers rise by what they took, within the cap.
    assert money(after[cleo]["amount"]) == money(before[cleo]["amount"]) - moved
    for transfer in rebalance["transfers"]:
        taker = transfer["to_member_id"]
        assert money(after[taker]["amount"]) == money(before[taker]["amount"]) + money(
            transfer["amount"]
        )
        assert money(after[taker]["amount"]) <= money(after[taker]["original"]) * CAP
    assert {t["to_member_id"] for t in rebalance["transfers"]} == {
        team.rep("Ana").id,
        team.rep("Ben").id,
    }
    # Conservation: the team total is unchanged to the cent.
    assert _sum(after) == _sum(before) == TEAM_TARGET
    history = api.target_history(team, after[cleo]["id"])
    assert [h["reason"] for h in history][-1] == "rebalance"
    assert money(history[-1]["delta"]) == -moved
    # Judging again announces nothing new: the episode is open, one shortfall, one rebalance.
    again = api.evaluate(team, auto_loop.period_id)
    assert again["shortfalls_detected"] == []
    assert len(api.rebalances(team)) == 1


def test_performance_judges_attainment_against_the_rebalanced_targets(
    auto_loop: AutoLoop,
) -> None:
    for member_id, target in auto_loop.targets_after.items():
        row = auto_loop.attainment_after[member_id]
        assert row["target_version"] == target["version"] == 2
        assert money(row["target"]) == money(target["amount"])
        expected_percent = (money(row["achieved"]) * 100 / money(target["amount"])).quantize(
            Decimal("0.01")
        )
        assert abs(money(row["percent"]) - expected_percent) <= Decimal("0.01")
    cleo = auto_loop.team.rep("Cleo").id
    assert money(auto_loop.attainment_after[cleo]["shortfall"]) == money(
        auto_loop.targets_after[cleo]["amount"]
    )


def test_feedback_opens_exactly_one_check_in_for_the_struggling_rep(
    api: Attain, auto_loop: AutoLoop
) -> None:
    team = auto_loop.team
    cleo = team.rep("Cleo").id
    check_ins = wait_for(
        lambda: api.feedback(team, cleo, kind="check_in"), what="a check-in for Cleo"
    )
    time.sleep(0.5)  # a duplicate would arrive right behind the first
    check_ins = api.feedback(team, cleo, kind="check_in")
    assert len(check_ins) == 1
    (check_in,) = check_ins
    assert check_in["shortfall_id"] == auto_loop.evaluation["shortfalls_detected"][0]
    assert check_in["addressee_id"] == team.manager_id
    for other in ("Ana", "Ben"):
        assert api.feedback(team, team.rep(other).id, kind="check_in") == []


def test_the_struggling_rep_gets_a_proposed_1on1_whose_agenda_shows_the_shortfall(
    api: Attain, auto_loop: AutoLoop
) -> None:
    """The shortfall check-in proposes Cleo's next 1:1, and its agenda shows the shortfall."""
    team = auto_loop.team
    cleo = team.rep("Cleo").id
    path = f"/v1/members/{cleo}/one-on-ones"

    def proposed() -> list[dict] | None:
        items = api.get("feedback", path, token=team.manager_token)["items"]
        return items or None

    (proposal,) = wait_for(proposed, what="a proposed 1:1 for Cleo")
    assert proposal["status"] == "proposed"
    assert proposal["shortfall_id"] == auto_loop.evaluation["shortfalls_detected"][0]
    agenda = api.get(
        "feedback", f"/v1/one-on-ones/{proposal['id']}/agenda", token=team.manager_token
    )
    (check_in,) = agenda["open_check_ins"]
    assert check_in["shortfall_id"] == proposal["shortfall_id"]
    assert "short of target" in check_in["body"]
    for other in ("Ana", "Ben"):
        rep_path = f"/v1/members/{team.rep(other).id}/one-on-ones"
        assert api.get("feedback", rep_path, token=team.manager_token)["items"] == []


def test_proposed_rebalance_changes_targets_only_once_the_manager_approves(
    api: Attain, period: dict, stack: Stack
) -> None:
    loop = set_up_team(api, name="DACH Mid-Market", period=period, policy="propose")
    team, period_id = loop.team, period["id"]
    api.set_generic_secret()
    closed_at = datetime.now(UTC) - timedelta(days=2)
    for name, amount in (("Ana", "82000.00"), ("Ben", "61000.00")):
        # Intake only stores: the evaluation must see the sales the processor applied.
        api.processed_delivery(
            api.deliver(
                api.sale_delivery(email=team.rep(name).email, amount=amount, closed_at=closed_at)
            ).json()
        )
    before = api.targets(team, period_id)
    api.set_thresholds(team, DEFAULT_THRESHOLDS)
    # An admin may judge pace as of an earlier instant (a minute ago here).
    evaluation = api.evaluate(team, period_id, as_of=datetime.now(UTC) - timedelta(minutes=1))
    assert len(evaluation["shortfalls_detected"]) == 1
    (proposal,) = wait_for(
        lambda: api.rebalances(team, status="proposed"), what="a proposed rebalance"
    )
    assert proposal["giver_id"] == team.rep("Cleo").id
    assert money(proposal["moved"]) > 0
    # Proposed only: nothing moved yet, in goals or in performance.
    assert api.targets(team, period_id) == before
    assert {r["target_version"] for r in api.attainment(team, period_id).values()} == {1}
    started = time.monotonic()
    approved = api.approve(team, proposal["id"])
    assert approved["status"] == "approved"
    assert approved["decided_at"] is not None

    def moved() -> Any:
        result = followed_targets(api, team, period_id)()
        return result if result and any(t["version"] > 1 for t in result[0].values()) else None

    after, _ = wait_for(moved, what="approved targets in performance")
    record_timing(
        stack_label(stack),
        "rebalance approved -> new targets visible in performance",
        time.monotonic() - started,
    )
    assert _sum(after) == _sum(before) == TEAM_TARGET
    cleo = team.rep("Cleo").id
    assert money(after[cleo]["amount"]) == money(before[cleo]["amount"]) - money(approved["moved"])
    for transfer in approved["transfers"]:
        taker = transfer["to_member_id"]
        assert money(after[taker]["amount"]) == money(before[taker]["amount"]) + money(
            transfer["amount"]
        )


def test_sale_credit_dispute_is_decided_only_after_both_parties_are_heard_and_moves_attainment(
    api: Attain, auto_loop: AutoLoop, stack: Stack
) -> None:
    team, period_id = auto_loop.team, auto_loop.period_id
    ana, ben = team.rep("Ana"), team.rep("Ben")
    disputed = next(
        s for s in api.sales(member_id=ana.id) if money(s["amount"]) == Decimal("5000.00")
    )
    before = _achieved(api.attainment(team, period_id))
    dispute = open_dispute_when_known(
        api,
        ben,
        team,
        kind="sale_credit",
        subject="Who closed the Tailspin upsell?",
        parties=[ana, ben],
        related={"sale_id": disputed["id"]},
    )
    action = {
        "type": "reassign_sale_credit",
        "sale_id": disputed["id"],
        "to_member_id": ben.id,
        "percent": "100",
    }
    decision = {
        "summary": "The credit goes to Ben",
        "rationale": "Ben ran the discovery and the demo; Ana only sent the order form.",
        "actions": [action],
    }
    refused = api.decide(team, dispute["id"], **decision)
    assert refused.status_code == 409
    assert set(refused.json()["missing"]) == {ana.id, ben.id}
    api.state_case(ana, dispute["id"], "The customer signed with me.")
    refused = api.decide(team, dispute["id"], **decision)
    assert refused.status_code == 409
    assert refused.json()["missing"] == [ben.id]
    api.state_case(ben, dispute["id"], "I ran discovery and the demo; Ana sent the form.")
    started = time.monotonic()
    decided = api.decide(team, dispute["id"], **decision)
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "decided"
    amount = Decimal("5000.00")
    wanted = {**before, ana.id: before[ana.id] - amount, ben.id: before[ben.id] + amount}
    wait_for(
        lambda: _achieved(api.attainment(team, period_id)) == wanted,
        what="the disputed credit to move in performance",
    )
    record_timing(
        stack_label(stack),
        "dispute decided -> credit moved in attainment",
        time.monotonic() - started,
    )
    sale = api.get("performance", f"/v1/sales/{disputed['id']}")
    assert [(c["member_id"], money(c["amount"])) for c in sale["credits"]] == [(ben.id, amount)]
    assert api.sales(member_id=ben.id) and disputed["id"] in {
        s["id"] for s in api.sales(member_id=ben.id)
    }


def test_a_credit_dispute_carries_the_raw_signed_delivery_in_a_hash_linked_pack(
    api: Attain, auto_loop: AutoLoop
) -> None:
    """Feedback reads performance's sale, credit and raw CRM delivery; Ben sees only hashes."""
    team = auto_loop.team
    ana, ben = team.rep("Ana"), team.rep("Ben")
    disputed = next(
        s for s in api.sales(member_id=ana.id) if money(s["amount"]) == Decimal("75000.00")
    )
    dispute = open_dispute_when_known(
        api,
        ben,
        team,
        kind="sale_credit",
        subject="I sourced the Contoso deal",
        parties=[ana, ben],
        related={"sale_id": disputed["id"]},
    )
    url = f"/v1/disputes/{dispute['id']}/evidence"
    pack = api.get("feedback", url, token=team.manager_token)
    assert pack["verified"] is True and pack["unavailable"] == []
    assert recompute(pack["entries"]) is None
    by_kind = {e["kind"]: e for e in pack["entries"]}
    assert set(by_kind) == {"sale", "sale_credit", "crm_delivery"}
    assert by_kind["sale"]["data"]["amount"] == "75000.00"
    assert by_kind["sale_credit"]["data"]["member_id"] == ana.id
    delivery = by_kind["crm_delivery"]["data"]
    sent = auto_loop.deliveries[0][1]
    # The bytes the CRM sent, as stored after their signature was checked.
    assert delivery["body"].encode() == sent.body and delivery["signature_checked"] is True
    assert delivery["headers"]["webhook-id"] == sent.webhook_id
    assert all(e["redacted"] is False for e in api.get("feedback", url, token=ana.token)["entries"])
    theirs = api.get("feedback", url, token=ben.token)
    assert all(e["redacted"] for e in theirs["entries"]) and theirs["head"] == pack["head"]
    api.call("POST", "feedback", f"/v1/disputes/{dispute['id']}/withdrawal", token=ben.token)


def test_another_organisation_sees_none_of_it(
    api: Attain, auto_loop: AutoLoop, stack: Stack
) -> None:
    team, period_id = auto_loop.team, auto_loop.period_id
    ana, ben = team.rep("Ana"), team.rep("Ben")
    dispute = open_dispute_when_known(
        api, ana, team, kind="conduct", subject="Meeting etiquette", parties=[ana, ben]
    )
    target_id = auto_loop.targets_after[ana.id]["id"]
    sale_id = api.sales(member_id=ben.id)[0]["id"]
    with Attain(urls_of(stack)) as other:
        admin = other.admin_token
        # Even with the right team in its claims, another org's manager learns nothing.
        manager = other.token(roles=["manager"], sub=team.manager_id, teams=[team.id])
        for token in (admin, manager):
            for service, path in (
                ("goals", f"/v1/teams/{team.id}"),
                ("goals", f"/v1/targets/{target_id}"),
                ("goals", f"/v1/rebalances/{auto_loop.rebalance['id']}"),
                ("feedback", f"/v1/disputes/{dispute['id']}"),
                ("performance", f"/v1/teams/{team.id}/periods/{period_id}/attainment"),
                ("performance", f"/v1/members/{ana.id}/attainment"),
                ("performance", f"/v1/sales/{sale_id}"),
            ):
                response = other.call("GET", service, path, token=token, expect=None)
                assert response.status_code == 404, (service, path, response.text)
        rep = other.token(roles=["rep"], sub=ana.id, teams=[team.id])
        for method, service, path, token, body in (
            ("POST", "goals", f"/v1/targets/{target_id}/acknowledgement", rep, None),
            ("PATCH", "goals", f"/v1/targets/{target_id}", manager, {"amount": "1", "reason": "x"}),
            ("PUT", "goals", f"/v1/teams/{team.id}/rebalance-policy", manager, {"mode": "off"}),
            ("POST", "performance", f"/v1/teams/{team.id}/periods/{period_id}/evaluation",
             manager, {}),
            ("POST", "performance", f"/v1/sales/{sale_id}/assignment", manager,
             {"member_id": ana.id}),
            ("POST", "feedback", f"/v1/disputes/{dispute['id']}/statements", rep, {"text": "x"}),
            ("POST", "feedback", f"/v1/disputes/{dispute['id']}/decision", manager,
             {"summary": "x", "rationale": "y", "actions": []}),
        ):  # fmt: skip
            response = other.call(method, service, path, token=token, json_body=body, expect=None)
            assert response.status_code == 404, (method, service, path, response.text)
        assert team.id not in {t["id"] for t in other.get("goals", "/v1/teams")["items"]}
        assert other.get("feedback", "/v1/disputes")["items"] == []
        assert other.sales() == []
    # The owner still sees all of it, unchanged by the attempts.
    assert api.get("feedback", f"/v1/disputes/{dispute['id']}", token=ana.token)["statements"] == []
    assert (
        api.get("goals", f"/v1/targets/{target_id}")["version"]
        == auto_loop.targets_after[ana.id]["version"]
    )
    assert api.get("goals", f"/v1/teams/{team.id}/rebalance-policy")["mode"] == "auto"


def test_three_reps_struggling_at_once_are_all_covered_in_one_rebalance(
    api: Attain, period: dict
) -> None:
    """The measured failure on real teams: only the first of several shortfalls moved."""
    period_id = period["id"]
    tag = uuid.uuid4().hex[:6]
    names = ("Ana", "Ben", "Cleo", "Dev", "Eve")
    team = api.create_team(
        "Several behind", [{"name": n, "email": f"{n.lower()}.{tag}@example.com"} for n in names]
    )
    api.put_plan(
        team, period_id, target="500000.00", summary="Hold the line", initiatives=[], measures=[]
    )
    api.allocate(team, period_id, "equal", dry_run=False)
    plan = api.publish(team, period_id)
    api.set_policy(team, "auto")
    wait_until_performance_knows(api, team, period_id, plan)
    api.set_thresholds(team, HOLD_JUDGEMENT)
    api.set_generic_secret()
    closed_at = datetime.now(UTC) - timedelta(days=3)
    for name in ("Ana", "Ben"):  # ahead: 80 000 of 100 000 at half time
        # Intake only stores: the evaluation must see the sales the processor applied.
        api.processed_delivery(
            api.deliver(
                api.sale_delivery(
                    email=team.rep(name).email, amount="80000.00", closed_at=closed_at
                )
            ).json()
        )
    api.set_thresholds(team, DEFAULT_THRESHOLDS)
    evaluation = api.evaluate(team, period_id)
    assert len(evaluation["shortfalls_detected"]) == 3
    behind = {team.rep(n).id for n in ("Cleo", "Dev", "Eve")}

    def one_rebalance() -> dict | None:
        rows = api.rebalances(team)
        return rows[0] if rows else None

    rebalance = wait_for(one_rebalance, what="the team's rebalance")
    assert rebalance["status"] == "applied", rebalance
    assert {g["member_id"] for g in rebalance["givers"]} == behind
    moved = [money(g["moved"]) for g in rebalance["givers"]]
    assert all(m > 0 for m in moved) and max(moved) - min(moved) <= Decimal("0.01")
    for g in rebalance["givers"]:
        assert money(g["moved"]) + money(g["uncovered"]) == money(g["requested"])

    def followed() -> Any:
        result = followed_targets(api, team, period_id)()
        return result if result and all(result[0][m]["version"] > 1 for m in behind) else None

    targets, attainment = wait_for(followed, what="performance following the new targets")
    assert _sum(targets) == Decimal("500000.00")
    assert {m: money(r["target"]) for m, r in attainment.items()} == {
        m: money(t["amount"]) for m, t in targets.items()
    }
    assert len(api.rebalances(team)) == 1


def test_an_absence_relieves_a_rep_and_pace_stops_flagging_them(api: Attain, period: dict) -> None:
    """Away since the period began: relieved through the ledger, expected nothing, not flagged."""
    period_id = period["id"]
    tag = uuid.uuid4().hex[:6]
    names = ("Ana", "Ben", "Cleo", "Dev")
    team = api.create_team(
        "Away", [{"name": n, "email": f"{n.lower()}.{tag}@example.com"} for n in names]
    )
    api.put_plan(team, period_id, target="400000.00", summary="s", initiatives=[], measures=[])
    api.allocate(team, period_id, "equal", dry_run=False)
    plan = api.publish(team, period_id)
    wait_until_performance_knows(api, team, period_id, plan)
    api.set_thresholds(team, HOLD_JUDGEMENT)
    cleo, dev = team.rep("Cleo"), team.rep("Dev")
    back_on = datetime.now(UTC).date() + timedelta(days=7)
    absence = api.post(
        "goals",
        f"/v1/members/{cleo.id}/absences",
        {"starts_on": period["starts_on"], "ends_on": back_on.isoformat(), "kind": "leave"},
        token=team.manager_token,
    )
    (relief,) = absence["reliefs"]
    assert money(relief["relief"]) > 0 and money(relief["total_delta"]) == -money(relief["relief"])
    relieved = Decimal("100000.00") - money(relief["relief"])

    def followed() -> dict[str, dict] | None:
        rows = api.attainment(team, period_id)
        row = rows.get(cleo.id)
        known = row and money(row["target"]) == relieved and money(row["expected_to_date"]) == 0
        return rows if known else None

    wait_for(followed, what="performance following Cleo's absence and relief")
    api.set_generic_secret()
    closed_at = datetime.now(UTC) - timedelta(days=3)
    for name in ("Ana", "Ben"):  # the evaluation must see the sales the processor applied
        delivery = api.sale_delivery(
            email=team.rep(name).email, amount="60000.00", closed_at=closed_at
        )
        api.processed_delivery(api.deliver(delivery).json())
    api.set_thresholds(team, DEFAULT_THRESHOLDS)
    evaluation = api.evaluate(team, period_id)
    rows = {r["member_id"]: r for r in evaluation["items"]}
    assert rows[cleo.id]["status"] == "on_track" and money(rows[cleo.id]["shortfall"]) == 0
    # The control: Dev sold nothing either, but was there all along.
    assert rows[dev.id]["status"] == "struggling"
    assert len(evaluation["shortfalls_detected"]) == 1
    assert api.plan(team, period_id)["target"] == str(
        Decimal("400000.00") - money(relief["relief"])
    )


def test_a_late_joiner_gets_a_prorated_ramped_target_that_performance_follows(
    api: Attain, period: dict
) -> None:
    """Joining today at ramp 0.5: half a full share for the days left, added to the total."""
    period_id = period["id"]
    tag = uuid.uuid4().hex[:6]
    team = api.create_team(
        "Joiners", [{"name": n, "email": f"{n.lower()}.{tag}@example.com"} for n in ("Ana", "Ben")]
    )
    api.put_plan(team, period_id, target="200000.00", summary="s", initiatives=[], measures=[])
    api.allocate(team, period_id, "equal", dry_run=False)
    plan = api.publish(team, period_id)
    wait_until_performance_knows(api, team, period_id, plan)
    today = datetime.now(UTC).date()
    late = api.post(
        "goals",
        f"/v1/teams/{team.id}/members",
        {
            "name": "Late",
            "email": f"late.{tag}@example.com",
            "starts_on": today.isoformat(),
            "ramp_schedule": ["0.5"],
        },
        token=team.manager_token,
    )
    joined = api.post(
        "goals",
        f"/v1/teams/{team.id}/plans/{period_id}/joiners",
        {"member_id": late["id"], "fund_from": "team_total"},
        token=team.manager_token,
    )
    first, last = (datetime.fromisoformat(period[k]).date() for k in ("starts_on", "ends_on"))
    days_left, days = (last - today).days + 1, (last - first).days + 1
    exact = Fraction(10_000_000) * Fraction(1, 2) * Fraction(days_left, days)
    minor = math.floor(exact + Fraction(1, 2))
    expected = Decimal(minor) / 100
    assert money(joined["target"]["amount"]) == expected
    assert money(joined["plan_target"]) == Decimal("200000.00") + expected

    def followed() -> dict | None:
        row = api.attainment(team, period_id).get(late["id"])
        return row if row and money(row["target"]) == expected else None

    row = wait_for(followed, what="performance learning the joiner's target")
    # Pace follows the joiner's start: nothing was expected before today (at most today's part).
    assert money(row["expected_to_date"]) < expected / 10


def test_a_two_level_hierarchy_allocates_down_and_rolls_up_after_sales(
    api: Attain, period: dict
) -> None:
    """A region splits its target over two teams; a sale in one shows in the region's roll-up."""
    period_id = period["id"]
    tag = uuid.uuid4().hex[:6]
    region = api.create_team("Region", [])
    teams = [
        api.create_team(
            name, [{"name": f"{name} {n}", "email": f"{name}.{n}.{tag}@example.com"} for n in "ab"]
        )
        for name in ("North", "South")
    ]
    for team in teams:
        api.call(
            "PATCH",
            "goals",
            f"/v1/teams/{team.id}",
            token=api.admin_token,
            json_body={"parent_team_id": region.id},
        )
    body = {"target": "200000.00", "over_assignment_pct": "5"}
    api.put("goals", f"/v1/teams/{region.id}/plans/{period_id}", body, token=region.manager_token)
    split = api.allocate(region, period_id, "equal", dry_run=False)
    assert money(split["over_assigned"]) == Decimal("210000.00") and split["warnings"] == []
    for team in teams:
        # The region's manager runs the child teams' plans too.
        plan_url = f"/v1/teams/{team.id}/plans/{period_id}"
        api.post("goals", f"{plan_url}/allocation", {"method": "equal"}, token=region.manager_token)
        plan = api.post("goals", f"{plan_url}/publish", token=region.manager_token)
        wait_until_performance_knows(api, team, period_id, plan)
    north = teams[0]
    api.set_generic_secret()
    closed_at = datetime.now(UTC) - timedelta(days=3)
    api.deliver(
        api.sale_delivery(email=north.reps[0].email, amount="40000.00", closed_at=closed_at)
    )
    wait_for(
        lambda: money(api.attainment(north, period_id)[north.reps[0].id]["achieved"]) > 0,
        what="the sale in North's attainment",
    )
    api.evaluate(north, period_id)
    url = f"/v1/teams/{region.id}/periods/{period_id}/rollup"

    def rolled_up() -> dict | None:
        tree = api.get("goals", url, token=region.manager_token)
        return tree if money(tree["achieved"]) == Decimal("40000.00") else None

    tree = wait_for(rolled_up, what="the sale in the region's roll-up")
    assert money(tree["target"]) == Decimal("200000.00")
    assert money(tree["assigned"]) == Decimal("210000.00")
    by_name = {n["name"]: n for n in tree["children"]}
    assert money(by_name["North"]["achieved"]) == Decimal("40000.00")
    assert money(by_name["South"]["target"]) == Decimal("105000.00")
    # Half the period has passed: the reps' schedules expected part of the over-assigned total.
    assert 0 < money(tree["expected_to_date"]) < Decimal("210000.00")
    # Performance follows the tree: the region's manager reads North, South's manager may not.
    north_url = f"/v1/teams/{north.id}/periods/{period_id}/attainment"
    rows = api.get("performance", north_url, token=region.manager_token)["items"]
    assert {r["member_id"] for r in rows} == {rep.id for rep in north.reps}
    refused = api.call("GET", "performance", north_url, token=teams[1].manager_token, expect=None)
    assert refused.status_code == 403


def test_a_subscriber_receives_a_signed_target_changed_and_verifies_it(
    api: Attain, period: dict
) -> None:
    """A manual target change reaches a subscribed local endpoint, signed per Standard Webhooks."""
    receiver = Receiver()
    try:
        sub = api.post(
            "feedback", "/v1/subscriptions", {"url": receiver.url, "types": ["target.changed"]}
        )
        loop = set_up_team(api, name="Subscribed", period=period, policy="off")
        team = loop.team
        target = api.targets(team, period["id"])[team.rep("Ana").id]
        api.call(
            "PATCH",
            "goals",
            f"/v1/targets/{target['id']}",
            token=team.manager_token,
            json_body={
                "amount": "1000.00",
                "reason": "Takes over ACME",
                "team_total_changes": True,
            },
        )

        def received() -> dict | None:
            for headers, body in list(receiver.received):
                payload = Webhook(sub["secret"]).verify(body, headers)
                if payload["data"]["target_id"] == target["id"]:
                    return payload
            return None

        # Feedback may still be working through the org-wide burst of the tests before.
        payload = wait_for(received, what="a signed target.changed for Ana's target", timeout=90)
        assert payload["type"] == "target.changed"
        assert payload["data"]["new_amount"] == "1000.00"
        assert payload["data"]["member_id"] == team.rep("Ana").id
        # The log marks the delivery once the receiver's answer is back, just after it arrived.
        log = wait_for(
            lambda: [
                d
                for d in api.get("feedback", f"/v1/subscriptions/{sub['id']}/deliveries")["items"]
                if d["status"] == "delivered"
            ],
            what="the delivery logged as delivered",
        )
        assert log
    finally:
        receiver.close()


def test_an_overdue_dispute_emits_dispute_overdue_and_reminds_the_unheard_party(
    api: Attain, auto_loop: AutoLoop
) -> None:
    """Past the team's statement deadline, dispute_overdue reaches a subscriber; Ben is reminded."""
    team = auto_loop.team
    ana, ben = team.rep("Ana"), team.rep("Ben")
    receiver = Receiver()
    try:
        sub = api.post(
            "feedback",
            "/v1/subscriptions",
            {"url": receiver.url, "types": ["dispute.overdue"], "team_id": team.id},
        )
        # About two seconds to hand in a statement.
        policy = {"statement_due_hours": 0.0006, "decision_due_hours": 1}
        api.put("feedback", f"/v1/teams/{team.id}/dispute-policy", policy, token=team.manager_token)
        dispute = open_dispute_when_known(
            api, ana, team, kind="conduct", subject="Meeting no-shows", parties=[ana, ben]
        )
        assert dispute["statement_due_at"] is not None

        def overdue() -> dict | None:
            for headers, body in list(receiver.received):
                payload = Webhook(sub["secret"]).verify(body, headers)
                if payload["data"]["dispute_id"] == dispute["id"]:
                    return payload
            return None

        payload = wait_for(overdue, what="dispute.overdue for the late statements", timeout=90)
        assert payload["type"] == "dispute.overdue"
        assert payload["data"]["deadline"] == "statement"
        assert set(payload["data"]["late_parties"]) == {ana.id, ben.id}
        notices = api.get("feedback", "/v1/feedback", token=ben.token, params={"kind": "notice"})
        assert any(n["dispute_id"] == dispute["id"] for n in notices["items"])
    finally:
        receiver.close()
        api.put("feedback", f"/v1/teams/{team.id}/dispute-policy", {}, token=team.manager_token)


def test_a_flagged_change_waits_for_the_second_approver_and_a_refusal_can_be_disputed(
    api: Attain, period: dict
) -> None:
    """A manager's cut that would lift their team to 100 % waits for an admin; then performance
    follows it. A refused request becomes a target dispute in feedback in one call."""
    period_id = period["id"]
    tag = uuid.uuid4().hex[:6]
    team = api.create_team(
        "Guarded", [{"name": n, "email": f"{n.lower()}.{tag}@example.com"} for n in ("Ana", "Ben")]
    )
    api.put_plan(team, period_id, target="200000.00", summary="s", initiatives=[], measures=[])
    api.allocate(team, period_id, "equal", dry_run=False)
    plan = api.publish(team, period_id)
    wait_until_performance_knows(api, team, period_id, plan)
    api.set_generic_secret()
    closed_at = datetime.now(UTC) - timedelta(days=3)
    for rep in team.reps:
        api.deliver(api.sale_delivery(email=rep.email, amount="45000.00", closed_at=closed_at))
    wait_for(
        lambda: all(money(r["achieved"]) > 0 for r in api.attainment(team, period_id).values()),
        what="both sales in attainment",
    )
    api.evaluate(team, period_id)
    rollup = f"/v1/teams/{team.id}/periods/{period_id}/rollup"

    def projected_in_goals() -> Decimal | None:
        node = api.get("goals", rollup, token=team.manager_token)
        return money(node["projected"]) if money(node["achieved"]) == Decimal(90000) else None

    projected = wait_for(projected_in_goals, what="goals learning the team's projection")
    assert Decimal(160000) <= projected < Decimal(200000)  # short of 100 %, above the cut
    ana = team.rep("Ana")
    target = api.targets(team, period_id)[ana.id]
    held = api.call(
        "PATCH",
        "goals",
        f"/v1/targets/{target['id']}",
        token=team.manager_token,
        json_body={"amount": "60000.00", "reason": "Relief", "team_total_changes": True},
        expect=(202,),
    ).json()
    assert held["flags"] == ["manager_incentive"] and held["state"] == "pending"
    assert money(api.targets(team, period_id)[ana.id]["amount"]) == Decimal(100000)
    approval = f"/v1/change-requests/{held['id']}/approval"
    api.call("POST", "goals", approval, token=team.manager_token, expect=(403,))
    assert api.post("goals", approval, token=api.admin_token)["state"] == "approved"
    assert money(api.plan(team, period_id)["target"]) == Decimal(160000)
    wait_for(
        lambda: money(api.attainment(team, period_id)[ana.id]["target"]) == Decimal(60000),
        what="performance following the approved change",
    )
    profile = api.get(
        "goals",
        f"/v1/teams/{team.id}/adjustment-profile",
        token=api.admin_token,
        params={"period_id": period_id},
    )
    assert [f["status"] for f in profile["flagged"]] == ["applied"]
    # Ben asks, is refused with a rationale, and disputes it in one call.
    ben = team.rep("Ben")
    ben_target = api.targets(team, period_id)[ben.id]["id"]
    asked = api.post(
        "goals",
        f"/v1/targets/{ben_target}/change-requests",
        {"amount": "97000.00", "reason": "Lost a territory"},
        token=ben.token,
    )
    api.post(
        "goals",
        f"/v1/change-requests/{asked['id']}/rejection",
        {"rationale": "Territories move next period"},
        token=team.manager_token,
    )
    opened = api.post("goals", f"/v1/change-requests/{asked['id']}/dispute", token=ben.token)

    def dispute() -> dict | None:
        r = api.call(
            "GET", "feedback", f"/v1/disputes/{opened['dispute_id']}", token=ben.token, expect=None
        )
        return r.json() if r.status_code == 200 else None

    seen = wait_for(dispute, what="feedback opening the target dispute")
    assert seen["kind"] == "target" and seen["escalated"] is True
    assert seen["related"] == {"target_id": ben_target}
