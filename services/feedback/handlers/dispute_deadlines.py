"""Dispute deadlines: a team policy, reminders and dispute_overdue when a deadline passes."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from services.feedback.adapters.orm import DisputePolicy, Team
from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.feedback.domain.dispute import Dispute, DisputeOverdue
from services.feedback.handlers.access import visible_team
from shared.auth import Principal
from shared.domain_errors import Conflict, Forbidden, InvalidInput
from shared.events import feedback as events

log = logging.getLogger(__name__)
#: A deadline longer than a year is a typo, not a policy.
MAX_HOURS = 24 * 366


@dataclass(frozen=True, kw_only=True)
class SetDisputePolicy:
    """Set a team's dispute deadlines (None: no deadline of that kind)."""

    team_id: UUID
    statement_due_hours: float | None
    decision_due_hours: float | None


def _check_hours(value: float | None, field: str) -> None:
    if value is not None and not 0 < value <= MAX_HOURS:
        raise InvalidInput(f"{field} must be above 0 and at most {MAX_HOURS}", field=field)


async def set_dispute_policy(
    cmd: SetDisputePolicy, *, uow: FeedbackUnitOfWork, principal: Principal
) -> DisputePolicy:
    """Set the deadlines of disputes opened from now on (the team's manager or an admin)."""
    _check_hours(cmd.statement_due_hours, "statement_due_hours")
    _check_hours(cmd.decision_due_hours, "decision_due_hours")
    if (
        cmd.statement_due_hours is not None
        and cmd.decision_due_hours is not None
        and cmd.decision_due_hours < cmd.statement_due_hours
    ):
        raise InvalidInput(
            "the decision cannot be due before the statements", field="decision_due_hours"
        )
    async with uow:
        team = await visible_team(uow, principal, cmd.team_id)
        if not principal.manages(team.id):
            raise Forbidden("only the team's manager or an admin sets the dispute policy")
        data = {
            "team_id": team.id,
            "org_id": principal.org,
            "statement_due_hours": cmd.statement_due_hours,
            "decision_due_hours": cmd.decision_due_hours,
            "updated_by_sub": principal.sub,
            "updated_at": datetime.now(UTC),
        }
        row = await uow.disputes.put_policy(DisputePolicy.model_validate(data))
        await uow.commit()
        return row


async def get_dispute_policy(
    team_id: UUID, *, uow: FeedbackUnitOfWork, principal: Principal
) -> DisputePolicy | None:
    """Return a team's dispute policy (anyone on the team)."""
    async with uow:
        team = await visible_team(uow, principal, team_id)
        return await uow.disputes.policy(org_id=principal.org, team_id=team.id)


async def announce_overdue_disputes(
    *, uow_factory: Callable[[], FeedbackUnitOfWork], now: datetime | None = None
) -> int:
    """Announce each passed deadline once, and remind whoever is late; safe with replicas."""
    now = now or datetime.now(UTC)
    async with uow_factory() as uow:
        due = await uow.disputes.overdue(now=now)
    announced = 0
    for org_id, dispute_id in due:
        try:
            async with uow_factory() as uow:
                dispute = await uow.disputes.get(org_id=org_id, dispute_id=dispute_id)
                if dispute is None:
                    continue
                facts = dispute.announce_overdue(now=now)
                # Saved even without facts: next_due_at is recomputed, so the row stops matching.
                await uow.disputes.save(dispute)
                team = await uow.directory.team(org_id=org_id, team_id=dispute.team_id)
                for fact in facts:
                    uow.emit(
                        events.DisputeOverdue(
                            org_id=org_id,
                            team_id=dispute.team_id,
                            dispute_id=dispute.id,
                            deadline=fact.deadline,
                            due_at=fact.due_at,
                            late_parties=list(fact.late_parties),
                        )
                    )
                    await _remind(uow, dispute=dispute, fact=fact, team=team, now=now)
                await uow.commit()
                announced += len(facts)
        except Conflict:
            log.info(
                "dispute %s changed while announcing a deadline; retried next sweep", dispute_id
            )
    return announced


async def _remind(
    uow: FeedbackUnitOfWork,
    *,
    dispute: Dispute,
    fact: DisputeOverdue,
    team: Team | None,
    now: datetime,
) -> None:
    """A notice to each late party, and to the manager who decides (admins see the event)."""
    decider = None if dispute.escalated or team is None else team.manager_id
    due = fact.due_at.isoformat()
    notes = []
    if fact.deadline == "statement":
        for party in fact.late_parties:
            notes.append((party, f"Your statement on '{dispute.subject}' was due {due}."))
        if decider is not None:
            unheard = len(fact.late_parties)
            notes.append(
                (
                    decider,
                    f"{unheard} parties of '{dispute.subject}' are unheard past {due}: "
                    "hear them or record a waiver.",
                )
            )
    elif decider is not None:
        notes.append((decider, f"The decision on '{dispute.subject}' was due {due}."))
    for member_id, body in notes:
        await uow.feedback.add(
            {
                "id": uuid.uuid4(),
                "org_id": dispute.org_id,
                "team_id": dispute.team_id,
                "member_id": member_id,
                "addressee_id": member_id,
                "author_sub": "system",
                "kind": "notice",
                "body": body,
                "dispute_id": dispute.id,
                "created_at": now,
            }
        )
