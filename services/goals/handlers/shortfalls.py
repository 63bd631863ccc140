"""Goals' answer to a team evaluation: one decision for every struggling rep of the team at once."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from services.goals.adapters.orm import Plan, Rebalance, Target, Team
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from services.goals.domain.rebalancing import MemberPosition, RebalancePolicy
from services.goals.domain.team_rebalance import (
    DecisionContext,
    Offered,
    Skipped,
    TeamRebalancePlan,
    decide_rebalance,
)
from services.goals.handlers.ledger import apply_new_targets, member_uuid, policy_for
from services.goals.handlers.offer_round import open_round
from services.goals.handlers.standings import Standing, remember_standings
from shared.domain_errors import NotFound
from shared.events import Envelope
from shared.events.goals import GiverShare, TargetsRebalanced, Transfer
from shared.events.performance import (
    MemberFigures,
    MemberShortfall,
    ShortfallDetected,
    TeamShortfallsDetected,
)
from shared.money import from_minor, to_minor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Figures:
    """One member's achieved, projected and status as performance measured them."""

    member_id: uuid.UUID
    achieved_minor: int
    projected_minor: int
    status: str

    def stored(self) -> dict[str, object]:
        """The JSON form kept on a rebalance row."""
        return {
            "member_id": str(self.member_id),
            "achieved_minor": self.achieved_minor,
            "projected_minor": self.projected_minor,
            "status": self.status,
        }

    @classmethod
    def of_stored(cls, data: Mapping[str, Any]) -> Figures:
        """Figures read back from a rebalance row."""
        return cls(
            uuid.UUID(str(data["member_id"])),
            int(data["achieved_minor"]),
            int(data["projected_minor"]),
            str(data["status"]),
        )


async def positions_from(
    uow: GoalsUnitOfWork, team: Team, targets: Sequence[Target], figures: Sequence[Figures]
) -> list[MemberPosition]:
    """Goals' current targets of the active members joined with performance's figures."""
    active = {m.id for m in await uow.repo.active_members(org_id=team.org_id, team_id=team.id)}
    by_member = {f.member_id: f for f in figures}
    return [
        MemberPosition(
            member_id=t.member_id,
            target_minor=t.amount_minor,
            original_target_minor=t.original_minor,
            achieved_minor=by_member[t.member_id].achieved_minor,
            projected_minor=by_member[t.member_id].projected_minor,
            status=by_member[t.member_id].status,
        )
        for t in targets
        if t.member_id in active and t.member_id in by_member
    ]


def record_plan(
    row: Rebalance, plan: TeamRebalancePlan, shortfall_ids: Mapping[uuid.UUID, uuid.UUID]
) -> None:
    """Write a team plan's figures onto its rebalance row."""
    row.requested_minor = plan.requested_minor
    row.moved_minor = plan.moved_minor
    row.uncovered_minor = plan.uncovered_minor
    row.givers = [
        {
            "member_id": str(g.member_id),
            "shortfall_id": str(shortfall_ids[member_uuid(g.member_id)])
            if g.member_id in shortfall_ids
            else None,
            "requested_minor": g.requested_minor,
            "moved_minor": g.moved_minor,
            "uncovered_minor": g.uncovered_minor,
            "held_back": g.held_back,
        }
        for g in plan.givers
    ]
    row.transfers = [
        {"from": str(t.from_member), "to": str(t.to_member), "amount_minor": t.amount_minor}
        for t in plan.transfers
    ]
    row.new_targets = {str(k): v for k, v in plan.new_targets.items()}
    if plan.givers:
        # The giver with the largest shortfall names the row for readers of one giver per row.
        lead = max(plan.givers, key=lambda g: (g.requested_minor, str(g.member_id)))
        row.giver_id = member_uuid(lead.member_id)
        row.shortfall_id = shortfall_ids.get(row.giver_id)


async def on_team_shortfalls_detected(
    event: TeamShortfallsDetected, envelope: Envelope, uow: GoalsUnitOfWork
) -> None:
    """Answer a team evaluation by the team's policy: apply, propose, or say why not, once."""
    org = event.org_id
    if await uow.repo.rebalance_by_source(org_id=org, source_event_id=envelope.id) is not None:
        return  # this event already had its one decision
    team = await uow.repo.find(Team, org_id=org, id=event.team_id)
    if team is None:
        log.warning("shortfalls for unknown team %s; skipped", event.team_id)
        return
    figures = [figures_from(s, event.currency) for s in event.standings]
    await remember_standings(
        uow,
        org=org,
        period_id=event.period_id,
        reports=[
            Standing(f.member_id, f.achieved_minor, f.projected_minor, f.status, event.as_of)
            for f in figures
        ],
    )
    shortfall_ids = {s.member_id: s.shortfall_id for s in event.shortfalls}
    plan = await uow.repo.plan_of(org_id=org, team_id=team.id, period_id=event.period_id)
    targets = await uow.repo.targets_of(org_id=org, plan_id=plan.id) if plan is not None else []
    policy = await policy_for(uow=uow, org=org, team_id=team.id)
    history = await uow.repo.team_rebalances(org_id=org, team_id=team.id, period_id=event.period_id)
    moved_at = [
        r.as_of
        for r in history
        if r.kind == "shortfall" and r.status in ("applied", "proposed", "approved")
    ]
    as_of = event.as_of
    decision = decide_rebalance(
        givers=list(shortfall_ids),
        team=await positions_from(uow, team, targets, figures),
        policy=policy,
        context=DecisionContext(
            plan_published=plan is not None and plan.status == "published",
            as_of=as_of,
            period_ends_at=event.period_ends_at,
            last_moved_at=max(moved_at, default=None),
            offer_round_open=any(r.status == "offered" for r in history),
            # Figures describe the target versions performance had; a person's change since
            # then makes them stale, a rebalance's own change does not.
            changed_by_person=tuple(
                str(t)
                for t in await uow.repo.changed_by_person_since(
                    org_id=org, versions={s.target_id: s.target_version for s in event.standings}
                )
            ),
            conversed=await _conversed(uow, org, shortfall_ids, policy),
        ),
    )
    if isinstance(decision, Skipped) and _reported_before(history, shortfall_ids.values()):
        return  # a retry that changes nothing: the first report of each claim stands
    row = _new_row(event, envelope, team, plan)
    record_plan(row, decision.plan, shortfall_ids)
    row.figures = [f.stored() for f in figures]
    touched = set(decision.plan.new_targets)
    row.target_versions = {str(t.id): t.version for t in targets if t.member_id in touched}
    if isinstance(decision, Skipped):
        row.status, row.reason = "skipped", decision.reason
    elif isinstance(decision, Offered):
        open_round(uow, row, decision.offers, policy)
    else:
        row.status = decision.status
        if decision.status == "applied":
            assert plan is not None
            await apply_rebalance(uow=uow, row=row, plan=plan, targets=targets, applied="auto")
        else:
            _supersede(uow, history)
    uow.repo.add(row)
    await uow.repo.flush()  # the unique (org, source_event_id) key guards concurrent deliveries


async def on_shortfall_detected(
    event: ShortfallDetected, envelope: Envelope, uow: GoalsUnitOfWork
) -> None:
    """Answer a one-member shortfall (the earlier contract) as a team evaluation naming one rep."""
    await on_team_shortfalls_detected(
        TeamShortfallsDetected(
            org_id=event.org_id,
            team_id=event.team_id,
            evaluation_id=event.shortfall_id,
            period_id=event.period_id,
            currency=event.currency,
            as_of=event.as_of,
            period_ends_at=event.period_ends_at,
            shortfalls=[
                MemberShortfall(
                    shortfall_id=event.shortfall_id,
                    member_id=event.member_id,
                    episode=1,
                    shortfall=event.shortfall,
                    new=True,
                )
            ],
            standings=[MemberFigures(**s.model_dump()) for s in event.snapshot],
        ),
        envelope,
        uow,
    )


async def _conversed(
    uow: GoalsUnitOfWork,
    org: uuid.UUID,
    shortfall_ids: Mapping[uuid.UUID, uuid.UUID],
    policy: RebalancePolicy,
) -> frozenset[uuid.UUID]:
    """The givers whose current episode had a conversation (looked up only when it matters)."""
    if not policy.require_checkin_before_rebalance:
        return frozenset()
    held = await uow.repo.conversations_in(org_id=org, shortfall_ids=list(shortfall_ids.values()))
    return frozenset(m for m, s in shortfall_ids.items() if s in held)


def figures_from(s: MemberFigures, currency: str) -> Figures:
    return Figures(
        s.member_id,
        to_minor(s.achieved, currency, limit=None),
        to_minor(s.projected, currency, limit=None),
        s.status,
    )


def _reported_before(history: Sequence[Rebalance], shortfall_ids: Iterable[uuid.UUID]) -> bool:
    seen = {g.get("shortfall_id") for r in history for g in r.givers} | {
        str(r.shortfall_id) for r in history if r.shortfall_id is not None
    }
    return all(str(s) in seen for s in shortfall_ids)


def _supersede(uow: GoalsUnitOfWork, history: Sequence[Rebalance]) -> None:
    """A newer proposal replaces an open one: the manager decides on current figures only."""
    for earlier in history:
        if earlier.status == "proposed" and earlier.kind == "shortfall":
            earlier.status, earlier.reason = "superseded", "a newer proposal replaced it"
            uow.repo.add(earlier)


def _new_row(
    event: TeamShortfallsDetected, envelope: Envelope, team: Team, plan: Plan | None
) -> Rebalance:
    return Rebalance.model_validate(
        {
            "org_id": event.org_id,
            "team_id": team.id,
            "period_id": event.period_id,
            "plan_id": plan.id if plan is not None else None,
            "giver_id": event.shortfalls[0].member_id if event.shortfalls else team.manager_id,
            "source_event_id": envelope.id,
            "status": "skipped",
            "currency": team.currency,
            "as_of": event.as_of,
        }
    )


def figures_of(row: Rebalance) -> list[Figures]:
    """The figures a rebalance row was decided on."""
    return [Figures.of_stored(f) for f in row.figures]


async def plan_of_row(uow: GoalsUnitOfWork, row: Rebalance) -> Plan:
    """The plan a rebalance moves targets in (only a rebalance skipped for want of one has none)."""
    if row.plan_id is None:
        raise NotFound(f"rebalance {row.id} has no plan")
    return await uow.repo.get(Plan, org_id=row.org_id, id=row.plan_id, what="plan")


def shortfall_ids_of(row: Rebalance) -> dict[uuid.UUID, uuid.UUID]:
    """Each giver of a rebalance row and their shortfall id."""
    return {
        uuid.UUID(g["member_id"]): uuid.UUID(g["shortfall_id"])
        for g in row.givers
        if g.get("shortfall_id")
    }


class StoredMoves(Protocol):
    """What transfers_of and givers_of read of a rebalance: its row, or whatever mirrors it."""

    currency: str
    transfers: list[dict[str, Any]]
    givers: list[dict[str, Any]]


def transfers_of(row: StoredMoves) -> list[tuple[uuid.UUID, uuid.UUID, Decimal]]:
    """A rebalance's stored transfers as (from member, to member, amount)."""
    return [
        (
            uuid.UUID(str(t["from"])),
            uuid.UUID(str(t["to"])),
            from_minor(t["amount_minor"], row.currency),
        )
        for t in row.transfers
    ]


def givers_of(row: StoredMoves) -> list[GiverShare]:
    """A rebalance's stored givers as exact amounts."""
    return [
        GiverShare(
            member_id=g["member_id"],
            shortfall_id=g.get("shortfall_id"),
            requested=from_minor(g["requested_minor"], row.currency),
            moved=from_minor(g["moved_minor"], row.currency),
            uncovered=from_minor(g["uncovered_minor"], row.currency),
            held_back=g.get("held_back"),
        )
        for g in row.givers
    ]


async def apply_rebalance(
    *, uow: GoalsUnitOfWork, row: Rebalance, plan: Plan, targets: list[Target], applied: str
) -> None:
    """Write a rebalance's new targets and announce it (caller commits)."""
    if row.kind == "give_back":
        reason = "give_back"
    else:
        # A settled offer round moves target by the reps' own consent, like an automatic one.
        reason = "proposal_approved" if applied == "approved" else "rebalance"
    new_targets = {uuid.UUID(k): v for k, v in row.new_targets.items()}
    apply_new_targets(
        uow=uow,
        plan=plan,
        targets=targets,
        new_targets=new_targets,
        reason=reason,
        actor=row.decided_by,
        source_event_id=row.source_event_id,
    )
    uow.emit(
        TargetsRebalanced(
            org_id=row.org_id,
            team_id=row.team_id,
            rebalance_id=row.id,
            period_id=row.period_id,
            giver_id=row.giver_id,
            requested=from_minor(row.requested_minor, row.currency),
            moved=from_minor(row.moved_minor, row.currency),
            uncovered=from_minor(row.uncovered_minor, row.currency),
            currency=row.currency,
            transfers=[
                Transfer(from_member_id=giver, to_member_id=taker, amount=amount)
                for giver, taker, amount in transfers_of(row)
            ],
            source_event_id=row.source_event_id,
            applied=applied,
            givers=givers_of(row),
            kind=row.kind,
        )
    )
