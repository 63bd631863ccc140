"""Dispute use cases: open, hear, waive, ask for information, decide, respond, withdraw, read, sweep."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from services.feedback.adapters.orm import Team
from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.feedback.domain import dispute as domain
from services.feedback.domain.dispute import AuditEntry, Dispute, DisputeView
from services.feedback.handlers.access import actor_of, known_team, team_roster, visible_team
from shared.auth import Principal
from shared.domain_errors import Conflict, Forbidden, NotFound
from shared.events import Envelope
from shared.events import feedback as events
from shared.events.goals import ChangeRequestDisputed
from shared.http import check_if_match
from shared.timeutil import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class OpenDispute:
    """Open a dispute between members of a team."""

    team_id: UUID
    kind: str
    subject: str
    parties: list[UUID]
    related: dict[str, UUID] | None = None


@dataclass(frozen=True, kw_only=True)
class SubmitStatement:
    """Submit or revise the caller's statement."""

    dispute_id: UUID
    text: str
    if_match: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordWaiver:
    """Record why a party could not be heard."""

    dispute_id: UUID
    party_id: UUID
    reason: str
    if_match: str | None = None


@dataclass(frozen=True, kw_only=True)
class DecideDispute:
    """Decide a dispute once every party is heard."""

    dispute_id: UUID
    summary: str
    rationale: str
    actions: list[domain.DecisionAction] = field(default_factory=list)
    if_match: str | None = None
    resolution_type: str | None = None


@dataclass(frozen=True, kw_only=True)
class RespondToDecision:
    """Record whether the caller (a party) accepts the decision."""

    dispute_id: UUID
    accepts: bool
    comment: str | None = None
    if_match: str | None = None


@dataclass(frozen=True, kw_only=True)
class WithdrawDispute:
    """Withdraw a dispute the caller opened."""

    dispute_id: UUID
    if_match: str | None = None


@dataclass(frozen=True, kw_only=True)
class RequestInformation:
    """Ask one party of a dispute a question."""

    dispute_id: UUID
    party_id: UUID
    question: str
    if_match: str | None = None


@dataclass(frozen=True, kw_only=True)
class CloseInformationRequest:
    """Answer a request (its party) or waive it (the decider)."""

    dispute_id: UUID
    request_id: UUID
    text: str
    waive: bool = False
    if_match: str | None = None


@dataclass(frozen=True, kw_only=True)
class DisputeResult:
    """A dispute as the caller may see it, with its version (the ETag)."""

    view: DisputeView
    version: int


async def _load(uow: FeedbackUnitOfWork, principal: Principal, dispute_id: UUID) -> Dispute:
    dispute = await uow.disputes.get(org_id=principal.org, dispute_id=dispute_id)
    if dispute is None or not dispute.can_view(actor_of(principal)):
        raise NotFound("dispute not found")
    return dispute


async def _load_for_change(
    uow: FeedbackUnitOfWork, principal: Principal, dispute_id: UUID, if_match: str | None
) -> Dispute:
    dispute = await _load(uow, principal, dispute_id)
    check_if_match(if_match, uow.disputes.version_of(dispute.id))
    return dispute


async def _saved(uow: FeedbackUnitOfWork, principal: Principal, dispute: Dispute) -> DisputeResult:
    version = await uow.disputes.save(dispute)
    await uow.commit()
    return DisputeResult(view=dispute.view_for(actor_of(principal)), version=version)


async def _notify_party(
    uow: FeedbackUnitOfWork,
    principal: Principal,
    dispute: Dispute,
    *,
    party_id: UUID,
    body: str,
    at: datetime,
) -> None:
    """Put a notice about the dispute in one party's feed."""
    await uow.feedback.add(
        {
            "id": uuid.uuid4(),
            "org_id": principal.org,
            "team_id": dispute.team_id,
            "member_id": party_id,
            "addressee_id": party_id,
            "author_id": principal.member_id,
            "author_sub": principal.sub,
            "kind": "notice",
            "body": body,
            "dispute_id": dispute.id,
            "created_at": at,
        }
    )


async def open_dispute(
    cmd: OpenDispute, *, uow: FeedbackUnitOfWork, principal: Principal
) -> DisputeResult:
    """Open a dispute; escalate it to admins when the team's manager is a party."""
    async with uow:
        team = await visible_team(uow, principal, cmd.team_id)
        actor = actor_of(principal)
        dispute = await _open(uow, team=team, actor=actor, dispute_id=uuid.uuid4(), cmd=cmd)
        await uow.commit()
        return DisputeResult(view=dispute.view_for(actor), version=1)


async def _open(
    uow: FeedbackUnitOfWork, *, team: Team, actor: domain.Actor, dispute_id: UUID, cmd: OpenDispute
) -> Dispute:
    """Open a dispute in a team with its deadlines, and announce it (the caller commits)."""
    roster = await team_roster(uow, team)
    dispute, opened = Dispute.open(
        id=dispute_id,
        org_id=team.org_id,
        team_id=team.id,
        kind=cmd.kind,
        subject=cmd.subject,
        parties=list(cmd.parties),
        related=cmd.related,
        actor=actor,
        team_member_ids=roster,
        manager_member_ids={team.manager_id},
        at=utcnow(),
    )
    policy = await uow.disputes.policy(org_id=team.org_id, team_id=team.id)
    if policy is not None:
        dispute.set_deadlines(
            statement_due_hours=policy.statement_due_hours,
            decision_due_hours=policy.decision_due_hours,
        )
    await uow.disputes.add(dispute)
    uow.emit(
        events.DisputeOpened(
            org_id=team.org_id,
            team_id=team.id,
            dispute_id=dispute.id,
            kind=dispute.kind.value,
            subject=dispute.subject,
            parties=list(dispute.parties),
            related={k: str(v) for k, v in dispute.related.items()} if dispute.related else None,
            escalated=opened.escalated,
        )
    )
    return dispute


async def on_change_request_disputed(
    event: ChangeRequestDisputed, envelope: Envelope, uow: FeedbackUnitOfWork
) -> None:
    """Open the `target` dispute a rep asked for when their change request was refused.

    The rep and the team's manager are the parties (the refusal is the manager's side), so the
    dispute is escalated and an admin decides once both are heard. Its id is the one goals chose.
    """
    if await uow.disputes.get(org_id=event.org_id, dispute_id=event.dispute_id) is not None:
        return
    team = await uow.directory.team(org_id=event.org_id, team_id=event.team_id)
    if team is None:
        # Topics arrive in no fixed order: retry until the team is known (then dead-letter).
        raise LookupError(f"team {event.team_id} is not known yet")
    subject = (
        f"Refused change request: {event.old_amount} to {event.new_amount} {event.currency}. "
        f"Asked: {event.reason}. Refused: {event.rationale}"
    )[:300]
    parties = [event.member_id] + ([team.manager_id] if team.manager_id != event.member_id else [])
    await _open(
        uow,
        team=team,
        actor=domain.Actor(member_id=event.member_id, user_sub=str(event.member_id)),
        dispute_id=event.dispute_id,
        cmd=OpenDispute(
            team_id=team.id,
            kind="target",
            subject=subject,
            parties=parties,
            related={"target_id": event.target_id},
        ),
    )


async def submit_statement(
    cmd: SubmitStatement, *, uow: FeedbackUnitOfWork, principal: Principal
) -> DisputeResult:
    """Submit or revise the caller's statement; the event carries no text."""
    async with uow:
        dispute = await _load_for_change(uow, principal, cmd.dispute_id, cmd.if_match)
        fact = dispute.submit_statement(actor=actor_of(principal), text=cmd.text, at=utcnow())
        uow.emit(
            events.StatementSubmitted(
                org_id=principal.org,
                team_id=dispute.team_id,
                dispute_id=dispute.id,
                party_id=fact.party_id,
                version=fact.version,
            )
        )
        return await _saved(uow, principal, dispute)


async def record_waiver(
    cmd: RecordWaiver, *, uow: FeedbackUnitOfWork, principal: Principal
) -> DisputeResult:
    """Record a waiver; the party is notified by the event and by a notice in their feed."""
    async with uow:
        dispute = await _load_for_change(uow, principal, cmd.dispute_id, cmd.if_match)
        at = utcnow()
        fact = dispute.record_waiver(
            actor=actor_of(principal), party_id=cmd.party_id, reason=cmd.reason, at=at
        )
        uow.emit(
            events.WaiverRecorded(
                org_id=principal.org,
                team_id=dispute.team_id,
                dispute_id=dispute.id,
                party_id=fact.party_id,
                reason=fact.reason,
            )
        )
        await _notify_party(
            uow,
            principal,
            dispute,
            party_id=fact.party_id,
            body=(
                f'You were recorded as not heard in the dispute "{dispute.subject}". '
                f"Reason given: {fact.reason}"
            ),
            at=at,
        )
        return await _saved(uow, principal, dispute)


async def decide_dispute(
    cmd: DecideDispute, *, uow: FeedbackUnitOfWork, principal: Principal
) -> DisputeResult:
    """Decide with a rationale; refused (409, with who is missing) until every party is heard."""
    async with uow:
        dispute = await _load_for_change(uow, principal, cmd.dispute_id, cmd.if_match)
        team = await known_team(uow, principal, dispute.team_id)
        fact = dispute.decide(
            actor=actor_of(principal),
            summary=cmd.summary,
            rationale=cmd.rationale,
            actions=cmd.actions,
            team_member_ids=await team_roster(uow, team),
            at=utcnow(),
            resolution_type=cmd.resolution_type,
        )
        decision = dispute.decision
        assert decision is not None
        uow.emit(
            events.DisputeResolved(
                org_id=principal.org,
                team_id=dispute.team_id,
                dispute_id=dispute.id,
                decided_by=fact.decided_by_sub,
                summary=decision.summary,
                rationale=decision.rationale,
                actions=[_action_event(a) for a in fact.actions],
                resolution_type=decision.resolution_type,
            )
        )
        return await _saved(uow, principal, dispute)


async def request_information(
    cmd: RequestInformation, *, uow: FeedbackUnitOfWork, principal: Principal
) -> DisputeResult:
    """Ask a party a question; the party is notified and the decision waits for the answer."""
    async with uow:
        dispute = await _load_for_change(uow, principal, cmd.dispute_id, cmd.if_match)
        at = utcnow()
        fact = dispute.request_information(
            actor=actor_of(principal),
            request_id=uuid.uuid4(),
            party_id=cmd.party_id,
            question=cmd.question,
            at=at,
        )
        uow.emit(
            events.InformationRequested(
                org_id=principal.org,
                team_id=dispute.team_id,
                dispute_id=dispute.id,
                request_id=fact.request_id,
                party_id=fact.party_id,
            )
        )
        await _notify_party(
            uow,
            principal,
            dispute,
            party_id=fact.party_id,
            body=f'A question awaits your answer in the dispute "{dispute.subject}".',
            at=at,
        )
        return await _saved(uow, principal, dispute)


async def close_information_request(
    cmd: CloseInformationRequest, *, uow: FeedbackUnitOfWork, principal: Principal
) -> DisputeResult:
    """Answer a question as the party asked, or waive it as the decider, saying why."""
    async with uow:
        dispute = await _load_for_change(uow, principal, cmd.dispute_id, cmd.if_match)
        actor, at = actor_of(principal), utcnow()
        fact: domain.InformationRequestClosed
        if cmd.waive:
            fact = dispute.waive_information(
                actor=actor, request_id=cmd.request_id, reason=cmd.text, at=at
            )
        else:
            fact = dispute.answer_information(
                actor=actor, request_id=cmd.request_id, answer=cmd.text, at=at
            )
        uow.emit(
            events.InformationRequestClosed(
                org_id=principal.org,
                team_id=dispute.team_id,
                dispute_id=dispute.id,
                request_id=fact.request_id,
                party_id=fact.party_id,
                outcome=fact.outcome,
            )
        )
        return await _saved(uow, principal, dispute)


def _action_event(action: domain.DecisionAction) -> events.AdjustTarget | events.ReassignSaleCredit:
    if isinstance(action, domain.AdjustTarget):
        return events.AdjustTarget(
            member_id=action.member_id,
            period_id=action.period_id,
            delta=action.delta,
            team_total_changes=action.team_total_changes,
        )
    return events.ReassignSaleCredit(
        sale_id=action.sale_id, to_member_id=action.to_member_id, percent=action.percent
    )


def _closed_event(dispute: Dispute, fact: domain.DisputeClosed) -> events.DisputeClosed:
    return events.DisputeClosed(
        org_id=dispute.org_id,
        team_id=dispute.team_id,
        dispute_id=dispute.id,
        accepted_by=list(fact.accepted_by),
        disagreed_by=list(fact.disagreed_by),
        no_response=list(fact.unresponsive),
    )


async def respond_to_decision(
    cmd: RespondToDecision, *, uow: FeedbackUnitOfWork, principal: Principal
) -> DisputeResult:
    """Record a party's answer; disagreement is kept; the last answer closes the dispute."""
    async with uow:
        dispute = await _load_for_change(uow, principal, cmd.dispute_id, cmd.if_match)
        facts = dispute.respond(
            actor=actor_of(principal), accepts=cmd.accepts, comment=cmd.comment, at=utcnow()
        )
        for fact in facts:
            if isinstance(fact, domain.DisputeClosed):
                uow.emit(_closed_event(dispute, fact))
            elif isinstance(fact, domain.InquiryEscalated):
                uow.emit(
                    events.InquiryEscalated(
                        org_id=dispute.org_id,
                        team_id=dispute.team_id,
                        dispute_id=dispute.id,
                        kind=fact.kind.value,
                    )
                )
        return await _saved(uow, principal, dispute)


async def withdraw_dispute(
    cmd: WithdrawDispute, *, uow: FeedbackUnitOfWork, principal: Principal
) -> DisputeResult:
    """Withdraw a dispute: the opener only, before a decision."""
    async with uow:
        dispute = await _load_for_change(uow, principal, cmd.dispute_id, cmd.if_match)
        fact = dispute.withdraw(actor=actor_of(principal), at=utcnow())
        uow.emit(
            events.DisputeWithdrawn(
                org_id=principal.org,
                team_id=dispute.team_id,
                dispute_id=dispute.id,
                withdrawn_by=fact.withdrawn_by_sub,
            )
        )
        return await _saved(uow, principal, dispute)


async def get_dispute(
    dispute_id: UUID, *, uow: FeedbackUnitOfWork, principal: Principal
) -> DisputeResult:
    """Return the dispute as the caller may see it (404 for anyone who may not see it)."""
    async with uow:
        dispute = await _load(uow, principal, dispute_id)
        return DisputeResult(
            view=dispute.view_for(actor_of(principal)), version=uow.disputes.version_of(dispute.id)
        )


async def list_disputes(
    *,
    uow: FeedbackUnitOfWork,
    principal: Principal,
    team_id: UUID | None,
    state: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[DisputeResult], str | None]:
    """List the disputes the caller may see: parties theirs, managers their teams', admins all."""
    actor = actor_of(principal)
    async with uow:
        disputes, next_cursor = await uow.disputes.list_visible(
            org_id=principal.org,
            everything=principal.is_admin,
            team_ids=actor.managed_team_ids,
            member_id=principal.member_id,
            sub=principal.sub,
            team_id=team_id,
            state=state,
            cursor=cursor,
            limit=limit,
        )
        results = [
            DisputeResult(view=d.view_for(actor), version=uow.disputes.version_of(d.id))
            for d in disputes
            if d.can_view(actor)
        ]
        return results, next_cursor


async def dispute_audit(
    dispute_id: UUID, *, uow: FeedbackUnitOfWork, principal: Principal
) -> list[AuditEntry]:
    """Return the full audit trail: for the team's manager and admins."""
    actor = actor_of(principal)
    async with uow:
        dispute = await _load(uow, principal, dispute_id)
        if not (actor.is_admin or actor.manages(dispute.team_id)):
            raise Forbidden("only a manager of the team or an admin may read the audit trail")
        return list(dispute.audit)


async def close_expired_disputes(
    *, uow_factory: Callable[[], FeedbackUnitOfWork], window_hours: float
) -> int:
    """Close decided disputes whose response window ran out; safe with several replicas."""
    window = timedelta(hours=window_hours)
    now = utcnow()
    async with uow_factory() as uow:
        due = await uow.disputes.decided_before(cutoff=now - window)
    closed = 0
    for org_id, dispute_id in due:
        try:
            async with uow_factory() as uow:
                dispute = await uow.disputes.get(org_id=org_id, dispute_id=dispute_id)
                if dispute is None:
                    continue
                fact = dispute.close_if_expired(now=now, response_window=window)
                if fact is None:
                    continue
                await uow.disputes.save(dispute)
                uow.emit(_closed_event(dispute, fact))
                await uow.commit()
                closed += 1
        except Conflict:
            log.info("dispute %s changed while closing it; another replica took it", dispute_id)
    return closed
