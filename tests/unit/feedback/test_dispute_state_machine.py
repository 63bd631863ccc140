"""Stateful test: random actors drive a dispute; a small model predicts every outcome."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from services.feedback.domain.dispute import (
    Actor,
    AdjustTarget,
    Dispute,
    DisputeClosed,
    DisputeState,
    ReassignSaleCredit,
    ResponseRecorded,
)
from shared.domain_errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound

pytestmark = pytest.mark.unit

ORG, TEAM, OTHER_TEAM, PERIOD, SALE = (uuid4() for _ in range(5))
REP_A, REP_B, REP_C, TEAMMATE, MANAGER_MEMBER = (uuid4() for _ in range(5))
TEAM_MEMBERS = frozenset({REP_A, REP_B, REP_C, TEAMMATE, MANAGER_MEMBER})
WINDOW = timedelta(days=1)

ACTORS = {
    "rep_a": Actor(member_id=REP_A, user_sub="rep-a"),
    "rep_b": Actor(member_id=REP_B, user_sub="rep-b"),
    "rep_c": Actor(member_id=REP_C, user_sub="rep-c"),
    # An admin who is also on the team: a party when REP_A is, and then never the decider.
    "admin_rep_a": Actor(member_id=REP_A, user_sub="admin-rep-a", is_admin=True),
    "teammate": Actor(member_id=TEAMMATE, user_sub="teammate"),
    "manager": Actor(
        member_id=MANAGER_MEMBER, user_sub="manager", managed_team_ids=frozenset({TEAM})
    ),
    "co_manager": Actor(member_id=None, user_sub="co-manager", managed_team_ids=frozenset({TEAM})),
    "other_manager": Actor(
        member_id=None, user_sub="other-manager", managed_team_ids=frozenset({OTHER_TEAM})
    ),
    "admin": Actor(member_id=None, user_sub="admin", is_admin=True),
}
actor_names = st.sampled_from(sorted(ACTORS))
# Mostly valid input, so refusals for bad input do not crowd out the rest of the run.
rarely = st.sampled_from([False, False, False, True])
before_decision = {DisputeState.OPEN, DisputeState.HEARING}


class DisputeMachine(RuleBasedStateMachine):
    """Drive one dispute with random calls and check it against a plain model."""

    @initialize(
        n_parties=st.integers(min_value=1, max_value=3),
        manager_is_party=st.booleans(),
        opener=st.sampled_from(["first_party", "manager", "admin"]),
        heard_upfront=st.booleans(),
    )
    def open_dispute(
        self, n_parties: int, manager_is_party: bool, opener: str, heard_upfront: bool
    ) -> None:
        parties = [REP_A, REP_B, REP_C][:n_parties]
        if manager_is_party:
            parties[-1] = MANAGER_MEMBER
        by_member = {a.member_id: a for name, a in ACTORS.items() if name != "admin_rep_a"}
        opener_actor = by_member[parties[0]] if opener == "first_party" else ACTORS[opener]
        self.now = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
        self.dispute, _ = Dispute.open(
            id=uuid4(),
            org_id=ORG,
            team_id=TEAM,
            kind="other",
            subject="who carries the shortfall",
            parties=parties,
            related=None,
            actor=opener_actor,
            team_member_ids=TEAM_MEMBERS,
            manager_member_ids=frozenset({MANAGER_MEMBER}),
            at=self.now,
        )
        # The model: just enough plain state to predict each call's outcome.
        self.parties = list(parties)
        self.escalated = manager_is_party
        self.opener_sub = opener_actor.user_sub
        self.state = DisputeState.OPEN
        self.with_statement: set[UUID] = set()
        self.waived: set[UUID] = set()
        self.responded: set[UUID] = set()
        self.versions: dict[UUID, int] = {}
        self.audit_len = 1
        self.decided_at: datetime | None = None
        self.heard_at_decision: bool | None = None
        if heard_upfront:
            # Half the runs start fully heard, so decisions, answers and expiry get their share.
            for party in parties:
                self.dispute.submit_statement(
                    actor=by_member[party], text="my view", at=self.tick()
                )
                self.with_statement.add(party)
                self.versions[party] = 1
                self.audit_len += 1
            self.state = DisputeState.HEARING

    # --- the model's view of roles ---------------------------------------------------------

    def is_party(self, actor: Actor) -> bool:
        return actor.member_id in self.parties

    def is_decider(self, actor: Actor) -> bool:
        if self.is_party(actor):
            return False
        return actor.is_admin or (TEAM in actor.managed_team_ids and not self.escalated)

    def can_view(self, actor: Actor) -> bool:
        return (
            self.is_party(actor)
            or actor.is_admin
            or TEAM in actor.managed_team_ids
            or actor.user_sub == self.opener_sub
        )

    def missing(self) -> list[UUID]:
        heard = self.with_statement | self.waived
        return [p for p in self.parties if p not in heard]

    def tick(self) -> datetime:
        self.now += timedelta(minutes=7)
        return self.now

    def pick(self, data: st.DataObject, fits) -> str:
        """Draw any actor, or (about half the time) one for whom ``fits`` holds."""
        # Uniform draws rarely line up a full hearing and a decision; leaning half the draws
        # towards actors who can succeed reaches the decided and closed states often.
        fitting = [name for name, actor in sorted(ACTORS.items()) if fits(actor)]
        if not fitting:
            return data.draw(actor_names, label="who")
        return data.draw(st.one_of(actor_names, st.sampled_from(fitting)), label="who")

    def attempt(self, label: str, expected: type[DomainError] | None, call):
        """Run ``call``; on success the audit grew, on refusal nothing changed at all."""
        event(f"{label} -> {expected.__name__ if expected else 'ok'}")
        before = copy.deepcopy(self.dispute)
        if expected is None:
            result = call()
            assert len(self.dispute.audit) > len(before.audit)
            assert self.dispute.audit[: len(before.audit)] == before.audit
            return result
        with pytest.raises(DomainError) as caught:
            call()
        assert type(caught.value) is expected, (type(caught.value), caught.value.detail)
        assert self.dispute == before
        return caught.value

    # --- rules -----------------------------------------------------------------------------

    @rule(data=st.data(), blank=rarely)
    def submit_statement(self, data: st.DataObject, blank: bool) -> None:
        actor = ACTORS[self.pick(data, self.is_party)]
        if not self.can_view(actor):
            expected = NotFound
        elif not self.is_party(actor):
            expected = Forbidden
        elif self.state not in before_decision:
            expected = Conflict
        elif blank:
            expected = InvalidInput
        else:
            expected = None
        at = self.tick()
        fact = self.attempt(
            "statement",
            expected,
            lambda: self.dispute.submit_statement(
                actor=actor, text=" " if blank else "my view", at=at
            ),
        )
        if expected is None:
            party = actor.member_id
            self.versions[party] = self.versions.get(party, 0) + 1
            assert fact.version == self.versions[party] and fact.party_id == party
            self.with_statement.add(party)
            self.state = DisputeState.HEARING
            self.audit_len += 1
        elif expected is Conflict:
            assert fact.extra == {"state": self.state.value}

    @rule(data=st.data(), blank=rarely)
    def record_waiver(self, data: st.DataObject, blank: bool) -> None:
        actor = ACTORS[self.pick(data, self.is_decider)]
        everyone = st.sampled_from([REP_A, REP_B, REP_C, TEAMMATE, MANAGER_MEMBER])
        unheard = self.missing()
        party = data.draw(
            st.one_of(everyone, st.sampled_from(unheard)) if unheard else everyone, label="party"
        )
        if not self.can_view(actor):
            expected = NotFound
        elif not self.is_decider(actor):
            expected = Forbidden
        elif self.state not in before_decision:
            expected = Conflict
        elif blank or party not in self.parties:
            expected = InvalidInput
        elif party in self.with_statement or party in self.waived:
            expected = Conflict
        else:
            expected = None
        at = self.tick()
        reason = "" if blank else "could not be reached"
        self.attempt(
            "waiver",
            expected,
            lambda: self.dispute.record_waiver(actor=actor, party_id=party, reason=reason, at=at),
        )
        if expected is None:
            # The manager-party never gets here: a party is never the decider.
            assert not self.is_party(actor)
            self.waived.add(party)
            self.state = DisputeState.HEARING
            self.audit_len += 1

    @rule(
        data=st.data(),
        blank_rationale=rarely,
        actions=st.sampled_from(["none", "adjust", "credit", "none", "zero_delta", "non_party"]),
    )
    def decide(self, data: st.DataObject, blank_rationale: bool, actions: str) -> None:
        actor = ACTORS[self.pick(data, self.is_decider)]
        built = {
            "none": [],
            "adjust": [
                AdjustTarget(member_id=self.parties[0], period_id=PERIOD, delta=Decimal(-5))
            ],
            "credit": [
                ReassignSaleCredit(
                    sale_id=SALE, to_member_id=self.parties[-1], percent=Decimal(100)
                )
            ],
            "zero_delta": [
                AdjustTarget(member_id=self.parties[0], period_id=PERIOD, delta=Decimal(0))
            ],
            "non_party": [AdjustTarget(member_id=TEAMMATE, period_id=PERIOD, delta=Decimal(1))],
        }[actions]
        if not self.can_view(actor):
            expected = NotFound
        elif not self.is_decider(actor):
            expected = Forbidden
        elif self.state not in before_decision:
            expected = Conflict
        elif blank_rationale or actions in ("zero_delta", "non_party"):
            expected = InvalidInput
        elif self.missing():
            expected = Conflict
        else:
            expected = None
        at = self.tick()
        missing_before = self.missing()
        outcome = self.attempt(
            "decide",
            expected,
            lambda: self.dispute.decide(
                actor=actor,
                summary="settled",
                rationale="" if blank_rationale else "both heard; numbers checked",
                actions=built,
                team_member_ids=TEAM_MEMBERS,
                at=at,
            ),
        )
        if expected is None:
            assert outcome.actions == tuple(built)
            self.heard_at_decision = not missing_before
            self.state = DisputeState.DECIDED
            self.decided_at = at
            self.audit_len += 1
        elif expected is Conflict and self.state in before_decision:
            # The 409 names exactly who is still unheard, in party order.
            assert outcome.extra == {"missing": [str(p) for p in missing_before]}

    @rule(data=st.data(), accepts=st.booleans())
    def respond(self, data: st.DataObject, accepts: bool) -> None:
        actor = ACTORS[self.pick(data, self.is_party)]
        if not self.can_view(actor):
            expected = NotFound
        elif not self.is_party(actor):
            expected = Forbidden
        elif self.state != DisputeState.DECIDED or actor.member_id in self.responded:
            expected = Conflict
        else:
            expected = None
        at = self.tick()
        facts = self.attempt(
            "respond",
            expected,
            lambda: self.dispute.respond(actor=actor, accepts=accepts, comment="noted", at=at),
        )
        if expected is None:
            self.responded.add(actor.member_id)
            self.audit_len += 1
            assert isinstance(facts[0], ResponseRecorded) and facts[0].accepts is accepts
            if self.responded == set(self.parties):
                assert isinstance(facts[-1], DisputeClosed) and facts[-1].unresponsive == ()
                self.state = DisputeState.CLOSED
                self.audit_len += 1
                event("closed by the last response")
            else:
                assert len(facts) == 1

    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        # Leaning away from the opener: a quick withdrawal would end most runs early.
        actor = ACTORS[self.pick(data, lambda a: a.user_sub != self.opener_sub)]
        if not self.can_view(actor):
            expected = NotFound
        elif actor.user_sub != self.opener_sub:
            expected = Forbidden
        elif self.state not in before_decision:
            expected = Conflict
        else:
            expected = None
        at = self.tick()
        self.attempt("withdraw", expected, lambda: self.dispute.withdraw(actor=actor, at=at))
        if expected is None:
            self.state = DisputeState.WITHDRAWN
            self.audit_len += 1

    @rule(hours=st.sampled_from([0, 1, 6, 12, 23, 24]))
    def let_time_pass_and_sweep(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        closed = self.dispute.close_if_expired(now=self.now, response_window=WINDOW)
        due = self.state == DisputeState.DECIDED and self.now >= self.decided_at + WINDOW
        assert (closed is not None) == due
        event(f"sweep -> {'closed' if due else 'nothing'}")
        if due:
            assert set(closed.unresponsive) == set(self.parties) - self.responded
            self.state = DisputeState.CLOSED
            self.audit_len += 1

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def state_and_audit_match_the_model(self) -> None:
        assert self.dispute.state == self.state
        assert len(self.dispute.audit) == self.audit_len

    @invariant()
    def missing_parties_match_the_model(self) -> None:
        assert self.dispute.missing_parties() == self.missing()

    @invariant()
    def a_decision_only_follows_a_full_hearing_by_a_non_party(self) -> None:
        if self.state in (DisputeState.DECIDED, DisputeState.CLOSED):
            assert self.heard_at_decision is True
            decision = self.dispute.decision
            assert decision is not None
            assert decision.decided_by_member_id not in self.parties
            assert decision.decided_by_sub not in {
                a.user_sub for a in ACTORS.values() if self.is_party(a)
            }
        else:
            assert self.dispute.decision is None

    @invariant()
    def everyone_sees_exactly_what_they_may(self) -> None:
        every_author = {s.party_id for s in self.dispute.statements}
        for actor in ACTORS.values():
            if not self.can_view(actor):
                assert not self.dispute.can_view(actor)
                with pytest.raises(NotFound):
                    self.dispute.view_for(actor)
                continue
            view = self.dispute.view_for(actor)
            authors = {s.party_id for s in view.statements}
            if self.is_decider(actor):
                assert authors == every_author
                assert view.missing_parties == tuple(self.missing())
            elif self.is_party(actor):
                # Never another party's statement, before or after the decision.
                assert authors <= {actor.member_id}
                assert {r.party_id for r in view.responses} <= {actor.member_id}
            else:
                assert authors == set() and view.missing_parties is None
            assert (view.decision is not None) == (
                self.state in (DisputeState.DECIDED, DisputeState.CLOSED)
            )

    @invariant()
    def a_non_party_teammate_never_sees_the_dispute(self) -> None:
        assert not self.dispute.can_view(ACTORS["teammate"])
        assert not self.dispute.can_view(ACTORS["other_manager"])


DisputeMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)
TestDisputeStateMachine = DisputeMachine.TestCase
