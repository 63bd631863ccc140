"""`make demo`: a narrated walk through the whole loop against a running `make run`.

It creates a fresh organisation each run (so it can run again and again), then shows: a plan
broken down from past results, signed CRM sales arriving, who is struggling, the rebalance that
answers it with the team total kept to the cent, and a dispute that cannot be decided before
everyone is heard. Only the public HTTP APIs are used; the HTTP client, the Standard Webhooks
signing of CRM deliveries (`sign_generic`) and the steps shared with the e2e tests are in
scripts/scenario.py.

    python -m scripts.demo [--goals URL] [--performance URL] [--feedback URL] [--pause SECONDS]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pydantic import ValidationError

from devtools.tokens import DevTokenRefused
from scripts.scenario import (
    DEFAULT_THRESHOLDS,
    HISTORY,
    Attain,
    LoopTeam,
    ScenarioError,
    StackUnavailable,
    Team,
    default_urls,
    followed_targets,
    half_elapsed_period,
    money,
    open_dispute_when_known,
    set_up_team,
    wait_for,
)

SALES = (
    ("Ana", "75000.00", "Tailspin Toys"),
    ("Ben", "60000.00", "Northwind Traders"),
    ("Ana", "5000.00", "Tailspin Toys (upsell)"),
)


#: Amounts, percentages and fractions are right-aligned in tables.
NUMBER = re.compile(r"^[+\-\u2212]?[\d,]+(\.\d+)?( [A-Z]{3}| %)?$|^\d+/\d+$")


class Narrator:
    """Prints the story step by step."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.step = 0

    def title(self, text: str) -> None:
        """A new step."""
        if self.step and self.pause:
            time.sleep(self.pause)
        self.step += 1
        print(f"\n{self.step}. {text}")
        print("   " + "-" * (len(text) + 3))

    def say(self, text: str = "", indent: int = 3) -> None:
        """A line of the story, wrapped."""
        if not text:
            print()
            return
        if " " not in text.strip() or text.lstrip().startswith(("curl", "export")):
            print(" " * indent + text)  # commands stay copyable
            return
        print(textwrap.fill(text, width=96, initial_indent=" " * indent,
                            subsequent_indent=" " * (indent + 2)))  # fmt: skip

    def table(self, rows: Sequence[Sequence[str]], indent: int = 5) -> None:
        """Aligned columns; numbers (starting with a digit, +, - or -) right-aligned."""
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            cells = []
            for i, cell in enumerate(row):
                text = str(cell)
                numeric = bool(NUMBER.match(text))
                cells.append(text.rjust(widths[i]) if numeric and i else text.ljust(widths[i]))
            print(" " * indent + "  ".join(cells).rstrip())


def eur(amount: object, currency: str = "EUR") -> str:
    """An amount for people: 114,285.71 EUR."""
    return f"{money(amount):,.2f} {currency}"


def signed(delta: Decimal) -> str:
    """A change with its sign."""
    return f"+{delta:,.2f}" if delta > 0 else f"\u2212{-delta:,.2f}" if delta < 0 else "0.00"


def achieved_more(
    api: Attain, team: Team, period_id: str, member_id: str, *, than: Decimal
) -> Callable[[], dict[str, dict] | None]:
    """A probe: the team's attainment once a member has achieved more than before."""

    def probe() -> dict[str, dict] | None:
        rows = api.attainment(team, period_id)
        return rows if money(rows[member_id]["achieved"]) > than else None

    return probe


def run(api: Attain, say: Narrator) -> None:
    """The whole story."""
    started = time.monotonic()
    say.title("Checking the stack")
    api.check_running()
    say.say(f"goals, performance and feedback answer at {', '.join(api.urls.values())}.")
    say.say(f"This run works in a brand-new organisation: {api.org}")

    # ------------------------------------------------------------------------ team and period
    starts_on, ends_on = half_elapsed_period()
    today = datetime.now(UTC).date()
    period = api.define_period(f"{starts_on:%b %d} - {ends_on:%b %d %Y}", starts_on, ends_on)
    loop: LoopTeam = set_up_team(api, name="EMEA Enterprise", period=period, policy="auto")
    team, period_id = loop.team, period["id"]
    elapsed = (today - starts_on).days / ((ends_on - starts_on).days + 1)

    say.title("A team, its reps and their track record")
    say.say(f'Team "{team.name}" works in {team.currency}. Its reps and their CRM owner ids:')
    rows = [("rep", "e-mail", "CRM id", "past results (two closed quarters)")]
    for rep in team.reps:
        crm = ", ".join(f"{k} {v}" for k, v in rep.crm_ids.items())
        past = ", ".join(eur(a) for a in HISTORY.get(rep.name, ())) or "none (joined recently)"
        rows.append((rep.name, rep.email, crm, past))
    say.table(rows)
    say.say(
        f"Period {period['name']!r}: {starts_on} to {ends_on} ({period['timezone']}), "
        f"today is {today}: about {elapsed:.0%} of it has gone by."
    )

    # ------------------------------------------------------------------------ the plan
    say.title("The manager sets the team target and breaks it down from past results")
    plan = loop.plan
    say.say(f"Team target: {eur(plan['target'])}.")
    say.say(
        f"Strategy: {plan['strategy']['summary']} - " + "; ".join(plan["strategy"]["initiatives"])
    )
    say.say("Measures that count: " + "; ".join(plan["measures"]))
    say.say(
        "Preview (dry run, nothing stored yet) of the `historical` method: each rep weighs the "
        "mean of their last closed periods; a rep without history gets the team median."
    )
    rows = [("rep", "target", "weight", "share", "where the weight comes from")]
    for row in team.ordered(loop.dry_run["targets"]):
        d = row["derivation"]
        inputs = d["inputs"]
        if inputs.get("source") == "team_median":
            why = "team median (no history of her own)"
        else:
            why = "mean of " + ", ".join(eur(Decimal(m) / 100) for m in inputs["history_used"])
        weight = eur(Decimal(d["weight"]) / 100)
        rows.append((team.name_of(row["member_id"]), eur(row["amount"]), weight, d["share"], why))
    say.table(rows)
    total = sum((money(t["amount"]) for t in loop.dry_run["targets"]), Decimal(0))
    say.say(
        f"Sum of the individual targets: {eur(total)} = the team target, to the cent "
        "(largest-remainder rounding)."
    )
    say.say(
        f"The manager applies it and publishes the plan (status: {plan['status']}). Rebalance "
        "policy: auto, nobody raised above +25 % of their original target."
    )

    say.title("Reps see how their number was derived and acknowledge it")
    ana = team.rep("Ana")
    mine = {t["member_id"]: t for t in plan["targets"]}[ana.id]
    seen = api.get("goals", f"/v1/targets/{mine['id']}", token=ana.token)
    say.say(
        f"Ana reads her target with her own token: {eur(seen['amount'])} by method "
        f"{seen['derivation']['method']}, share {seen['derivation']['share']}. She acknowledges it."
    )
    api.acknowledge(ana, mine["id"])
    plan = api.plan(team, period_id)
    waiting = ", ".join(r.name for r in team.reps if r.id in plan["not_acknowledged"])
    say.say(f"The manager sees who has not acknowledged yet: {waiting}.")

    # ------------------------------------------------------------------------ sales
    say.title("Sales arrive from the CRM as signed webhooks")
    api.set_generic_secret()
    say.say(
        "The admin sets the organisation's webhook secret; each delivery is signed per Standard "
        "Webhooks (HMAC-SHA256 over id.timestamp.body) and mapped to a rep by the owner's e-mail."
    )
    say.say(
        "(While the sales come in, the demo holds pace judgement so the story unfolds step by "
        "step; normally every sale is judged at once.)"
    )
    closed_at = datetime.now(UTC) - timedelta(days=3)
    first = None
    achieved = {r.id: Decimal(0) for r in team.reps}
    for name, amount, customer in SALES:
        rep = team.rep(name)
        delivery = api.sale_delivery(
            email=rep.email, amount=amount, closed_at=closed_at, customer=customer
        )
        first = first or delivery
        sent = time.monotonic()
        answer = api.processed_delivery(api.deliver(delivery).json())
        achieved[rep.id] += Decimal(amount)
        want = achieved[rep.id]
        row = wait_for(
            achieved_more(api, team, period_id, rep.id, than=want - Decimal(amount)),
            what=f"{name}'s sale in attainment",
        )[rep.id]
        ms = (time.monotonic() - sent) * 1000
        say.say(
            f"{name} closes {eur(amount)} with {customer}: 202 stored (applied "
            f"{answer['applied']}); {name} now at {eur(row['achieved'])} = {row['percent']} % of "
            f"target (visible after {ms:.0f} ms)."
        )
    assert first is not None
    again = api.processed_delivery(api.deliver(first).json())
    say.say(
        f"The CRM retries Ana's first delivery (same webhook-id): 202 again, applied "
        f"{again['applied']}, duplicate {again['duplicates']} - counted once, never twice."
    )
    say.say("Cleo closes nothing.")

    # ------------------------------------------------------------------------ pace
    say.title("Judging pace: who is on track, who is struggling")
    before = api.targets(team, period_id)
    api.set_thresholds(team, DEFAULT_THRESHOLDS)
    say.say(
        "Thresholds: at risk below 90 % and struggling below 70 % of target by projection "
        "(projection = achieved / share of the period elapsed)."
    )
    judged = time.monotonic()
    evaluation = api.evaluate(team, period_id)
    rows = [("rep", "target", "achieved", "expected by now", "projected", "status", "shortfall")]
    for r in team.ordered(evaluation["items"]):
        rows.append(
            (
                team.name_of(r["member_id"]),
                eur(r["target"]),
                eur(r["achieved"]),
                eur(r["expected_to_date"]),
                eur(r["projected"]),
                r["status"].upper() if r["status"] == "struggling" else r["status"],
                eur(r["shortfall"]),
            )
        )
    say.table(rows)
    struggling = [
        team.name_of(r["member_id"]) for r in evaluation["items"] if r["status"] == "struggling"
    ]
    say.say(
        f"{len(evaluation['shortfalls_detected'])} shortfall announced ({', '.join(struggling)}): "
        "performance publishes `team_shortfalls_detected`; goals and feedback react."
    )

    # ------------------------------------------------------------------------ rebalance
    say.title("Goals moves the shortfall to the reps who are on track")
    cleo = team.rep("Cleo")

    def rebalanced():
        result = followed_targets(api, team, period_id)()
        return result if result and result[0][cleo.id]["version"] > 1 else None

    after, attainment = wait_for(rebalanced, what="the rebalance to reach performance")
    visible_ms = (time.monotonic() - judged) * 1000
    (rebalance,) = api.rebalances(team)
    say.say(
        f"Rebalance {rebalance['status']} automatically: requested {eur(rebalance['requested'])}, "
        f"moved {eur(rebalance['moved'])}, uncovered {eur(rebalance['uncovered'])} (stays with "
        "Cleo: nobody may go above their cap, and only on-track reps take any)."
    )
    rows = [("rep", "before", "after", "change", "cap (125 % of original)")]
    for target in team.ordered(after.values()):
        member_id = target["member_id"]
        old, new = money(before[member_id]["amount"]), money(target["amount"])
        cap = money(target["original"]) * Decimal("1.25")
        rows.append((team.name_of(member_id), eur(old), eur(new), signed(new - old), eur(cap)))
    total_before = sum((money(t["amount"]) for t in before.values()), Decimal(0))
    total_after = sum((money(t["amount"]) for t in after.values()), Decimal(0))
    rows.append(
        ("team", eur(total_before), eur(total_after), signed(total_after - total_before), "")
    )
    say.table(rows)
    say.say(f"The team total is preserved to the cent: {eur(total_before)} -> {eur(total_after)}.")
    history = api.target_history(team, after[cleo.id]["id"])
    say.say(
        "Cleo's target history: "
        + "; ".join(f"v{h['version']} {h['reason']} {signed(money(h['delta']))}" for h in history)
    )
    say.say(
        f"Performance follows the new targets (visible {visible_ms:.0f} ms after the evaluation):"
    )
    say.table(
        [("rep", "target", "achieved", "percent", "status")]
        + [
            (
                team.name_of(m),
                eur(r["target"]),
                eur(r["achieved"]),
                f"{r['percent']} %",
                r["status"],
            )
            for r in team.ordered(attainment.values())
            for m in [r["member_id"]]
        ]
    )
    check_ins = wait_for(lambda: api.feedback(team, cleo.id, kind="check_in"), what="a check-in")
    say.say(f'Feedback opened one check-in for Cleo\'s manager: "{check_ins[0]["body"]}"')

    # ------------------------------------------------------------------------ dispute
    say.title("A dispute: nobody is judged before being heard")
    ben = team.rep("Ben")
    upsell = next(s for s in api.sales(member_id=ana.id) if money(s["amount"]) == Decimal("5000"))
    dispute = open_dispute_when_known(
        api,
        ben,
        team,
        kind="sale_credit",
        subject="Who closed the Tailspin upsell?",
        parties=[ana, ben],
        related={"sale_id": upsell["id"]},
    )
    say.say(
        f"Ben disputes the credit for the {eur(upsell['amount'])} Tailspin upsell, credited to "
        "Ana. Parties: Ana and Ben."
    )
    decision = {
        "summary": "The credit for the upsell goes to Ben",
        "rationale": "Ben ran discovery and the demo; Ana forwarded the signed order form.",
        "actions": [
            {
                "type": "reassign_sale_credit",
                "sale_id": upsell["id"],
                "to_member_id": ben.id,
                "percent": "100",
            }
        ],
    }

    def try_to_decide() -> None:
        refused = api.decide(team, dispute["id"], **decision)
        if refused.status_code != 409:
            raise ScenarioError(f"expected 409, got {refused.status_code}: {refused.text}")
        problem = refused.json()
        missing = ", ".join(team.name_of(m) for m in problem.get("missing", []))
        say.say(f"The manager tries to decide: 409 - {problem['detail']}. Missing: {missing}.")

    try_to_decide()
    for rep, text in (
        (ana, "The customer signed the order form with me."),
        (ben, "I ran discovery and the demo; Ana only forwarded the order form."),
    ):
        api.state_case(rep, dispute["id"], text)
        say.say(f'{rep.name} gives a statement: "{text}"')
        if rep is ana:
            try_to_decide()
    before_credit = {m: money(r["achieved"]) for m, r in api.attainment(team, period_id).items()}
    decided = time.monotonic()
    api.call(
        "POST",
        "feedback",
        f"/v1/disputes/{dispute['id']}/decision",
        token=team.manager_token,
        json_body=decision,
        expect=(200,),
    )
    say.say(
        f'Everyone is heard: decided - "{decision["summary"]}" ({decision["rationale"]}) '
        "with the action reassign_sale_credit (100 % to Ben)."
    )
    moved = wait_for(
        achieved_more(api, team, period_id, ben.id, than=before_credit[ben.id]),
        what="performance to move the credit",
    )
    ms = (time.monotonic() - decided) * 1000
    say.say(f"Performance moved the credit ({ms:.0f} ms after the decision):")
    say.table(
        [("rep", "achieved before", "achieved after")]
        + [
            (team.name_of(m), eur(before_credit[m]), eur(moved[m]["achieved"]))
            for m in (ana.id, ben.id)
        ]
    )

    say.title("Done")
    say.say(f"The whole loop ran in {time.monotonic() - started:.1f} s. Explore it yourself:")
    say.say(f"export TOKEN={api.admin_token}", indent=5)
    say.say(
        f'curl -H "Authorization: Bearer $TOKEN" {api.urls["goals"]}/v1/teams/{team.id}', indent=5
    )
    say.say(
        f'curl -H "Authorization: Bearer $TOKEN" '
        f"{api.urls['performance']}/v1/teams/{team.id}/periods/{period_id}/attainment",
        indent=5,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `make demo`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    try:
        # The same settings as `make run`, so ATTAIN_PORT_BASE moves both together.
        defaults = default_urls()
    except ValidationError as error:
        print(f"make demo: invalid local stack settings: {error}", file=sys.stderr)
        return 2
    for name, url in defaults.items():
        env = f"ATTAIN_{name.upper()}_URL"
        parser.add_argument(f"--{name}", default=os.environ.get(env, url), help=f"(${env})")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds to wait between steps")
    args = parser.parse_args(argv)
    urls = {name: getattr(args, name) for name in defaults}
    print("Attain demo: the whole loop, narrated.")
    try:
        with Attain(urls) as api:
            run(api, Narrator(args.pause))
    except DevTokenRefused as error:
        sys.stdout.flush()
        print(f"\nmake demo: {error}", file=sys.stderr)
        return 2
    except StackUnavailable as error:
        sys.stdout.flush()
        print(
            f"\nThe stack is not running: {error}.\n"
            "Start it in another terminal with `make run` (wait for 'Attain is running'), "
            "then run `make demo` again.",
            file=sys.stderr,
        )
        return 2
    except (ScenarioError, TimeoutError) as error:
        sys.stdout.flush()
        print(f"\nThe demo stopped: {error}\nSee .run/*.log of `make run`.", file=sys.stderr)
        if " answered 401: " in str(error):
            # The usual cause on a first run: the secret was exported in one terminal only.
            print(
                "The stack rejected the demo's token: run `make demo` with the same "
                "ATTAIN_JWT_SECRET (and ATTAIN_JWT_AUDIENCE) as `make run`.",
                file=sys.stderr,
            )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
