"""Example tests for the dispute entity: hearing, decision, responses, visibility, audit."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from services.feedback.domain.dispute import (
    Actor,
    AdjustTarget,
    Dispute,
    DisputeClosed,
    DisputeDecided,
    DisputeKind,
    DisputeOpened,
    DisputeState,
    DisputeWithdrawn,
    ReassignSaleCredit,
    ResponseRecorded,
    StatementSubmitted,
    WaiverRecorded,
)
from shared.domain_errors import Conflict, Forbidden, InvalidInput, NotFound

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ORG = uuid4()
TEAM = uuid4()
OTHER_TEAM = uuid4()
REP_A, REP_B, REP_C, TEAMMATE, MANAGER_MEMBER = (uuid4() for _ in range(5))
TEAM_MEMBERS = frozenset({REP_A, REP_B, REP_C, TEAMMATE, MANAGER_MEMBER})

rep_a = Actor(member_id=REP_A, user_sub="rep-a")
rep_b = Actor(member_id=REP_B, user_sub="rep-b")
rep_c = Actor(member_id=REP_C, user_sub="rep-c")
teammate = Actor(member_id=TEAMMATE, user_sub="teammate")
manager = Actor(member_id=MANAGER_MEMBER, user_sub="manager", managed_team_ids=frozenset({TEAM}))
co_manager = Actor(member_id=None, user_sub="co-manager", managed_team_ids=frozenset({TEAM}))
other_manager = Actor(
    member_id=None, user_sub="other-mgr", managed_team_ids=frozenset({OTHER_TEAM})
)
admin = Actor(member_id=None, user_sub="admin", is_admin=True)


def at(minutes: int) -> datetime:
    """Return a time ``minutes`` after the start of the scenario."""
    return T0 + timedelta(minutes=minutes)


def open_dispute(
    *,
    parties: list[UUID] | None = None,
    actor: Actor = rep_a,
    kind: str = "target",
    related: dict[str, UUID] | None = None,
    manager_member_ids: frozenset[UUID] = frozenset({MANAGER_MEMBER}),
) -> Dispute:
    """Open a dispute between reps A and B unless told otherwise."""
    dispute, _ = Dispute.open(
        id=uuid4(),
        org_id=ORG,
        team_id=TEAM,
        kind=kind,
        subject="Q1 target too high",
        parties=[REP_A, REP_B] if parties is None else parties,
        related=related,
        actor=actor,
        team_member_ids=TEAM_MEMBERS,
        manager_member_ids=manager_member_ids,
        at=T0,
    )
    return dispute


def heard_by_all(dispute: Dispute) -> Dispute:
    """Give every party a statement."""
    parties = {REP_A: rep_a, REP_B: rep_b, REP_C: rep_c, MANAGER_MEMBER: manager}
    for party in dispute.parties:
        dispute.submit_statement(actor=parties[party], text=f"my side ({party})", at=at(1))
    return dispute


def decide(
    dispute: Dispute, actor: Actor = manager, actions=(), rationale="because"
) -> DisputeDecided:
    """Decide with a valid summary and rationale."""
    return dispute.decide(
        actor=actor,
        summary="target lowered",
        rationale=rationale,
        actions=list(actions),
        team_member_ids=TEAM_MEMBERS,
        at=at(10),
    )


def decided() -> Dispute:
    """Return a dispute between A and B that the manager has decided."""
    dispute = heard_by_all(open_dispute())
    decide(dispute)
    return dispute


# --- opening ---------------------------------------------------------------------------------


def test_opening_returns_the_fact_and_starts_open_with_an_audit_entry():
    dispute, fact = Dispute.open(
        id=uuid4(),
        org_id=ORG,
        team_id=TEAM,
        kind="sale_credit",
        subject="  Who closed ACME?  ",
        parties=[REP_A, REP_B],
        related={"sale_id": (sale := uuid4())},
        actor=rep_a,
        team_member_ids=TEAM_MEMBERS,
        manager_member_ids=frozenset({MANAGER_MEMBER}),
        at=T0,
    )
    assert dispute.state == DisputeState.OPEN
    assert dispute.kind == DisputeKind.SALE_CREDIT
    assert dispute.subject == "Who closed ACME?"
    assert dispute.related == {"sale_id": sale}
    assert dispute.opened_by == REP_A and dispute.opened_by_sub == "rep-a"
    assert not dispute.escalated and not dispute.manager_is_party
    assert isinstance(fact, DisputeOpened) and fact.parties == (REP_A, REP_B)
    assert [e.action for e in dispute.audit] == ["opened"]


def test_a_dispute_with_a_single_party_is_legitimate():
    # A rep disputing their own target with the company has no second member to name.
    dispute = open_dispute(parties=[REP_A])
    assert dispute.parties == [REP_A]


@pytest.mark.parametrize(
    ("parties", "field"),
    [([], "parties"), ([REP_A, REP_A], "parties"), ([REP_A, uuid4()], "parties")],
    ids=["none", "repeated", "not-on-team"],
)
def test_opening_refuses_bad_party_lists(parties, field):
    with pytest.raises(InvalidInput) as caught:
        open_dispute(parties=parties, actor=manager)
    assert caught.value.extra["field"] == field


def test_opening_refuses_an_unknown_kind_and_a_blank_subject():
    with pytest.raises(InvalidInput):
        open_dispute(kind="pay")
    with pytest.raises(InvalidInput):
        Dispute.open(
            id=uuid4(),
            org_id=ORG,
            team_id=TEAM,
            kind="other",
            subject="   ",
            parties=[REP_A],
            related=None,
            actor=rep_a,
            team_member_ids=TEAM_MEMBERS,
            manager_member_ids=frozenset(),
            at=T0,
        )


@pytest.mark.parametrize(
    ("kind", "related", "ok"),
    [
        ("target", {"target_id": uuid4()}, True),
        ("target", {"sale_id": uuid4()}, False),
        ("sale_credit", {"sale_id": uuid4()}, True),
        ("sale_credit", {"target_id": uuid4()}, False),
        ("conduct", {"target_id": uuid4()}, False),
        ("other", {"sale_id": uuid4()}, True),
        ("other", {"sale_id": uuid4(), "target_id": uuid4()}, False),
        ("target", {"target_id": "not-a-uuid"}, False),
        ("conduct", None, True),
    ],
)
def test_a_related_reference_must_fit_the_kind(kind, related, ok):
    if ok:
        assert open_dispute(kind=kind, related=related).related == related
    else:
        with pytest.raises(InvalidInput):
            open_dispute(kind=kind, related=related)


def test_a_rep_may_only_open_a_dispute_they_are_a_party_to():
    with pytest.raises(Forbidden):
        open_dispute(parties=[REP_A, REP_B], actor=rep_c)
    with pytest.raises(Forbidden):
        open_dispute(actor=other_manager)
    assert open_dispute(actor=manager).opened_by == MANAGER_MEMBER
    assert open_dispute(actor=admin).opened_by is None


def test_a_manager_who_is_a_party_escalates_the_dispute_from_the_start():
    named = open_dispute(parties=[REP_A, MANAGER_MEMBER], actor=rep_a)
    assert named.manager_is_party and named.escalated
    # The opening manager counts even if the service's manager list missed them.
    self_named = open_dispute(
        parties=[REP_A, MANAGER_MEMBER], actor=manager, manager_member_ids=frozenset()
    )
    assert self_named.escalated


def test_plain_strings_loaded_from_storage_become_enums():
    stored = dataclasses.replace(decided(), state="decided", kind="target")
    assert stored.state is DisputeState.DECIDED and stored.kind is DisputeKind.TARGET
    with pytest.raises(Conflict, match="decided"):
        stored.withdraw(actor=rep_a, at=at(20))


def test_a_naive_time_is_a_programming_error():
    dispute = open_dispute()
    with pytest.raises(ValueError, match="timezone-aware"):
        dispute.submit_statement(actor=rep_a, text="x", at=datetime(2025, 3, 3, 9, 0))


# --- statements ------------------------------------------------------------------------------


def test_the_first_statement_starts_the_hearing():
    dispute = open_dispute()
    fact = dispute.submit_statement(actor=rep_a, text="It is too high", at=at(1))
    assert dispute.state == DisputeState.HEARING
    assert fact == StatementSubmitted(
        dispute_id=dispute.id, org_id=ORG, team_id=TEAM, at=at(1), party_id=REP_A, version=1
    )


def test_resubmitting_a_statement_replaces_it_and_keeps_every_version():
    dispute = open_dispute()
    dispute.submit_statement(actor=rep_a, text="first", at=at(1))
    fact = dispute.submit_statement(actor=rep_a, text="second", at=at(2))
    assert fact.version == 2
    assert dispute.current_statement(REP_A).text == "second"
    history = dispute.statement_history(REP_A)
    assert [(s.version, s.text, s.submitted_at) for s in history] == [
        (1, "first", at(1)),
        (2, "second", at(2)),
    ]


def test_only_a_party_may_submit_a_statement():
    dispute = open_dispute()
    with pytest.raises(Forbidden):
        dispute.submit_statement(actor=manager, text="x", at=at(1))
    with pytest.raises(NotFound):
        dispute.submit_statement(actor=teammate, text="x", at=at(1))
    assert dispute.statements == [] and dispute.state == DisputeState.OPEN


def test_a_blank_statement_is_refused():
    dispute = open_dispute()
    with pytest.raises(InvalidInput) as caught:
        dispute.submit_statement(actor=rep_a, text=" \n ", at=at(1))
    assert caught.value.extra == {"field": "text"}


def test_a_statement_after_the_decision_is_refused_naming_the_state():
    dispute = decided()
    with pytest.raises(Conflict, match="decided") as caught:
        dispute.submit_statement(actor=rep_a, text="one more thing", at=at(11))
    assert caught.value.extra == {"state": "decided"}


# --- waivers ---------------------------------------------------------------------------------


def test_a_waiver_starts_the_hearing_and_counts_as_heard():
    dispute = open_dispute()
    fact = dispute.record_waiver(actor=manager, party_id=REP_B, reason="on leave", at=at(1))
    assert isinstance(fact, WaiverRecorded) and fact.party_id == REP_B
    assert fact.reason == "on leave"
    assert dispute.state == DisputeState.HEARING
    assert dispute.missing_parties() == [REP_A]


def test_a_waiver_needs_a_reason_and_a_party_of_the_dispute():
    dispute = open_dispute()
    with pytest.raises(InvalidInput):
        dispute.record_waiver(actor=manager, party_id=REP_B, reason="  ", at=at(1))
    with pytest.raises(InvalidInput):
        dispute.record_waiver(actor=manager, party_id=REP_C, reason="away", at=at(1))
    assert dispute.waivers == [] and dispute.state == DisputeState.OPEN


def test_a_waiver_is_refused_for_a_party_who_has_a_statement_or_a_waiver():
    dispute = open_dispute()
    dispute.submit_statement(actor=rep_a, text="mine", at=at(1))
    with pytest.raises(Conflict):
        dispute.record_waiver(actor=manager, party_id=REP_A, reason="x", at=at(2))
    dispute.record_waiver(actor=manager, party_id=REP_B, reason="sick", at=at(2))
    with pytest.raises(Conflict):
        dispute.record_waiver(actor=manager, party_id=REP_B, reason="still sick", at=at(3))


def test_a_waived_party_may_still_submit_a_statement():
    dispute = open_dispute()
    dispute.record_waiver(actor=manager, party_id=REP_B, reason="travelling", at=at(1))
    dispute.submit_statement(actor=rep_b, text="back now", at=at(2))
    assert dispute.current_statement(REP_B).text == "back now"
    assert len(dispute.waivers) == 1


def test_a_party_cannot_record_a_waiver_even_as_admin():
    dispute = open_dispute()
    with pytest.raises(Forbidden):
        dispute.record_waiver(actor=rep_a, party_id=REP_B, reason="x", at=at(1))
    admin_party = Actor(member_id=REP_A, user_sub="admin-rep", is_admin=True)
    with pytest.raises(Forbidden):
        dispute.record_waiver(actor=admin_party, party_id=REP_B, reason="x", at=at(1))


def test_in_an_escalated_dispute_only_an_admin_records_waivers():
    dispute = open_dispute(parties=[REP_A, MANAGER_MEMBER])
    with pytest.raises(Forbidden, match="only an admin"):
        dispute.record_waiver(actor=manager, party_id=REP_A, reason="x", at=at(1))
    with pytest.raises(Forbidden, match="only an admin"):
        dispute.record_waiver(actor=co_manager, party_id=REP_A, reason="x", at=at(1))
    dispute.record_waiver(actor=admin, party_id=MANAGER_MEMBER, reason="on leave", at=at(1))
    assert dispute.missing_parties() == [REP_A]


def test_missing_parties_lists_the_unheard_in_party_order():
    dispute = open_dispute(parties=[REP_C, REP_A, REP_B], actor=manager)
    assert dispute.missing_parties() == [REP_C, REP_A, REP_B]
    dispute.submit_statement(actor=rep_a, text="x", at=at(1))
    dispute.record_waiver(actor=manager, party_id=REP_C, reason="left early", at=at(2))
    assert dispute.missing_parties() == [REP_B]


# --- decision --------------------------------------------------------------------------------


def test_decision_is_refused_until_every_party_is_heard():
    dispute = open_dispute(parties=[REP_A, REP_B, REP_C], actor=manager)
    dispute.submit_statement(actor=rep_b, text="x", at=at(1))
    with pytest.raises(Conflict, match="not every party has been heard") as caught:
        decide(dispute)
    assert caught.value.status == 409
    assert caught.value.extra == {"missing": [str(REP_A), str(REP_C)]}
    assert dispute.state == DisputeState.HEARING and dispute.decision is None


def test_the_manager_decides_once_everyone_is_heard():
    dispute = open_dispute()
    dispute.submit_statement(actor=rep_a, text="x", at=at(1))
    dispute.record_waiver(actor=manager, party_id=REP_B, reason="unreachable", at=at(2))
    action = AdjustTarget(member_id=REP_A, period_id=uuid4(), delta=Decimal("-1500.00"))
    fact = decide(dispute, actions=[action])
    assert dispute.state == DisputeState.DECIDED
    assert fact.actions == (action,) and fact.decided_by_sub == "manager"
    assert dispute.decision.rationale == "because"
    assert dispute.decision.decided_by_member_id == MANAGER_MEMBER


def test_decision_needs_a_summary_and_a_rationale():
    dispute = heard_by_all(open_dispute())
    with pytest.raises(InvalidInput) as caught:
        decide(dispute, rationale=" ")
    assert caught.value.extra == {"field": "rationale"}
    with pytest.raises(InvalidInput):
        dispute.decide(
            actor=manager,
            summary="",
            rationale="r",
            actions=[],
            team_member_ids=TEAM_MEMBERS,
            at=at(10),
        )


def test_a_party_never_decides():
    dispute = heard_by_all(open_dispute())
    admin_party = Actor(member_id=REP_A, user_sub="admin-rep", is_admin=True)
    for actor in (rep_a, admin_party):
        with pytest.raises(Forbidden):
            decide(dispute, actor=actor)
    with pytest.raises(NotFound):
        decide(dispute, actor=teammate)
    with pytest.raises(NotFound):
        decide(dispute, actor=other_manager)
    assert dispute.decision is None


def test_when_the_manager_is_a_party_only_an_admin_decides():
    dispute = heard_by_all(open_dispute(parties=[REP_A, MANAGER_MEMBER]))
    for actor in (manager, co_manager):
        with pytest.raises(Forbidden, match="only an admin"):
            decide(dispute, actor=actor)
    assert decide(dispute, actor=admin).decided_by_sub == "admin"


def test_an_admin_may_decide_an_ordinary_dispute_too():
    assert decide(heard_by_all(open_dispute()), actor=admin).decided_by_sub == "admin"


def test_a_decided_or_withdrawn_dispute_cannot_be_decided_again():
    dispute = decided()
    with pytest.raises(Conflict, match="decided"):
        decide(dispute)
    withdrawn = heard_by_all(open_dispute())
    withdrawn.withdraw(actor=rep_a, at=at(5))
    with pytest.raises(Conflict, match="withdrawn"):
        decide(withdrawn)


PERIOD = uuid4()
SALE = uuid4()


@pytest.mark.parametrize(
    "actions",
    [
        [AdjustTarget(member_id=REP_A, period_id=PERIOD, delta=Decimal(0))],
        [AdjustTarget(member_id=REP_A, period_id=PERIOD, delta=100.0)],
        [AdjustTarget(member_id=REP_A, period_id=PERIOD, delta=Decimal("NaN"))],
        [AdjustTarget(member_id=REP_A, period_id=PERIOD, delta=Decimal(-(10**15) - 1))],
        [AdjustTarget(member_id=REP_C, period_id=PERIOD, delta=Decimal(5))],
        [
            AdjustTarget(member_id=REP_A, period_id=PERIOD, delta=Decimal(5)),
            AdjustTarget(member_id=REP_A, period_id=PERIOD, delta=Decimal(6)),
        ],
        [ReassignSaleCredit(sale_id=SALE, to_member_id=REP_B, percent=Decimal(0))],
        [ReassignSaleCredit(sale_id=SALE, to_member_id=REP_B, percent=Decimal("100.01"))],
        [
            ReassignSaleCredit(sale_id=SALE, to_member_id=REP_A, percent=Decimal(60)),
            ReassignSaleCredit(sale_id=SALE, to_member_id=REP_B, percent=Decimal(41)),
        ],
        [ReassignSaleCredit(sale_id=SALE, to_member_id=TEAMMATE, percent=Decimal(50))],
        ["adjust everything"],
    ],
    ids=[
        "zero-delta",
        "float-delta",
        "nan-delta",
        "delta-beyond-the-maximum",
        "non-party",
        "same-target-twice",
        "zero-percent",
        "over-100-percent",
        "sale-over-100-in-total",
        "credit-to-non-party",
        "unknown-action",
    ],
)
def test_invalid_decision_actions_are_refused(actions):
    dispute = heard_by_all(open_dispute())
    with pytest.raises(InvalidInput) as caught:
        decide(dispute, actions=actions)
    assert caught.value.extra["field"].startswith("actions[")
    assert dispute.state == DisputeState.HEARING


def test_an_action_for_a_party_who_left_the_team_is_refused():
    dispute = heard_by_all(open_dispute())
    action = ReassignSaleCredit(sale_id=SALE, to_member_id=REP_B, percent=Decimal(100))
    with pytest.raises(InvalidInput, match="no longer on the team"):
        dispute.decide(
            actor=manager,
            summary="s",
            rationale="r",
            actions=[action],
            team_member_ids=TEAM_MEMBERS - {REP_B},
            at=at(10),
        )


def test_split_credit_and_negative_adjustments_are_valid_actions():
    actions = [
        ReassignSaleCredit(sale_id=SALE, to_member_id=REP_A, percent=Decimal("50")),
        ReassignSaleCredit(sale_id=SALE, to_member_id=REP_B, percent=Decimal("50")),
        AdjustTarget(
            member_id=REP_B, period_id=PERIOD, delta=Decimal("-0.01"), team_total_changes=True
        ),
    ]
    fact = decide(heard_by_all(open_dispute(kind="other")), actions=actions)
    assert fact.actions == tuple(actions)


# --- responses and closing -------------------------------------------------------------------


def test_responding_before_the_decision_is_refused_naming_the_state():
    dispute = heard_by_all(open_dispute())
    with pytest.raises(Conflict, match="hearing"):
        dispute.respond(actor=rep_a, accepts=True, comment=None, at=at(5))


def test_a_party_that_disagrees_is_recorded_as_heard():
    dispute = decided()
    facts = dispute.respond(actor=rep_a, accepts=False, comment=" I still disagree ", at=at(11))
    assert facts == [
        ResponseRecorded(
            dispute_id=dispute.id,
            org_id=ORG,
            team_id=TEAM,
            at=at(11),
            party_id=REP_A,
            accepts=False,
        )
    ]
    response = dispute.response_of(REP_A)
    assert response.accepts is False and response.comment == "I still disagree"
    assert dispute.state == DisputeState.DECIDED


def test_a_party_responds_only_once():
    dispute = decided()
    dispute.respond(actor=rep_a, accepts=True, comment=None, at=at(11))
    with pytest.raises(Conflict, match="already responded"):
        dispute.respond(actor=rep_a, accepts=False, comment="changed my mind", at=at(12))
    assert dispute.response_of(REP_A).accepts is True


def test_only_a_party_responds_and_only_with_a_boolean():
    dispute = decided()
    with pytest.raises(Forbidden):
        dispute.respond(actor=manager, accepts=True, comment=None, at=at(11))
    with pytest.raises(NotFound):
        dispute.respond(actor=teammate, accepts=True, comment=None, at=at(11))
    with pytest.raises(InvalidInput):
        dispute.respond(actor=rep_a, accepts="yes", comment=None, at=at(11))


def test_the_last_response_closes_the_dispute():
    dispute = decided()
    dispute.respond(actor=rep_a, accepts=True, comment="", at=at(11))
    recorded, closed = dispute.respond(actor=rep_b, accepts=False, comment="no", at=at(12))
    assert isinstance(recorded, ResponseRecorded)
    assert closed == DisputeClosed(
        dispute_id=dispute.id,
        org_id=ORG,
        team_id=TEAM,
        at=at(12),
        reason="all_responded",
        accepted_by=(REP_A,),
        disagreed_by=(REP_B,),
        unresponsive=(),
    )
    assert dispute.state == DisputeState.CLOSED and dispute.closed_at == at(12)
    assert dispute.response_of(REP_A).comment is None  # blank comment stored as none
    with pytest.raises(Conflict, match="closed"):
        dispute.respond(actor=rep_a, accepts=True, comment=None, at=at(13))


def test_a_decided_dispute_closes_when_the_response_window_has_passed():
    dispute = decided()
    dispute.respond(actor=rep_a, accepts=True, comment=None, at=at(11))
    window = timedelta(days=7)
    assert (
        dispute.close_if_expired(now=at(10) + window - timedelta(seconds=1), response_window=window)
        is None
    )
    assert dispute.state == DisputeState.DECIDED
    closed = dispute.close_if_expired(now=at(10) + window, response_window=window)
    assert closed.reason == "response_window_elapsed"
    assert closed.accepted_by == (REP_A,) and closed.unresponsive == (REP_B,)
    assert dispute.state == DisputeState.CLOSED
    assert dispute.audit[-1].actor_sub == "system"
    assert dispute.audit[-1].detail == {
        "reason": "response_window_elapsed",
        "unresponsive": [str(REP_B)],
    }


def test_the_expiry_sweep_ignores_disputes_not_waiting_for_answers():
    window = timedelta(days=1)
    later = at(60 * 24 * 30)
    for dispute in (open_dispute(), heard_by_all(open_dispute())):
        audit_before = list(dispute.audit)
        assert dispute.close_if_expired(now=later, response_window=window) is None
        assert dispute.audit == audit_before
    closed = decided()
    closed.close_if_expired(now=later, response_window=window)
    assert closed.close_if_expired(now=later, response_window=window) is None


def test_the_response_window_must_be_positive():
    with pytest.raises(InvalidInput):
        decided().close_if_expired(now=at(20), response_window=timedelta(0))


# --- withdrawal ------------------------------------------------------------------------------


def test_the_opener_may_withdraw_before_the_decision():
    dispute = heard_by_all(open_dispute())
    fact = dispute.withdraw(actor=rep_a, at=at(5))
    assert isinstance(fact, DisputeWithdrawn) and fact.withdrawn_by_sub == "rep-a"
    assert dispute.state == DisputeState.WITHDRAWN and dispute.withdrawn_at == at(5)
    assert (dispute.audit[-1].action, dispute.audit[-1].actor_sub) == ("withdrawn", "rep-a")
    with pytest.raises(Conflict, match="withdrawn"):
        dispute.submit_statement(actor=rep_b, text="late", at=at(6))


def test_only_the_opener_may_withdraw():
    dispute = open_dispute()
    for actor in (rep_b, manager, admin):
        with pytest.raises(Forbidden):
            dispute.withdraw(actor=actor, at=at(1))
    by_manager = open_dispute(actor=manager)
    by_manager.withdraw(actor=manager, at=at(1))
    assert by_manager.state == DisputeState.WITHDRAWN


def test_a_decided_dispute_cannot_be_withdrawn():
    dispute = decided()
    snapshot = copy.deepcopy(dispute)
    with pytest.raises(Conflict, match="decided"):
        dispute.withdraw(actor=rep_a, at=at(11))
    assert dispute == snapshot


# --- visibility ------------------------------------------------------------------------------


def test_a_non_party_teammate_sees_nothing():
    dispute = heard_by_all(open_dispute())
    assert not dispute.can_view(teammate)
    assert not dispute.can_view(other_manager)
    with pytest.raises(NotFound):
        dispute.view_for(teammate)


def test_a_party_sees_only_its_own_statement_before_the_decision():
    dispute = heard_by_all(open_dispute())
    dispute.submit_statement(actor=rep_a, text="edited", at=at(2))
    view = dispute.view_for(rep_b)
    assert {s.party_id for s in view.statements} == {REP_B}
    assert view.missing_parties is None and not view.viewer_is_decider
    assert view.viewer_party_id == REP_B
    own = dispute.view_for(rep_a)
    assert [s.version for s in own.statements] == [1, 2]


def test_the_decider_sees_every_statement_and_who_is_missing():
    dispute = open_dispute(parties=[REP_A, REP_B, REP_C], actor=manager)
    dispute.submit_statement(actor=rep_a, text="x", at=at(1))
    for decider in (manager, admin):
        view = dispute.view_for(decider)
        assert view.viewer_is_decider
        assert [s.party_id for s in view.statements] == [REP_A]
        assert view.missing_parties == (REP_B, REP_C)


def test_in_an_escalated_dispute_the_manager_party_sees_only_its_own_statement():
    dispute = heard_by_all(open_dispute(parties=[REP_A, MANAGER_MEMBER]))
    assert {s.party_id for s in dispute.view_for(manager).statements} == {MANAGER_MEMBER}
    assert not dispute.view_for(manager).viewer_is_decider
    # A co-manager is not the decider when escalated: sees the dispute, not the statements.
    assert dispute.view_for(co_manager).statements == ()
    assert {s.party_id for s in dispute.view_for(admin).statements} == {REP_A, MANAGER_MEMBER}


def test_after_the_decision_every_party_sees_it_but_statements_stay_private():
    dispute = decided()
    dispute.respond(actor=rep_a, accepts=False, comment="no", at=at(11))
    for party, own in ((rep_a, REP_A), (rep_b, REP_B)):
        view = dispute.view_for(party)
        assert view.decision is not None and view.decision.rationale == "because"
        assert {s.party_id for s in view.statements} == {own}
    assert [r.party_id for r in dispute.view_for(rep_b).responses] == []
    assert [r.party_id for r in dispute.view_for(rep_a).responses] == [REP_A]
    assert [r.party_id for r in dispute.view_for(manager).responses] == [REP_A]


def test_a_waiver_is_visible_to_the_waived_party_and_the_decider_only():
    dispute = open_dispute()
    dispute.record_waiver(actor=manager, party_id=REP_B, reason="on leave", at=at(1))
    assert [w.party_id for w in dispute.view_for(rep_b).waivers] == [REP_B]
    assert dispute.view_for(rep_a).waivers == ()
    assert [w.reason for w in dispute.view_for(manager).waivers] == ["on leave"]


# --- audit -----------------------------------------------------------------------------------


def test_every_change_appends_an_audit_entry_without_statement_text():
    dispute = open_dispute()
    dispute.submit_statement(actor=rep_a, text="secret details", at=at(1))
    dispute.record_waiver(actor=manager, party_id=REP_B, reason="away", at=at(2))
    decide(dispute)
    dispute.respond(actor=rep_a, accepts=True, comment=None, at=at(11))
    dispute.respond(actor=rep_b, accepts=True, comment=None, at=at(12))
    assert [(e.action, e.actor_sub) for e in dispute.audit] == [
        ("opened", "rep-a"),
        ("statement_submitted", "rep-a"),
        ("waiver_recorded", "manager"),
        ("decided", "manager"),
        ("responded", "rep-a"),
        ("responded", "rep-b"),
        ("closed", "rep-b"),
    ]
    assert "secret details" not in repr([e.detail for e in dispute.audit])


def test_a_refused_call_changes_nothing():
    dispute = open_dispute(parties=[REP_A, REP_B, REP_C], actor=manager)
    dispute.submit_statement(actor=rep_a, text="x", at=at(1))
    snapshot = copy.deepcopy(dispute)
    with pytest.raises(Conflict):
        decide(dispute)
    with pytest.raises(Forbidden):
        dispute.withdraw(actor=rep_a, at=at(5))
    assert dispute == snapshot
