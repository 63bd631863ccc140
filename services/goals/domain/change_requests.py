"""Governed target change requests: a small state machine, the team's limits, the approver rules.

A request moves `pending → approved | rejected | withdrawn`. It needs one approval by someone
who manages the team; above the team's threshold, or when the adjustment guard flags it, two
distinct approvers, at least one of them *senior* (an admin or a manager of a team above).
The requester never approves their own request. Nothing here does I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from shared.domain_errors import Conflict, Forbidden, InvalidInput

State = Literal["pending", "approved", "rejected", "withdrawn"]
#: A change that may move the manager's own team across 100 % projected attainment.
MANAGER_INCENTIVE = "manager_incentive"
#: A change bigger than the team's `second_approver_above_pct`.
ABOVE_THRESHOLD = "above_threshold"


@dataclass(frozen=True)
class ChangePolicy:
    """A team's limits on change requests (the defaults when it never set one)."""

    # None: no limit on approved-or-pending requests per rep and period.
    max_changes_per_rep_per_period: int | None = 2
    # A request needs at least this many days left in the period (notice to the rep).
    notice_days: int = 0
    # A change of more than this % of the current target needs a second, senior approver.
    second_approver_above_pct: Decimal = Decimal(10)


@dataclass(frozen=True)
class Approval:
    """One approver's signature; senior = admin or a manager of a team above."""

    approver: str
    senior: bool


@dataclass(frozen=True)
class ChangeRequest:
    """A request's decision state (amounts and reasons live with the row)."""

    requester: str
    state: State = "pending"
    approvals: tuple[Approval, ...] = ()
    flags: tuple[str, ...] = ()
    disputed: bool = False

    @property
    def needs_second_approver(self) -> bool:
        """Above the threshold or flagged: two approvers, one of them senior."""
        return bool(self.flags)

    @property
    def approvals_needed(self) -> int:
        """How many distinct approvers the request needs in all."""
        return 2 if self.needs_second_approver else 1

    @property
    def complete(self) -> bool:
        """Enough distinct approvers, with a senior one when a second is needed."""
        if len(self.approvals) < self.approvals_needed:
            return False
        return not self.needs_second_approver or any(a.senior for a in self.approvals)


def flags_for(
    *, old_minor: int, new_minor: int, policy: ChangePolicy, manager_incentive: bool
) -> tuple[str, ...]:
    """Why a change needs a second approver: its size against the threshold, the guard."""
    flags = []
    if _above(old_minor, new_minor, policy.second_approver_above_pct):
        flags.append(ABOVE_THRESHOLD)
    if manager_incentive:
        flags.append(MANAGER_INCENTIVE)
    return tuple(flags)


def _above(old_minor: int, new_minor: int, pct: Decimal) -> bool:
    delta = abs(new_minor - old_minor)
    if old_minor == 0:
        return delta > 0  # any change of a zero target is infinitely large
    return Fraction(delta * 100, old_minor) > Fraction(pct)


def check_may_request(
    *, open_or_approved: int, policy: ChangePolicy, today: date, period_ends_on: date
) -> None:
    """Refuse a request beyond the per-rep limit or without the notice the policy wants (409)."""
    limit = policy.max_changes_per_rep_per_period
    if limit is not None and open_or_approved >= limit:
        raise Conflict(
            f"this target already has {open_or_approved} pending or approved change requests "
            f"this period; the team allows {limit}",
            reason="change_limit",
        )
    if today + timedelta(days=policy.notice_days) > period_ends_on:
        raise Conflict(
            f"the team asks for {policy.notice_days} days' notice before the period ends on "
            f"{period_ends_on}",
            reason="notice",
        )


def _pending(req: ChangeRequest) -> None:
    if req.state != "pending":
        raise Conflict(f"the change request is {req.state}", reason="not_pending")


def approve(req: ChangeRequest, *, approver: str, senior: bool) -> ChangeRequest:
    """Add an approval; the request is approved once complete (the caller then applies it)."""
    _pending(req)
    if approver == req.requester:
        raise Forbidden("the requester cannot approve their own change request")
    if any(a.approver == approver for a in req.approvals):
        raise Conflict("you already approved this change request", reason="already_approved")
    plain = sum(1 for a in req.approvals if not a.senior)
    if req.needs_second_approver and not senior and plain >= req.approvals_needed - 1:
        raise Forbidden(
            "this change needs a second approver who is an admin or a manager above the team"
        )
    after = replace(req, approvals=(*req.approvals, Approval(approver, senior)))
    return replace(after, state="approved") if after.complete else after


def reject(req: ChangeRequest, *, by: str, rationale: str) -> ChangeRequest:
    """Refuse the request; a rationale is required (the rep may dispute it)."""
    _pending(req)
    if by == req.requester:
        raise Forbidden("withdraw your own change request instead of rejecting it")
    if not rationale.strip():
        raise InvalidInput("a rationale is required to refuse a change request", field="rationale")
    return replace(req, state="rejected")


def withdraw(req: ChangeRequest, *, by: str) -> ChangeRequest:
    """The requester takes back a pending request."""
    _pending(req)
    if by != req.requester:
        raise Forbidden("only the requester can withdraw a change request")
    return replace(req, state="withdrawn")


def flag(req: ChangeRequest, reason: str) -> ChangeRequest:
    """Raise what a pending request needs (e.g. the guard flagged it at approval time)."""
    _pending(req)
    if reason in req.flags:
        return req
    return replace(req, flags=(*req.flags, reason))


def dispute(req: ChangeRequest, *, by: str, owner: str) -> ChangeRequest:
    """The rep owning the target turns a refused request into a `target` dispute, once."""
    if by != owner:
        raise Forbidden("only the rep whose target it is can dispute a refused change request")
    if req.state != "rejected":
        raise Conflict("only a refused change request can be disputed", reason="not_rejected")
    if req.disputed:
        raise Conflict("this change request is already disputed", reason="already_disputed")
    return replace(req, disputed=True)


def dispute_id_of(change_request_id: uuid.UUID) -> uuid.UUID:
    """The id of the dispute opened from a refused request: chosen by goals, opened by feedback."""
    return uuid.uuid5(change_request_id, "dispute")
