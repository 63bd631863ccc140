"""Disputes: parties are heard before anyone decides, and every party answers the decision.

The entity is plain data plus behaviour. Every mutating method checks, in this order:
who may see the dispute (``NotFound``, so ids do not leak), who may act (``Forbidden``), the
current state (``Conflict`` naming it), the values given (``InvalidInput``), and then the rules
that depend on what happened before (``Conflict``). It appends one audit entry per change and
returns the facts the service turns into events. Times are always passed in, never read here.

Tenancy is the repository's job: it loads a dispute only within the caller's organisation, so
``Actor`` carries no org id.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from shared.domain_errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.money import MAX_MINOR

# The audit trail names this actor for transitions nobody requested (the expiry sweep).
SYSTEM_SUB = "system"


class DisputeKind(StrEnum):
    """What a dispute is about."""

    TARGET = "target"
    SALE_CREDIT = "sale_credit"
    CONDUCT = "conduct"
    OTHER = "other"
    # One rep's question about their own number; a dispute if they do not accept the answer.
    INQUIRY = "inquiry"


class DisputeState(StrEnum):
    """Where a dispute is in its life."""

    OPEN = "open"
    HEARING = "hearing"
    # The decider asked a party for information; no decision until it is answered or waived.
    PENDING_INFORMATION = "pending_information"
    DECIDED = "decided"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


# Statements, waivers and withdrawal are only meaningful while nothing has been decided.
RESOLUTION_TYPES = ("upheld", "partially_upheld", "rejected", "settled", "no_finding")
_BEFORE_DECISION = frozenset(
    {DisputeState.OPEN, DisputeState.HEARING, DisputeState.PENDING_INFORMATION}
)

# Which reference a kind may carry; "other" may point at either, "conduct" at neither.
_RELATED_KEYS: dict[DisputeKind, frozenset[str]] = {
    DisputeKind.TARGET: frozenset({"target_id"}),
    DisputeKind.SALE_CREDIT: frozenset({"sale_id"}),
    DisputeKind.CONDUCT: frozenset(),
    DisputeKind.OTHER: frozenset({"target_id", "sale_id"}),
    DisputeKind.INQUIRY: frozenset({"target_id", "sale_id"}),
}


@dataclass(frozen=True, kw_only=True)
class Actor:
    """Who is acting: their member record (if any), token subject, and roles."""

    member_id: UUID | None
    user_sub: str
    is_admin: bool = False
    managed_team_ids: frozenset[UUID] = frozenset()

    def manages(self, team_id: UUID) -> bool:
        """Tell whether this actor manages the given team."""
        return team_id in self.managed_team_ids


# --- state held by the entity: small value objects, one table row each later --------------


@dataclass(frozen=True, kw_only=True)
class Statement:
    """One version of a party's statement; a resubmission appends a new version."""

    party_id: UUID
    version: int
    text: str
    submitted_at: datetime
    submitted_by_sub: str


@dataclass(frozen=True, kw_only=True)
class Waiver:
    """Why a party could not be heard, recorded by whoever decides."""

    party_id: UUID
    reason: str
    recorded_at: datetime
    recorded_by_sub: str


@dataclass(frozen=True, kw_only=True)
class AdjustTarget:
    """Decision action: change a member's individual target for a period by ``delta``."""

    member_id: UUID
    period_id: UUID
    delta: Decimal
    # False: the team total stays and goals re-spreads -delta over the others (conservation).
    team_total_changes: bool = False


@dataclass(frozen=True, kw_only=True)
class ReassignSaleCredit:
    """Decision action: move ``percent`` of a sale's credit to another member."""

    sale_id: UUID
    to_member_id: UUID
    percent: Decimal


DecisionAction = AdjustTarget | ReassignSaleCredit


@dataclass(frozen=True, kw_only=True)
class InformationRequest:
    """A question the decider put to one party; answered by them, or waived by the decider."""

    id: UUID
    party_id: UUID
    question: str
    asked_at: datetime
    asked_by_sub: str
    answer: str | None = None
    waived_reason: str | None = None
    closed_at: datetime | None = None

    @property
    def open(self) -> bool:
        """Still waiting for an answer."""
        return self.closed_at is None


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The outcome: a summary, the written rationale, and the actions other services apply."""

    summary: str
    rationale: str
    actions: tuple[DecisionAction, ...]
    decided_at: datetime
    decided_by_sub: str
    decided_by_member_id: UUID | None
    # How it ended, for reporting across disputes (None: the decider did not say).
    resolution_type: str | None = None


@dataclass(frozen=True, kw_only=True)
class Response:
    """A party's answer to the decision; disagreeing is a recorded answer, not an error."""

    party_id: UUID
    accepts: bool
    comment: str | None
    responded_at: datetime
    responded_by_sub: str


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """One change to the dispute: when, who, what; never statement text (kept private)."""

    at: datetime
    actor_sub: str
    action: str
    detail: dict[str, Any]


# --- facts returned to the service (it turns them into events and notifications) -----------


@dataclass(frozen=True, kw_only=True)
class DisputeFact:
    """Base of every fact a dispute returns."""

    dispute_id: UUID
    org_id: UUID
    team_id: UUID
    at: datetime


@dataclass(frozen=True, kw_only=True)
class DisputeOpened(DisputeFact):
    """A dispute was opened between its parties."""

    kind: DisputeKind
    parties: tuple[UUID, ...]
    escalated: bool


@dataclass(frozen=True, kw_only=True)
class StatementSubmitted(DisputeFact):
    """A party submitted (or replaced) their statement."""

    party_id: UUID
    version: int


@dataclass(frozen=True, kw_only=True)
class WaiverRecorded(DisputeFact):
    """The decider recorded why a party could not be heard; the party is to be told."""

    party_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class DisputeDecided(DisputeFact):
    """The dispute was decided; its actions are for goals and performance to apply."""

    actions: tuple[DecisionAction, ...]
    decided_by_sub: str


@dataclass(frozen=True, kw_only=True)
class ResponseRecorded(DisputeFact):
    """A party said whether it accepts the decision."""

    party_id: UUID
    accepts: bool


@dataclass(frozen=True, kw_only=True)
class DisputeClosed(DisputeFact):
    """The dispute closed: every party answered, or the response window ran out."""

    reason: str
    accepted_by: tuple[UUID, ...]
    disagreed_by: tuple[UUID, ...]
    unresponsive: tuple[UUID, ...]


@dataclass(frozen=True, kw_only=True)
class DisputeWithdrawn(DisputeFact):
    """The opener withdrew the dispute before a decision."""

    withdrawn_by_sub: str


@dataclass(frozen=True, kw_only=True)
class InformationRequested(DisputeFact):
    """The decider asked a party a question (its text stays private)."""

    request_id: UUID
    party_id: UUID


@dataclass(frozen=True, kw_only=True)
class InformationRequestClosed(DisputeFact):
    """A question was answered by its party or waived by the decider."""

    request_id: UUID
    party_id: UUID
    outcome: str


@dataclass(frozen=True, kw_only=True)
class InquiryEscalated(DisputeFact):
    """A rep did not accept the answer to their inquiry: it is now a dispute of this kind."""

    kind: DisputeKind


@dataclass(frozen=True, kw_only=True)
class DisputeOverdue(DisputeFact):
    """A deadline of the team's dispute policy passed: statements, or the decision."""

    deadline: str
    due_at: datetime
    late_parties: tuple[UUID, ...]


# --- what one actor may see ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DisputeView:
    """The dispute as one actor may see it (statements filtered, decision once made)."""

    id: UUID
    org_id: UUID
    team_id: UUID
    kind: DisputeKind
    subject: str
    parties: tuple[UUID, ...]
    related: dict[str, UUID] | None
    state: DisputeState
    escalated: bool
    opened_by: UUID | None
    opened_at: datetime
    statements: tuple[Statement, ...]
    waivers: tuple[Waiver, ...]
    # None unless the viewer may decide: who is still unheard is the decider's worklist.
    missing_parties: tuple[UUID, ...] | None
    decision: Decision | None
    responses: tuple[Response, ...]
    closed_at: datetime | None
    closed_reason: str | None
    viewer_is_decider: bool
    viewer_party_id: UUID | None
    statement_due_at: datetime | None = None
    decision_due_at: datetime | None = None
    information_requests: tuple[InformationRequest, ...] = ()
    inquiry_answer: Decision | None = None


# --- the entity ----------------------------------------------------------------------------


@dataclass(kw_only=True)
class Dispute:
    """A dispute between parties of one team, heard in full before it is decided."""

    id: UUID
    org_id: UUID
    team_id: UUID
    kind: DisputeKind
    subject: str
    parties: list[UUID]
    related: dict[str, UUID] | None
    opened_by: UUID | None
    opened_by_sub: str
    opened_at: datetime
    manager_is_party: bool
    # Escalated disputes are decided by an admin only; set at opening when a manager is a party.
    escalated: bool
    state: DisputeState = DisputeState.OPEN
    statements: list[Statement] = field(default_factory=list)
    waivers: list[Waiver] = field(default_factory=list)
    decision: Decision | None = None
    responses: list[Response] = field(default_factory=list)
    closed_at: datetime | None = None
    closed_reason: str | None = None
    withdrawn_at: datetime | None = None
    audit: list[AuditEntry] = field(default_factory=list)
    # Deadlines from the team's dispute policy when the dispute was opened (None: no policy).
    statement_due_at: datetime | None = None
    decision_due_at: datetime | None = None
    overdue_announced: list[str] = field(default_factory=list)
    information_requests: list[InformationRequest] = field(default_factory=list)
    # The manager's answer to an inquiry the rep did not accept (kept when it became a dispute).
    inquiry_answer: Decision | None = None

    def __post_init__(self) -> None:
        # Rows loaded from a database hand back plain strings; compare as enums from here on.
        self.kind = DisputeKind(self.kind)
        self.state = DisputeState(self.state)

    @classmethod
    def open(
        cls,
        *,
        id: UUID,
        org_id: UUID,
        team_id: UUID,
        kind: str,
        subject: str,
        parties: list[UUID],
        related: dict[str, UUID] | None,
        actor: Actor,
        team_member_ids: set[UUID] | frozenset[UUID],
        manager_member_ids: set[UUID] | frozenset[UUID],
        at: datetime,
    ) -> tuple[Dispute, DisputeOpened]:
        """Open a dispute between team members; escalate it when a team manager is a party."""
        _require_aware(at)
        try:
            kind_ = DisputeKind(kind)
        except ValueError:
            raise InvalidInput(
                f"kind must be one of {', '.join(k.value for k in DisputeKind)}", field="kind"
            ) from None
        subject_ = _required_text(subject, "subject")
        # One party is enough: a rep may dispute with the company itself (e.g. their target),
        # and the decider is then the other side.
        if not parties:
            raise InvalidInput("a dispute needs at least one party", field="parties")
        if len(set(parties)) != len(parties):
            raise InvalidInput("parties must not repeat", field="parties")
        strangers = [p for p in parties if p not in team_member_ids]
        if strangers:
            raise InvalidInput(
                "every party must be a member of the team",
                field="parties",
                not_members=[str(p) for p in strangers],
            )
        related_ = _checked_related(kind_, related)
        if kind_ == DisputeKind.INQUIRY and list(parties) != [actor.member_id]:
            raise InvalidInput(
                "an inquiry is one rep asking about their own number: name only yourself",
                field="parties",
            )
        is_party = actor.member_id is not None and actor.member_id in parties
        # A rep may only open their own disputes; managers and admins open them for anyone.
        if not (is_party or actor.is_admin or actor.manages(team_id)):
            raise Forbidden("only a party, a manager of the team or an admin may open a dispute")
        managers = set(manager_member_ids)
        if actor.manages(team_id) and actor.member_id is not None:
            managers.add(actor.member_id)
        manager_is_party = any(p in managers for p in parties)
        dispute = cls(
            id=id,
            org_id=org_id,
            team_id=team_id,
            kind=kind_,
            subject=subject_,
            parties=list(parties),
            related=related_,
            opened_by=actor.member_id,
            opened_by_sub=actor.user_sub,
            opened_at=at,
            manager_is_party=manager_is_party,
            escalated=manager_is_party,
        )
        if kind_ == DisputeKind.INQUIRY:
            # Asking is being heard: the question is the rep's statement, so the manager answers.
            assert actor.member_id is not None  # the inquiry's one party is the actor (above)
            dispute.statements.append(
                Statement(
                    party_id=actor.member_id,
                    version=1,
                    text=subject_,
                    submitted_at=at,
                    submitted_by_sub=actor.user_sub,
                )
            )
            dispute.state = DisputeState.HEARING
        dispute._audit(
            at,
            actor,
            "opened",
            kind=kind_.value,
            parties=[str(p) for p in parties],
            escalated=manager_is_party,
        )
        return dispute, DisputeOpened(
            **dispute._fact_base(at),
            kind=kind_,
            parties=tuple(parties),
            escalated=manager_is_party,
        )

    # --- who is who ------------------------------------------------------------------------

    def is_party(self, actor: Actor) -> bool:
        """Tell whether the actor is one of the parties."""
        return actor.member_id is not None and actor.member_id in self.parties

    def is_decider(self, actor: Actor) -> bool:
        """Tell whether the actor may hear and decide: never a party; admin only if escalated."""
        if self.is_party(actor):
            return False
        if actor.is_admin:
            return True
        return actor.manages(self.team_id) and not self.escalated

    def can_view(self, actor: Actor) -> bool:
        """Tell whether the actor may see the dispute at all (else the service answers 404)."""
        return (
            self.is_party(actor)
            or actor.is_admin
            or actor.manages(self.team_id)
            or actor.user_sub == self.opened_by_sub
        )

    # --- reading ---------------------------------------------------------------------------

    def statement_history(self, party_id: UUID) -> list[Statement]:
        """Return every version a party submitted, oldest first."""
        return [s for s in self.statements if s.party_id == party_id]

    def current_statement(self, party_id: UUID) -> Statement | None:
        """Return the party's latest statement version, if any."""
        history = self.statement_history(party_id)
        return history[-1] if history else None

    def missing_parties(self) -> list[UUID]:
        """Return the parties with neither a statement nor a waiver, in party order."""
        heard = {s.party_id for s in self.statements} | {w.party_id for w in self.waivers}
        return [p for p in self.parties if p not in heard]

    def response_of(self, party_id: UUID) -> Response | None:
        """Return the party's response to the decision, if it gave one."""
        return next((r for r in self.responses if r.party_id == party_id), None)

    def view_for(self, actor: Actor) -> DisputeView:
        """Return what this actor may see; statements stay private to author and decider."""
        self._require_view(actor)
        decider = self.is_decider(actor)
        own = actor.member_id if self.is_party(actor) else None

        def visible(party_id: UUID) -> bool:
            # Private before and after the decision: the decision and rationale are what
            # parties share, not each other's statements or comments.
            return decider or party_id == own

        return DisputeView(
            id=self.id,
            org_id=self.org_id,
            team_id=self.team_id,
            kind=self.kind,
            subject=self.subject,
            parties=tuple(self.parties),
            related=dict(self.related) if self.related is not None else None,
            state=self.state,
            escalated=self.escalated,
            opened_by=self.opened_by,
            opened_at=self.opened_at,
            statements=tuple(s for s in self.statements if visible(s.party_id)),
            waivers=tuple(w for w in self.waivers if visible(w.party_id)),
            missing_parties=tuple(self.missing_parties()) if decider else None,
            decision=self.decision,
            responses=tuple(r for r in self.responses if visible(r.party_id)),
            closed_at=self.closed_at,
            closed_reason=self.closed_reason,
            viewer_is_decider=decider,
            viewer_party_id=own,
            statement_due_at=self.statement_due_at,
            decision_due_at=self.decision_due_at,
            information_requests=tuple(r for r in self.information_requests if visible(r.party_id)),
            inquiry_answer=self.inquiry_answer,
        )

    # --- hearing ---------------------------------------------------------------------------

    def submit_statement(self, *, actor: Actor, text: str, at: datetime) -> StatementSubmitted:
        """Submit or replace the acting party's statement; earlier versions are kept."""
        _require_aware(at)
        self._require_view(actor)
        if not self.is_party(actor):
            raise Forbidden("only a party may submit a statement")
        self._require_state(_BEFORE_DECISION, "submit a statement")
        text_ = _required_text(text, "text")
        assert actor.member_id is not None  # is_party guarantees it
        party_id = actor.member_id
        version = len(self.statement_history(party_id)) + 1
        self.statements.append(
            Statement(
                party_id=party_id,
                version=version,
                text=text_,
                submitted_at=at,
                submitted_by_sub=actor.user_sub,
            )
        )
        self._start_hearing()
        self._audit(at, actor, "statement_submitted", party_id=str(party_id), version=version)
        return StatementSubmitted(**self._fact_base(at), party_id=party_id, version=version)

    def record_waiver(
        self, *, actor: Actor, party_id: UUID, reason: str, at: datetime
    ) -> WaiverRecorded:
        """Record why a party could not be heard, so the hearing can complete without them."""
        _require_aware(at)
        self._require_view(actor)
        # Waiving a hearing is part of judging it, so it takes the same person as deciding:
        # never a party (the manager-party included), admin only when escalated.
        if not self.is_decider(actor):
            raise Forbidden(self._decider_rule("record a waiver"))
        self._require_state(_BEFORE_DECISION, "record a waiver")
        reason_ = _required_text(reason, "reason")
        if party_id not in self.parties:
            raise InvalidInput("a waiver names a party of the dispute", field="party_id")
        if self.current_statement(party_id) is not None:
            raise Conflict("the party has already been heard by statement", party_id=str(party_id))
        if any(w.party_id == party_id for w in self.waivers):
            raise Conflict("a waiver is already recorded for the party", party_id=str(party_id))
        self.waivers.append(
            Waiver(
                party_id=party_id, reason=reason_, recorded_at=at, recorded_by_sub=actor.user_sub
            )
        )
        self._start_hearing()
        self._audit(at, actor, "waiver_recorded", party_id=str(party_id))
        return WaiverRecorded(**self._fact_base(at), party_id=party_id, reason=reason_)

    # --- decision --------------------------------------------------------------------------

    def decide(
        self,
        *,
        actor: Actor,
        summary: str,
        rationale: str,
        actions: list[DecisionAction] | tuple[DecisionAction, ...],
        team_member_ids: set[UUID] | frozenset[UUID],
        at: datetime,
        resolution_type: str | None = None,
    ) -> DisputeDecided:
        """Decide the dispute with a written rationale, once every party has been heard."""
        _require_aware(at)
        self._require_view(actor)
        if not self.is_decider(actor):
            raise Forbidden(self._decider_rule("decide"))
        self._require_state(_BEFORE_DECISION, "decide")
        summary_ = _required_text(summary, "summary")
        rationale_ = _required_text(rationale, "rationale")
        actions_ = tuple(actions)
        if resolution_type is not None and resolution_type not in RESOLUTION_TYPES:
            raise InvalidInput(
                f"resolution_type must be one of {', '.join(RESOLUTION_TYPES)}",
                field="resolution_type",
            )
        self._check_actions(actions_, team_member_ids)
        missing = self.missing_parties()
        if missing:
            raise Conflict(
                "the dispute cannot be decided: not every party has been heard",
                missing=[str(p) for p in missing],
            )
        waiting = [r for r in self.information_requests if r.open]
        if waiting:
            raise Conflict(
                "the dispute cannot be decided: information requested is still pending",
                pending_information=[str(r.id) for r in waiting],
            )
        self.decision = Decision(
            summary=summary_,
            rationale=rationale_,
            actions=actions_,
            decided_at=at,
            decided_by_sub=actor.user_sub,
            decided_by_member_id=actor.member_id,
            resolution_type=resolution_type,
        )
        self.state = DisputeState.DECIDED
        self._audit(at, actor, "decided", actions=len(actions_))
        return DisputeDecided(
            **self._fact_base(at), actions=actions_, decided_by_sub=actor.user_sub
        )

    def respond(
        self, *, actor: Actor, accepts: bool, comment: str | None, at: datetime
    ) -> list[DisputeFact]:
        """Record whether the acting party accepts the decision; the last answer closes it."""
        _require_aware(at)
        self._require_view(actor)
        if not self.is_party(actor):
            raise Forbidden("only a party may respond to the decision")
        self._require_state({DisputeState.DECIDED}, "respond")
        if not isinstance(accepts, bool):
            raise InvalidInput("accepts must be true or false", field="accepts")
        comment_ = comment.strip() if comment is not None else None
        assert actor.member_id is not None  # is_party guarantees it
        party_id = actor.member_id
        # One answer per party: answers decide when the dispute closes, so they are final.
        if self.response_of(party_id) is not None:
            raise Conflict("the party has already responded", party_id=str(party_id))
        self.responses.append(
            Response(
                party_id=party_id,
                accepts=accepts,
                comment=comment_ or None,
                responded_at=at,
                responded_by_sub=actor.user_sub,
            )
        )
        self._audit(at, actor, "responded", party_id=str(party_id), accepts=accepts)
        facts: list[DisputeFact] = [
            ResponseRecorded(**self._fact_base(at), party_id=party_id, accepts=accepts)
        ]
        if self.kind == DisputeKind.INQUIRY and not accepts:
            facts.append(self._escalate_inquiry(at, actor))
            return facts
        if all(self.response_of(p) is not None for p in self.parties):
            facts.append(self._close(at, actor.user_sub, "all_responded"))
        return facts

    def close_if_expired(
        self, *, now: datetime, response_window: timedelta
    ) -> DisputeClosed | None:
        """Close a decided dispute once the response window has passed; otherwise do nothing."""
        _require_aware(now)
        if response_window <= timedelta(0):
            raise InvalidInput("the response window must be positive", field="response_window")
        # A sweep runs over every dispute, so anything not waiting for answers is a no-op.
        if self.state != DisputeState.DECIDED or self.decision is None:
            return None
        if now < self.decision.decided_at + response_window:
            return None
        return self._close(now, SYSTEM_SUB, "response_window_elapsed")

    def request_information(
        self, *, actor: Actor, request_id: UUID, party_id: UUID, question: str, at: datetime
    ) -> InformationRequested:
        """Ask one party a question; the dispute waits for the answer (or a waiver)."""
        _require_aware(at)
        self._require_view(actor)
        if not self.is_decider(actor):
            raise Forbidden(self._decider_rule("request information"))
        self._require_state(_BEFORE_DECISION, "request information")
        if party_id not in self.parties:
            raise InvalidInput("information is requested from a party", field="party_id")
        text = _required_text(question, "question")
        self.information_requests.append(
            InformationRequest(
                id=request_id,
                party_id=party_id,
                question=text,
                asked_at=at,
                asked_by_sub=actor.user_sub,
            )
        )
        self.state = DisputeState.PENDING_INFORMATION
        self._audit(at, actor, "information_requested", party_id=str(party_id))
        return InformationRequested(**self._fact_base(at), request_id=request_id, party_id=party_id)

    def answer_information(
        self, *, actor: Actor, request_id: UUID, answer: str, at: datetime
    ) -> InformationRequestClosed:
        """The asked party answers; the last answer lets the decider decide again."""
        _require_aware(at)
        self._require_view(actor)
        request = self._open_request(request_id)
        if actor.member_id != request.party_id:
            raise Forbidden("only the party asked answers the question")
        text = _required_text(answer, "answer")
        return self._close_request(request, at, actor, "answered", answer=text)

    def waive_information(
        self, *, actor: Actor, request_id: UUID, reason: str, at: datetime
    ) -> InformationRequestClosed:
        """The decider gives up waiting for an answer, saying why."""
        _require_aware(at)
        self._require_view(actor)
        if not self.is_decider(actor):
            raise Forbidden(self._decider_rule("waive a request"))
        request = self._open_request(request_id)
        text = _required_text(reason, "reason")
        return self._close_request(request, at, actor, "waived", waived_reason=text)

    def _open_request(self, request_id: UUID) -> InformationRequest:
        self._require_state({DisputeState.PENDING_INFORMATION}, "close an information request")
        for request in self.information_requests:
            if request.id == request_id:
                if not request.open:
                    raise Conflict("the information request is closed already")
                return request
        raise NotFound("information request not found")

    def _close_request(
        self, request: InformationRequest, at: datetime, actor: Actor, outcome: str, **change: Any
    ) -> InformationRequestClosed:
        closed = replace(request, closed_at=at, **change)
        self.information_requests = [
            closed if r.id == request.id else r for r in self.information_requests
        ]
        if not any(r.open for r in self.information_requests):
            self.state = DisputeState.HEARING
        self._audit(at, actor, f"information_{outcome}", request_id=str(request.id))
        return InformationRequestClosed(
            **self._fact_base(at), request_id=request.id, party_id=request.party_id, outcome=outcome
        )

    def _escalate_inquiry(self, at: datetime, actor: Actor) -> InquiryEscalated:
        """The rep does not accept the answer: the inquiry becomes a dispute, heard again."""
        keys = set(self.related or {})
        if keys == {"target_id"}:
            self.kind = DisputeKind.TARGET
        elif keys == {"sale_id"}:
            self.kind = DisputeKind.SALE_CREDIT
        else:
            self.kind = DisputeKind.OTHER
        self.inquiry_answer, self.decision = self.decision, None
        self.responses = []
        self.state = DisputeState.HEARING
        self._audit(at, actor, "inquiry_escalated", kind=self.kind.value)
        return InquiryEscalated(**self._fact_base(at), kind=self.kind)

    def set_deadlines(
        self, *, statement_due_hours: float | None, decision_due_hours: float | None
    ) -> None:
        """Fix the deadlines of the team's policy, counted from the opening."""
        if statement_due_hours is not None:
            self.statement_due_at = self.opened_at + timedelta(hours=statement_due_hours)
        if decision_due_hours is not None:
            self.decision_due_at = self.opened_at + timedelta(hours=decision_due_hours)

    def _pending_deadlines(self) -> list[tuple[str, datetime]]:
        if self.state not in _BEFORE_DECISION:
            return []
        pending = []
        if (
            self.statement_due_at is not None
            and "statement" not in self.overdue_announced
            and self.missing_parties()
        ):
            pending.append(("statement", self.statement_due_at))
        if self.decision_due_at is not None and "decision" not in self.overdue_announced:
            pending.append(("decision", self.decision_due_at))
        return pending

    def next_due_at(self) -> datetime | None:
        """The earliest deadline still to be announced (None: nothing is waiting on one)."""
        pending = self._pending_deadlines()
        return min(at for _, at in pending) if pending else None

    def announce_overdue(self, *, now: datetime) -> list[DisputeOverdue]:
        """Announce each deadline that passed, once: unheard parties, or a missing decision."""
        _require_aware(now)
        facts = []
        for deadline, due_at in self._pending_deadlines():
            if now < due_at:
                continue
            late = tuple(self.missing_parties()) if deadline == "statement" else ()
            self.overdue_announced.append(deadline)
            self.audit.append(
                AuditEntry(
                    at=now,
                    actor_sub=SYSTEM_SUB,
                    action=f"{deadline}_overdue",
                    detail={"due_at": due_at.isoformat(), "late_parties": [str(p) for p in late]},
                )
            )
            facts.append(
                DisputeOverdue(
                    **self._fact_base(now), deadline=deadline, due_at=due_at, late_parties=late
                )
            )
        return facts

    def withdraw(self, *, actor: Actor, at: datetime) -> DisputeWithdrawn:
        """Withdraw the dispute: only whoever opened it, and only before a decision."""
        _require_aware(at)
        self._require_view(actor)
        if actor.user_sub != self.opened_by_sub:
            raise Forbidden("only the opener may withdraw the dispute")
        self._require_state(_BEFORE_DECISION, "withdraw")
        self.state = DisputeState.WITHDRAWN
        self.withdrawn_at = at
        self._audit(at, actor, "withdrawn")
        return DisputeWithdrawn(**self._fact_base(at), withdrawn_by_sub=actor.user_sub)

    # --- internals -------------------------------------------------------------------------

    def _require_view(self, actor: Actor) -> None:
        if not self.can_view(actor):
            raise NotFound("dispute not found")

    def _require_state(
        self, allowed: set[DisputeState] | frozenset[DisputeState], verb: str
    ) -> None:
        if self.state not in allowed:
            raise Conflict(
                f"cannot {verb}: the dispute is {self.state.value}", state=self.state.value
            )

    def _decider_rule(self, verb: str) -> str:
        if self.escalated:
            return f"a manager of the team is a party, so only an admin may {verb}"
        return f"only a manager of the team or an admin who is not a party may {verb}"

    def _start_hearing(self) -> None:
        if self.state == DisputeState.OPEN:
            self.state = DisputeState.HEARING

    def _check_actions(
        self, actions: tuple[DecisionAction, ...], team_member_ids: set[UUID] | frozenset[UUID]
    ) -> None:
        # An action may only touch a party: changing the target or credit of someone who was
        # not heard would undo the point of the hearing. They must still be on the team.
        seen_targets: set[tuple[UUID, UUID]] = set()
        credit_by_sale: dict[UUID, Decimal] = {}
        for index, action in enumerate(actions):
            where = f"actions[{index}]"
            if isinstance(action, AdjustTarget):
                member = action.member_id
                if not _finite_decimal(action.delta) or action.delta == 0:
                    raise InvalidInput("delta must be a nonzero decimal", field=f"{where}.delta")
                # The team's currency is goals' to know; no currency allows more than this.
                if action.delta.copy_abs() > MAX_MINOR:
                    raise InvalidInput(
                        f"delta exceeds the maximum amount {MAX_MINOR}", field=f"{where}.delta"
                    )
                key = (member, action.period_id)
                if key in seen_targets:
                    raise InvalidInput(
                        "one adjustment per member and period", field=f"{where}.member_id"
                    )
                seen_targets.add(key)
            elif isinstance(action, ReassignSaleCredit):
                member = action.to_member_id
                percent = action.percent
                if not _finite_decimal(percent) or not (0 < percent <= 100):
                    raise InvalidInput(
                        "percent must be above 0 and at most 100", field=f"{where}.percent"
                    )
                total = credit_by_sale.get(action.sale_id, Decimal(0)) + percent
                if total > 100:
                    raise InvalidInput(
                        "more than 100 percent of one sale reassigned", field=f"{where}.percent"
                    )
                credit_by_sale[action.sale_id] = total
            else:
                raise InvalidInput("unknown decision action", field=where)
            if member not in self.parties:
                raise InvalidInput("an action may only concern a party", field=where)
            if member not in team_member_ids:
                raise InvalidInput("the member is no longer on the team", field=where)

    def _close(self, at: datetime, actor_sub: str, reason: str) -> DisputeClosed:
        accepted = tuple(r.party_id for r in self.responses if r.accepts)
        disagreed = tuple(r.party_id for r in self.responses if not r.accepts)
        unresponsive = tuple(p for p in self.parties if self.response_of(p) is None)
        self.state = DisputeState.CLOSED
        self.closed_at = at
        self.closed_reason = reason
        self.audit.append(
            AuditEntry(
                at=at,
                actor_sub=actor_sub,
                action="closed",
                detail={"reason": reason, "unresponsive": [str(p) for p in unresponsive]},
            )
        )
        return DisputeClosed(
            **self._fact_base(at),
            reason=reason,
            accepted_by=accepted,
            disagreed_by=disagreed,
            unresponsive=unresponsive,
        )

    def _audit(self, at: datetime, actor: Actor, action: str, **detail: Any) -> None:
        self.audit.append(AuditEntry(at=at, actor_sub=actor.user_sub, action=action, detail=detail))

    def _fact_base(self, at: datetime) -> dict[str, Any]:
        return {"dispute_id": self.id, "org_id": self.org_id, "team_id": self.team_id, "at": at}


def _require_aware(at: datetime) -> None:
    # A naive time is a programming error in the caller, not bad user input.
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("times passed to the dispute domain must be timezone-aware")


def _required_text(value: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} is required", field=name)
    return value.strip()


def _finite_decimal(value: object) -> bool:
    # Floats are refused outright: money and shares stay exact end to end.
    return isinstance(value, Decimal) and value.is_finite()


def _checked_related(kind: DisputeKind, related: dict[str, UUID] | None) -> dict[str, UUID] | None:
    if not related:
        return None
    allowed = _RELATED_KEYS[kind]
    if len(related) != 1 or not set(related) <= allowed:
        expected = " or ".join(sorted(allowed)) or "nothing"
        raise InvalidInput(
            f"a {kind.value} dispute may refer to {expected}, one reference at most",
            field="related",
        )
    ((key, value),) = related.items()
    if not isinstance(value, UUID):
        raise InvalidInput(f"related.{key} must be a UUID", field=f"related.{key}")
    return {key: value}
