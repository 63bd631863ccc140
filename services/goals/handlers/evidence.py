"""What goals knows about one target, for a dispute's evidence pack (read by feedback)."""

from __future__ import annotations

import uuid
from typing import Any

from services.goals.adapters.orm import Rebalance, Target, TargetChange
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from shared.money import from_minor

Item = dict[str, Any]


def _money(minor: int | None, currency: str) -> str | None:
    return None if minor is None else str(from_minor(minor, currency))


def _derivation(target: Target) -> Item:
    return {
        "kind": "derivation",
        # The target's version in the key: a derivation recomputed before publishing is new.
        "key": f"derivation:{target.id}:v{target.version}",
        "about": [str(target.member_id)],
        "data": {
            "target_id": str(target.id),
            "member_id": str(target.member_id),
            "team_id": str(target.team_id),
            "period_id": str(target.period_id),
            "amount": _money(target.amount_minor, target.currency),
            "original": _money(target.original_minor, target.currency),
            "currency": target.currency,
            "version": target.version,
            "derivation": target.derivation,
        },
    }


def _ledger_row(target: Target, row: TargetChange) -> Item:
    return {
        "kind": "ledger_row",
        "key": f"ledger:{row.id}",
        "about": [str(target.member_id)],
        "data": {
            "change_id": str(row.id),
            "target_id": str(target.id),
            "version": row.version,
            "old_amount": _money(row.old_minor, target.currency),
            "new_amount": _money(row.new_minor, target.currency),
            "delta": _money(row.delta_minor, target.currency),
            "reason": row.reason,
            "note": row.note,
            "actor": row.actor,
            "source_event_id": row.source_event_id,
            "at": row.at.isoformat(),
        },
    }


def _snapshot(target: Target, row: Rebalance) -> Item | None:
    """The rep's part of a rebalance decision: their figures, their share, their transfers."""
    member = str(target.member_id)
    transfers = [t for t in row.transfers if member in (t["from"], t["to"])]
    giver = next((g for g in row.givers if g["member_id"] == member), None)
    if giver is None and not transfers:
        return None
    figures = next((f for f in row.figures if f["member_id"] == member), None)
    return {
        "kind": "rebalance_snapshot",
        # The status in the key: a proposal approved later is a new entry, the first one stays.
        "key": f"rebalance:{row.id}:{member}:{row.status}",
        "about": [member],
        "data": {
            "rebalance_id": str(row.id),
            "kind": row.kind,
            "status": row.status,
            "reason": row.reason,
            "as_of": row.as_of.isoformat(),
            "decided_at": row.decided_at.isoformat() if row.decided_at else None,
            "decided_by": row.decided_by,
            "source_event_id": row.source_event_id,
            "figures": None
            if figures is None
            else {
                "achieved": _money(figures["achieved_minor"], row.currency),
                "projected": _money(figures["projected_minor"], row.currency),
                "status": figures["status"],
            },
            "giver": None
            if giver is None
            else {
                "requested": _money(giver["requested_minor"], row.currency),
                "moved": _money(giver["moved_minor"], row.currency),
                "uncovered": _money(giver["uncovered_minor"], row.currency),
                "held_back": giver.get("held_back"),
            },
            "transfers": [
                {
                    "from_member_id": t["from"],
                    "to_member_id": t["to"],
                    "amount": _money(t["amount_minor"], row.currency),
                }
                for t in transfers
            ],
            "new_target": _money(row.new_targets.get(member), row.currency),
        },
    }


async def target_evidence(
    target_id: uuid.UUID, *, uow: GoalsUnitOfWork, org: uuid.UUID
) -> list[Item]:
    """The target's derivation, its ledger rows and its part of every rebalance, oldest first."""
    async with uow:
        target = await uow.repo.get(Target, org_id=org, id=target_id, what="target")
        changes = await uow.repo.ledger(org_id=org, target_id=target.id)
        rebalances = await uow.repo.team_rebalances(
            org_id=org, team_id=target.team_id, period_id=target.period_id
        )
    snapshots = [_snapshot(target, r) for r in rebalances]
    return [
        _derivation(target),
        *(_ledger_row(target, c) for c in changes),
        *(s for s in snapshots if s is not None),
    ]
