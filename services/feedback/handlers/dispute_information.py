"""Information requests in a dispute: the decider asks a party; no decision until answered."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.feedback.domain import dispute as domain
from services.feedback.handlers.access import actor_of
from services.feedback.handlers.disputes import DisputeResult, _load_for_change, _saved
from shared.auth import Principal
from shared.events import feedback as events
from shared.timeutil import utcnow


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
        await uow.feedback.add(
            {
                "id": uuid.uuid4(),
                "org_id": principal.org,
                "team_id": dispute.team_id,
                "member_id": fact.party_id,
                "addressee_id": fact.party_id,
                "author_id": principal.member_id,
                "author_sub": principal.sub,
                "kind": "notice",
                "body": f'A question awaits your answer in the dispute "{dispute.subject}".',
                "dispute_id": dispute.id,
                "created_at": at,
            }
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
