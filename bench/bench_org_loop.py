"""The whole loop for an org: 100 teams x 10 reps, several struggling per team, on real processes.

The issue's measured case: plans of 1,000,000.00 split `equal`, policy `auto` with a 25 % cap,
six reps per team sell 40,000.00 through the signed generic webhook and four sell nothing, then
every team is evaluated. A third of the period has passed, so the sellers are on track and the
others struggle. Runs the stack of `make run` (tansu, three uvicorn services) on SQLite or on a
throwaway PostgreSQL, and reports each phase against a baseline measured in the same run: the
median round trip of one `GET /healthz` of performance.

    .venv/bin/python bench/bench_org_loop.py [--db sqlite|postgres|both] [--teams 100] [--reps 10]

Prints a table; checks on the way that every struggling rep's shortfall was moved or reported
uncovered, none skipped as stale, every team total exact and performance showing goals' targets.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.run import SERVICES, isolated_stack  # noqa: E402
from scripts.scenario import (  # noqa: E402
    Attain,
    evaluate_org,
    followed_targets,
    money,
    org_settled,
    sell_to_org,
    set_up_org,
    wait_for,
)

#: Six of every ten reps sell; the others sell nothing.
SELLERS_PER_TEN, SOLD = 6, "40000.00"


def sellers(reps: int) -> int:
    """How many reps of a team sell."""
    return reps * SELLERS_PER_TEN // 10


def healthz_round_trip(url: str, n: int = 200) -> float:
    """Median seconds of one GET /healthz (the baseline)."""
    with httpx.Client() as client:
        times = []
        for _ in range(n):
            started = time.perf_counter()
            client.get(f"{url}/healthz").raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(db: str, teams: int, reps: int) -> dict[str, float]:
    """One stack, one org; the seconds each phase took, and the baseline."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"bench-org-{db}-"))
    stack = isolated_stack(db, run_dir)
    stack.start()
    figures: dict[str, float] = {}
    started_rss = {name: rss_mb(process.pid) for name, process in stack.services.items()}
    try:
        urls = {name: stack.url(name) for name in SERVICES}
        figures["baseline"] = healthz_round_trip(urls["performance"])
        with Attain(urls, timeout=120) as api:
            today = datetime.now(UTC).date()
            period = api.define_period(
                "Bench", today - timedelta(days=20), today + timedelta(days=40)
            )
            api.set_generic_secret()
            started = time.monotonic()
            org = set_up_org(api, period, teams=teams, reps=reps)
            figures["setup, publish -> performance knows every target"] = time.monotonic() - started
            started = time.monotonic()
            sell_to_org(api, org, lambda t, r: SOLD if r < sellers(reps) else None)
            figures[f"{teams * sellers(reps)} signed sales"] = time.monotonic() - started
            started = time.monotonic()
            evaluations = evaluate_org(api, org, period["id"])
            evaluated = time.monotonic()
            figures["evaluation, per team"] = (evaluated - started) / teams
            rows = wait_for(
                org_settled(api, org, period["id"], evaluations), what="settled", timeout=900
            )
            figures["last evaluation -> loop settled"] = time.monotonic() - evaluated
            check(api, org, period["id"], evaluations, rows, reps)
            for name, process in stack.services.items():
                figures[f"rss:{name}"] = rss_mb(process.pid)
                figures[f"rss_started:{name}"] = started_rss[name]
    finally:
        stack.stop()
    return figures


def rss_mb(pid: int) -> float:
    """Resident memory of a process (and its children, e.g. uvicorn workers), in MB."""
    pids = [pid, *(int(p) for p in _children(pid))]
    total_kb = 0
    for each in pids:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def _children(pid: int) -> list[str]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return path.read_text().split() if path.exists() else []


def check(api, org, period_id, evaluations, rows, reps) -> None:
    """Refuse a run whose loop lost or corrupted anything."""
    for member in org:
        team = member.team
        wanted = set(evaluations[team.id]["shortfalls_detected"])
        assert len(wanted) == reps - sellers(reps), (team.name, wanted)
        [row] = rows[team.id]
        assert row["status"] == "applied" and "stale" not in (row["reason"] or ""), row
        assert {g["shortfall_id"] for g in row["givers"]} == wanted
        assert all(money(g["moved"]) > 0 for g in row["givers"]), row
        targets, attainment = followed_targets(api, team, period_id)()
        assert sum(money(t["amount"]) for t in targets.values()) == Decimal("1000000.00")
        assert all(money(attainment[m]["target"]) == money(t["amount"]) for m, t in targets.items())


def main() -> None:
    """Run the org loop on the chosen databases and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    for db in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        figures = run(db, args.teams, args.reps)
        baseline = figures.pop("baseline")
        print(
            f"\n{db}: {args.teams} teams x {args.reps} reps (baseline GET /healthz {baseline * 1000:.1f} ms)"
        )
        for what, seconds in figures.items():
            if not what.startswith("rss"):
                print(f"  {what:<55} {seconds:9.2f} s  {seconds / baseline:10.0f}x baseline")
        for what, megabytes in figures.items():
            if what.startswith("rss:"):
                idle = figures[f"rss_started:{what[4:]}"]
                print(
                    f"  {'RSS after the run: ' + what[4:]:<55} {megabytes:9.0f} MB "
                    f"{megabytes / idle:10.2f}x at start ({idle:.0f} MB); goal <= 150 MB"
                )


if __name__ == "__main__":
    main()
