"""Coaching feedback use cases: notes between a rep and their manager, and the feed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from services.feedback.adapters.orm import FeedbackNote
from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.feedback.handlers.access import caller_team_ids
from shared.auth import Principal
from shared.domain_errors import Forbidden, InvalidInput, NotFound

WRITABLE_KINDS = ("coaching", "recognition", "concern")


@dataclass(frozen=True, kw_only=True)
class GiveFeedback:
    """Write a private note to a member (a manager to a rep, or a rep to their manager)."""

    member_id: UUID
    kind: str
    body: str


async def give_feedback(
    cmd: GiveFeedback, *, uow: FeedbackUnitOfWork, principal: Principal
) -> FeedbackNote:
    """Store a note visible to its author, the member it is addressed to, and admins."""
    if cmd.kind not in WRITABLE_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(WRITABLE_KINDS)}", field="kind")
    body = cmd.body.strip()
    if not body:
        raise InvalidInput("body is required", field="body")
    if cmd.member_id == principal.member_id:
        raise InvalidInput("feedback is addressed to someone else", field="member_id")
    async with uow:
        team_id = await _team_between(uow, principal, cmd.member_id)
        note = await uow.feedback.add(
            {
                "id": uuid.uuid4(),
                "org_id": principal.org,
                "team_id": team_id,
                "member_id": cmd.member_id,
                "addressee_id": cmd.member_id,
                "author_id": principal.member_id,
                "author_sub": principal.sub,
                "kind": cmd.kind,
                "body": body,
                "created_at": datetime.now(UTC),
            }
        )
        await uow.commit()
        return note


async def _team_between(
    uow: FeedbackUnitOfWork, principal: Principal, member_id: UUID
) -> UUID | None:
    """The team linking the caller and the member; 404 for strangers, 403 for teammates."""
    member = await uow.directory.member(org_id=principal.org, member_id=member_id)
    managed = await uow.directory.teams_managed_by(org_id=principal.org, member_id=member_id)
    if member is None and not managed:
        raise NotFound("member not found")
    if principal.is_admin:
        return member.team_id if member is not None else managed[0].id
    # Manager -> rep: the caller manages the member's team.
    if member is not None and member.active and principal.manages(member.team_id):
        return member.team_id
    # Rep -> manager: the member manages a team the caller is on.
    mine = await caller_team_ids(uow, principal)
    for team in managed:
        if team.id in mine:
            return team.id
    if member is not None and member.team_id in mine:
        raise Forbidden("feedback goes between a rep and their manager")
    raise NotFound("member not found")


async def list_feedback(
    *,
    uow: FeedbackUnitOfWork,
    principal: Principal,
    member_id: UUID | None,
    kind: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[FeedbackNote], str | None]:
    """List the notes the caller takes part in (admins: all), optionally about one member."""
    async with uow:
        return await uow.feedback.list_visible(
            org_id=principal.org,
            everything=principal.is_admin,
            viewer_id=principal.member_id,
            viewer_sub=principal.sub,
            member_id=member_id,
            kind=kind,
            cursor=cursor,
            limit=limit,
        )
