"""Time the goals maths on a 10,000-member team, against same-run baselines.

Run: .venv/bin/python bench/bench_goals_maths.py [--members N] [--repeats R]

Baselines measured in the same run, so the figures can be reported as ratios that travel
between machines: sorted() over the same ids, and a naive float proportional split (the
inexact thing the exact maths replaces).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

# Runnable as a plain script from anywhere: put the repository root on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.goals.domain.allocation import (
    AllocationParams,
    MemberInput,
    Method,
    allocate,
)
from services.goals.domain.rebalancing import (
    MemberPosition,
    RebalancePolicy,
    plan_departure,
)
from services.goals.domain.team_rebalance import plan_team_rebalance


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of fn in milliseconds over repeats runs (after one warm-up)."""
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _members(rng: random.Random, ids: list[uuid.UUID]) -> list[MemberInput]:
    members = []
    for k in ids:
        # One in ten is new (no history) so the team-median path is exercised too.
        history = () if rng.random() < 0.1 else tuple(rng.randrange(0, 5_000_000) for _ in range(6))
        members.append(
            MemberInput(
                member_id=k,
                capacity=Decimal(rng.randrange(50, 101)).scaleb(-2),
                ramp=Decimal(rng.randrange(20, 101)).scaleb(-2),
                history=history,
            )
        )
    return members


def _team(rng: random.Random, ids: list[uuid.UUID]) -> list[MemberPosition]:
    team = []
    for k in ids:
        target = rng.randrange(1_000_000, 10_000_000)
        status = rng.choice(["on_track", "on_track", "at_risk", "struggling"])
        headroom = rng.randrange(1, 4_000_000) if status == "on_track" else -rng.randrange(0, 10**6)
        team.append(
            MemberPosition(
                member_id=k,
                target_minor=target,
                original_target_minor=target - rng.randrange(0, 200_000),
                achieved_minor=rng.randrange(0, target),
                projected_minor=target + headroom,
                status=status,
            )
        )
    return team


def main() -> None:
    """Run every timing and print a table of median milliseconds and ratios to the baselines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(20240601)
    ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(args.members)]
    members = _members(rng, ids)
    team = _team(rng, ids)
    total = 12_345_678_901
    params = AllocationParams(periods=4, alpha=Decimal("0.6"))
    # No giver floor beyond sales, so a whole target can move and the water-fill saturates.
    policy = RebalancePolicy(max_increase_pct=Decimal(25), max_decrease_pct=Decimal(100))
    giver = team[0]
    giver = MemberPosition(
        giver.member_id, giver.target_minor, giver.target_minor, 0, 0, "struggling"
    )
    team[0] = giver
    # A shortfall larger than the whole cap room, so water-filling saturates many receivers,
    # and a departure that overflows the caps, so the uncapped spread runs too.
    room = sum(
        max(int(p.original_target_minor * Decimal("1.25")) - p.target_minor, 0)
        for p in team[1:]
        if p.status == "on_track" and p.projected_minor > p.target_minor
    )
    big_giver = MemberPosition(giver.member_id, room * 2, room * 2, 0, 0, "struggling")
    team_big = [big_giver, *team[1:]]
    # Several givers at once: every tenth member sold nothing.
    team_tenth = [
        MemberPosition(p.member_id, p.target_minor, p.original_target_minor, 0, 0, "struggling")
        if i % 10 == 0
        else p
        for i, p in enumerate(team)
    ]
    tenth = [p.member_id for i, p in enumerate(team_tenth) if i % 10 == 0]
    float_weights = [float(m.capacity) * float(m.ramp) for m in members]

    # Timing wrong answers would be pointless: check conservation once before timing.
    for method in Method:
        result = allocate(total_minor=total, method=method, members=members, params=params)
        assert sum(result.targets.values()) == total, method
    departure = plan_departure(leaver_id=big_giver.member_id, team=team_big, policy=policy)
    assert departure.uncapped_minor > 0 and departure.moved_minor == big_giver.target_minor

    def float_split() -> list[float]:
        weight_sum = sum(float_weights)
        return [total * w / weight_sum for w in float_weights]

    # The baselines take milliseconds, so they get more runs: a shared machine's noise would
    # otherwise swing every ratio computed from them.
    base_repeats = args.repeats * 10
    rows: list[tuple[str, float]] = [
        ("baseline: sorted(ids)", _median_ms(lambda: sorted(ids), base_repeats)),
        ("baseline: float proportional split", _median_ms(float_split, base_repeats)),
    ]
    for method in Method:
        rows.append(
            (
                f"allocate({method.value})",
                _median_ms(
                    lambda m=method: allocate(
                        total_minor=total, method=m, members=members, params=params
                    ),
                    args.repeats,
                ),
            )
        )
    overrides = {m.member_id: 1_000 for m in members[: len(members) // 10]}
    rows.append(
        (
            "allocate(blended, 10% overridden)",
            _median_ms(
                lambda: allocate(
                    total_minor=total,
                    method=Method.BLENDED,
                    members=members,
                    params=params,
                    overrides=overrides,
                ),
                args.repeats,
            ),
        )
    )
    rows.append(
        (
            "plan_team_rebalance(one giver)",
            _median_ms(
                lambda: plan_team_rebalance(givers=[giver.member_id], team=team, policy=policy),
                args.repeats,
            ),
        )
    )
    rows.append(
        (
            "plan_team_rebalance(a tenth struggle)",
            _median_ms(
                lambda: plan_team_rebalance(givers=tenth, team=team_tenth, policy=policy),
                args.repeats,
            ),
        )
    )
    rows.append(
        (
            "plan_departure(overflows caps)",
            _median_ms(
                lambda: plan_departure(leaver_id=big_giver.member_id, team=team_big, policy=policy),
                args.repeats,
            ),
        )
    )

    sort_ms, float_ms = rows[0][1], rows[1][1]
    print(f"goals maths, {args.members} members, median of {args.repeats} runs")
    print(f"{'operation':<36} {'median ms':>10} {'x sorted':>9} {'x float':>9}")
    for name, ms in rows:
        print(f"{name:<36} {ms:>10.2f} {ms / sort_ms:>9.1f} {ms / float_ms:>9.1f}")


if __name__ == "__main__":
    main()
