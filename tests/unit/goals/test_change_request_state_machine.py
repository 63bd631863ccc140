"""Stateful test: random people approve, refuse, withdraw, flag and dispute one change request."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from services.goals.domain import change_requests as cr
from shared.domain_errors import Conflict, DomainError, Forbidden, InvalidInput

pytestmark = pytest.mark.unit

# Who may call: name -> senior (an admin or a manager above the team).
PEOPLE = {"rep": False, "manager": False, "co_manager": False, "admin": True, "region": True}
people = st.sampled_from(sorted(PEOPLE))


class ChangeRequestMachine(RuleBasedStateMachine):
    """Drive one request with random calls and check it against a plain model."""

    @initialize(requester=st.sampled_from(["rep", "manager"]), flagged=st.booleans())
    def start(self, requester: str, flagged: bool) -> None:
        """A pending request, above the threshold or not."""
        self.req = cr.ChangeRequest(
            requester=requester, flags=(cr.ABOVE_THRESHOLD,) if flagged else ()
        )
        self.model_approvers: list[str] = []
        self.model_state = "pending"
        self.model_flagged = flagged
        self.model_disputed = False

    def _expect_refused(self, call, error: type[DomainError]) -> None:
        before = self.req
        with pytest.raises(error):
            call()
        assert self.req == before

    @rule(who=people)
    def approve(self, who: str) -> None:
        """Someone approves: refused when it cannot count, approved once complete."""
        senior = PEOPLE[who]
        call = lambda: cr.approve(self.req, approver=who, senior=senior)  # noqa: E731
        if self.model_state != "pending":
            return self._expect_refused(call, Conflict)
        if who == self.req.requester:
            return self._expect_refused(call, Forbidden)
        if who in self.model_approvers:
            return self._expect_refused(call, Conflict)
        plain = [a for a in self.model_approvers if not PEOPLE[a]]
        if self.model_flagged and not senior and plain:
            return self._expect_refused(call, Forbidden)
        self.req = call()
        self.model_approvers.append(who)
        needed = 2 if self.model_flagged else 1
        has_senior = any(PEOPLE[a] for a in self.model_approvers)
        if len(self.model_approvers) >= needed and (has_senior or not self.model_flagged):
            self.model_state = "approved"

    @rule(who=people, rationale=st.sampled_from(["", "  ", "Not structural"]))
    def reject(self, who: str, rationale: str) -> None:
        """Someone refuses: only while pending, never the requester, never without a reason."""
        call = lambda: cr.reject(self.req, by=who, rationale=rationale)  # noqa: E731
        if self.model_state != "pending":
            return self._expect_refused(call, Conflict)
        if who == self.req.requester:
            return self._expect_refused(call, Forbidden)
        if not rationale.strip():
            return self._expect_refused(call, InvalidInput)
        self.req = call()
        self.model_state = "rejected"

    @rule(who=people)
    def withdraw(self, who: str) -> None:
        """Only the requester withdraws, only while pending."""
        call = lambda: cr.withdraw(self.req, by=who)  # noqa: E731
        if self.model_state != "pending":
            return self._expect_refused(call, Conflict)
        if who != self.req.requester:
            return self._expect_refused(call, Forbidden)
        self.req = call()
        self.model_state = "withdrawn"

    @precondition(lambda self: self.model_state == "pending")
    @rule()
    def guard_flags_it(self) -> None:
        """The guard flags a pending request: it now needs a senior second approver."""
        self.req = cr.flag(self.req, cr.MANAGER_INCENTIVE)
        if not self.model_flagged:
            self.model_flagged = True
            # One plain approval so far stays; it no longer completes the request alone.

    @rule(who=people)
    def dispute(self, who: str) -> None:
        """The rep whose target it is disputes a refused request, once."""
        call = lambda: cr.dispute(self.req, by=who, owner="rep")  # noqa: E731
        if who != "rep":
            return self._expect_refused(call, Forbidden)
        if self.model_state != "rejected" or self.model_disputed:
            return self._expect_refused(call, Conflict)
        self.req = call()
        self.model_disputed = True

    @invariant()
    def matches_the_model(self) -> None:
        """State, approvers and dispute are what the model says."""
        assert self.req.state == self.model_state
        assert [a.approver for a in self.req.approvals] == self.model_approvers
        assert self.req.disputed == self.model_disputed

    @invariant()
    def never_self_approved_and_approved_means_complete(self) -> None:
        """The requester never signs; an approved request has every signature it needs."""
        names = [a.approver for a in self.req.approvals]
        assert self.req.requester not in names and len(set(names)) == len(names)
        if self.req.state == "approved":
            assert len(names) == self.req.approvals_needed
            if self.req.needs_second_approver:
                assert any(a.senior for a in self.req.approvals)
        if self.req.state == "pending":
            assert not self.req.complete


ChangeRequestMachine.TestCase.settings = settings(max_examples=300, deadline=None)
test_change_request_state_machine = ChangeRequestMachine.TestCase


@settings(max_examples=300, deadline=None)
@given(old=st.integers(0, 10**9), new=st.integers(0, 10**9), pct=st.integers(0, 200))
def test_second_approver_exactly_above_the_threshold(old: int, new: int, pct: int) -> None:
    """Above `pct` % of the current target (any change of a zero target) needs a second approver."""
    flags = cr.flags_for(
        old_minor=old,
        new_minor=new,
        policy=cr.ChangePolicy(second_approver_above_pct=Decimal(pct)),
        manager_incentive=False,
    )
    above = abs(new - old) * 100 > pct * old if old else new != old
    assert (cr.ABOVE_THRESHOLD in flags) == above


def test_the_limit_and_the_notice_name_their_reason() -> None:
    """Beyond the per-rep limit, or without the notice, a request is a 409 naming why."""
    policy = cr.ChangePolicy(max_changes_per_rep_per_period=1, notice_days=3)
    with pytest.raises(Conflict) as limit:
        cr.check_may_request(
            open_or_approved=1,
            policy=policy,
            today=date(2030, 1, 1),
            period_ends_on=date(2030, 3, 31),
        )
    assert limit.value.extra["reason"] == "change_limit"
    with pytest.raises(Conflict) as notice:
        cr.check_may_request(
            open_or_approved=0,
            policy=policy,
            today=date(2030, 3, 29),
            period_ends_on=date(2030, 3, 31),
        )
    assert notice.value.extra["reason"] == "notice"
    cr.check_may_request(
        open_or_approved=0,
        policy=cr.ChangePolicy(max_changes_per_rep_per_period=None, notice_days=3),
        today=date(2030, 3, 28),
        period_ends_on=date(2030, 3, 31),
    )
