"""Information request routes: the decider asks a party; the party answers or it is waived."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from services.feedback.api.deps import UowDep
from services.feedback.api.schemas import DisputeRead
from services.feedback.handlers import dispute_information as handlers
from services.feedback.handlers.disputes import DisputeResult
from shared.auth import CurrentPrincipal
from shared.http import IfMatch, etag_of
from shared.problems import problem_responses

router = APIRouter(prefix="/v1/disputes", tags=["disputes"])
_ERRORS = problem_responses(403, 404, 409, 412, 422)
_EX_ID = "3f1c2b7e-9a4d-4c55-8f0e-1b2c3d4e5f60"


class InformationRequestCreate(BaseModel):
    """A question to one party; the decision waits until it is answered or waived."""

    party_id: UUID = Field(examples=[_EX_ID])
    question: str = Field(min_length=1, max_length=5000, examples=["Who set up the first demo?"])


class InformationAnswer(BaseModel):
    """The asked party's answer."""

    answer: str = Field(min_length=1, max_length=20000, examples=["I did, on 3 March."])


class InformationWaiver(BaseModel):
    """Why the decider stops waiting for an answer."""

    reason: str = Field(
        min_length=1, max_length=5000, examples=["On leave until after the deadline"]
    )


def _read(result: DisputeResult, response: Response) -> DisputeRead:
    response.headers["ETag"] = etag_of(result.version)
    return DisputeRead.from_view(result.view, result.version)


@router.post(
    "/{dispute_id}/information-requests",
    status_code=201,
    response_model=DisputeRead,
    responses=_ERRORS,
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
    responses=_ERRORS,
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
    responses=_ERRORS,
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
