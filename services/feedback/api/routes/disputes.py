"""Dispute routes: open, hear, waive, ask for information, decide, respond, withdraw, read, audit."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from fastapi import APIRouter, Response

from services.feedback.adapters.evidence_sources import sources_from
from services.feedback.api.deps import RuntimeDep, UowDep
from services.feedback.api.schemas import (
    AuditEntryRead,
    DecisionCreate,
    DisputeCreate,
    DisputeRead,
    DisputeStateIn,
    EvidencePackRead,
    InformationAnswer,
    InformationRequestCreate,
    InformationWaiver,
    ResponseCreate,
    StatementCreate,
    WaiverCreate,
)
from services.feedback.domain import dispute as domain
from services.feedback.handlers import disputes as handlers
from services.feedback.handlers.evidence import evidence_pack
from shared.auth import CurrentPrincipal
from shared.events.feedback import AdjustTarget, ReassignSaleCredit
from shared.http import Cursor, IfMatch, Limit, Page, etag_of
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/disputes", tags=["disputes"])


def _read(result: handlers.DisputeResult, response: Response) -> DisputeRead:
    response.headers["ETag"] = etag_of(result.version)
    return DisputeRead.from_view(result.view, result.version)


@router.post(
    "", status_code=201, response_model=DisputeRead, responses=problem_responses(403, 404, 422)
)
async def create_dispute(
    body: DisputeCreate, principal: CurrentPrincipal, uow: UowDep, response: Response
) -> DisputeRead:
    """Open a dispute between members of a team."""
    cmd = handlers.OpenDispute(
        team_id=body.team_id,
        kind=body.kind,
        subject=body.subject,
        parties=body.parties,
        related=body.related.as_dict() if body.related else None,
    )
    return _read(await handlers.open_dispute(cmd, uow=uow, principal=principal), response)


@router.get("", response_model=Page[DisputeRead], responses=problem_responses(422))
async def list_disputes(
    principal: CurrentPrincipal,
    uow: UowDep,
    team_id: UUID | None = None,
    state: DisputeStateIn | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DisputeRead]:
    """List the disputes the caller may see (parties: theirs; managers: their teams')."""
    results, next_cursor = await handlers.list_disputes(
        uow=uow, principal=principal, team_id=team_id, state=state, cursor=cursor, limit=limit
    )
    return Page[DisputeRead](
        items=[DisputeRead.from_view(r.view, r.version) for r in results], next_cursor=next_cursor
    )


@router.get("/{dispute_id}", response_model=DisputeRead, responses=problem_responses(404))
async def get_dispute(
    dispute_id: UUID, principal: CurrentPrincipal, uow: UowDep, response: Response
) -> DisputeRead:
    """Show a dispute as far as the caller may see it."""
    return _read(await handlers.get_dispute(dispute_id, uow=uow, principal=principal), response)


@router.post(
    "/{dispute_id}/statements",
    response_model=DisputeRead,
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def submit_statement(
    dispute_id: UUID,
    body: StatementCreate,
    principal: CurrentPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> DisputeRead:
    """Submit or revise your statement as a party (until the decision)."""
    cmd = handlers.SubmitStatement(dispute_id=dispute_id, text=body.text, if_match=if_match)
    return _read(await handlers.submit_statement(cmd, uow=uow, principal=principal), response)


@router.post(
    "/{dispute_id}/waivers",
    response_model=DisputeRead,
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def record_waiver(
    dispute_id: UUID,
    body: WaiverCreate,
    principal: CurrentPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> DisputeRead:
    """Record why a party cannot be heard; the party is notified."""
    cmd = handlers.RecordWaiver(
        dispute_id=dispute_id, party_id=body.party_id, reason=body.reason, if_match=if_match
    )
    return _read(await handlers.record_waiver(cmd, uow=uow, principal=principal), response)


@router.post(
    "/{dispute_id}/information-requests",
    status_code=201,
    response_model=DisputeRead,
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def request_information(
    dispute_id: UUID,
    body: InformationRequestCreate,
    principal: CurrentPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> DisputeRead:
    """Ask a party for information (the decider); the dispute is pending until it is answered."""
    cmd = handlers.RequestInformation(
        dispute_id=dispute_id, party_id=body.party_id, question=body.question, if_match=if_match
    )
    return _read(await handlers.request_information(cmd, uow=uow, principal=principal), response)


@router.post(
    "/{dispute_id}/information-requests/{request_id}/answer",
    response_model=DisputeRead,
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def answer_information_request(
    dispute_id: UUID,
    request_id: UUID,
    body: InformationAnswer,
    principal: CurrentPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> DisputeRead:
    """Answer the question put to you as a party."""
    cmd = handlers.CloseInformationRequest(
        dispute_id=dispute_id, request_id=request_id, text=body.answer, if_match=if_match
    )
    result = await handlers.close_information_request(cmd, uow=uow, principal=principal)
    return _read(result, response)


@router.post(
    "/{dispute_id}/information-requests/{request_id}/waiver",
    response_model=DisputeRead,
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def waive_information_request(
    dispute_id: UUID,
    request_id: UUID,
    body: InformationWaiver,
    principal: CurrentPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> DisputeRead:
    """Stop waiting for an answer, saying why (the decider)."""
    cmd = handlers.CloseInformationRequest(
        dispute_id=dispute_id,
        request_id=request_id,
        text=body.reason,
        waive=True,
        if_match=if_match,
    )
    result = await handlers.close_information_request(cmd, uow=uow, principal=principal)
    return _read(result, response)


@router.post(
    "/{dispute_id}/decision",
    response_model=DisputeRead,
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def decide_dispute(
    dispute_id: UUID,
    body: DecisionCreate,
    principal: CurrentPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> DisputeRead:
    """Decide the dispute; refused with 409 listing `missing` until every party is heard."""
    cmd = handlers.DecideDispute(
        dispute_id=dispute_id,
        summary=body.summary,
        rationale=body.rationale,
        actions=[_domain_action(a) for a in body.actions],
        if_match=if_match,
        resolution_type=body.resolution_type,
    )
    return _read(await handlers.decide_dispute(cmd, uow=uow, principal=principal), response)


def _domain_action(action: AdjustTarget | ReassignSaleCredit) -> domain.DecisionAction:
    if isinstance(action, AdjustTarget):
        return domain.AdjustTarget(
            member_id=action.member_id,
            period_id=action.period_id,
            delta=Decimal(action.delta),
            team_total_changes=action.team_total_changes,
        )
    return domain.ReassignSaleCredit(
        sale_id=action.sale_id,
        to_member_id=action.to_member_id,
        percent=Decimal(action.percent),
    )


@router.post(
    "/{dispute_id}/responses",
    response_model=DisputeRead,
    responses=problem_responses(403, 404, 409, 412, 422),
)
async def respond_to_decision(
    dispute_id: UUID,
    body: ResponseCreate,
    principal: CurrentPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> DisputeRead:
    """Say whether you accept the decision; disagreeing is recorded, not refused."""
    cmd = handlers.RespondToDecision(
        dispute_id=dispute_id, accepts=body.accepts, comment=body.comment, if_match=if_match
    )
    return _read(await handlers.respond_to_decision(cmd, uow=uow, principal=principal), response)


@router.post(
    "/{dispute_id}/withdrawal",
    response_model=DisputeRead,
    responses=problem_responses(403, 404, 409, 412),
)
async def withdraw_dispute(
    dispute_id: UUID,
    principal: CurrentPrincipal,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
) -> DisputeRead:
    """Withdraw a dispute you opened, before it is decided."""
    cmd = handlers.WithdrawDispute(dispute_id=dispute_id, if_match=if_match)
    return _read(await handlers.withdraw_dispute(cmd, uow=uow, principal=principal), response)


@router.get(
    "/{dispute_id}/audit",
    response_model=list[AuditEntryRead],
    responses=problem_responses(403, 404),
)
async def get_dispute_audit(
    dispute_id: UUID, principal: CurrentPrincipal, uow: UowDep
) -> list[AuditEntryRead]:
    """Read the dispute's full audit trail (manager of the team or admin)."""
    entries = await handlers.dispute_audit(dispute_id, uow=uow, principal=principal)
    return [AuditEntryRead.from_domain(e) for e in entries]


@router.get(
    "/{dispute_id}/evidence", response_model=EvidencePackRead, responses=problem_responses(404, 409)
)
async def get_dispute_evidence(
    dispute_id: UUID, principal: CurrentPrincipal, runtime: RuntimeDep
) -> EvidencePackRead:
    """The hash-linked evidence of a target or credit dispute; parties see their own entries."""
    sources = getattr(runtime, "evidence_sources", None) or sources_from(runtime.settings)
    pack = await evidence_pack(
        dispute_id,
        uow_factory=runtime.uow,
        principal=principal,
        sources=sources,
    )
    return EvidencePackRead.of(pack)
