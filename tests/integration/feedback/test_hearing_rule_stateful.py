"""The hearing rule through the handlers and a real database, as a hypothesis state machine."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from services.feedback.handlers import disputes as h
from services.feedback.main import create_app
from shared.auth import Principal
from shared.domain_errors import DomainError
from tests.integration.feedback.conftest import seed_team, settings_for

pytestmark = pytest.mark.integration


class HearingThroughHandlers(RuleBasedStateMachine):
    """Random calls by random callers; never decided while a party is unheard."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory()
        db = Path(self.tmp.name) / "f.db"
        self.runtime = create_app(settings_for(f"sqlite+aiosqlite:///{db}")).state.runtime
        self.run(self.runtime.create_schema())
        self.team = self.run(seed_team(self.runtime, reps=3))
        self.people = {
            **{f"rep{i}": self._p(r, "rep") for i, r in enumerate(self.team.reps)},
            "boss": self._p(self.team.manager, "manager"),
            "admin": Principal(
                sub="admin", org=self.team.org, roles=frozenset({"admin"}), teams=frozenset()
            ),
        }
        cmd = h.OpenDispute(
            team_id=self.team.id, kind="other", subject="s", parties=self.team.reps[:2]
        )
        self.dispute_id = self.run(
            h.open_dispute(cmd, uow=self.runtime.uow(), principal=self.people["rep0"])
        ).view.id
        self.heard: set[uuid.UUID] = set()

    def _p(self, member: uuid.UUID, role: str) -> Principal:
        return Principal(
            sub=str(member),
            org=self.team.org,
            roles=frozenset({role}),
            teams=frozenset({self.team.id}),
        )

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def attempt(self, coro) -> object | None:
        try:
            return self.run(coro)
        except DomainError as error:
            return error

    @rule(who=st.sampled_from(["rep0", "rep1", "rep2", "boss"]))
    def submit_statement(self, who: str) -> None:
        cmd = h.SubmitStatement(dispute_id=self.dispute_id, text=f"{who} speaks")
        result = self.attempt(
            h.submit_statement(cmd, uow=self.runtime.uow(), principal=self.people[who])
        )
        if isinstance(result, h.DisputeResult):
            self.heard.add(self.people[who].member_id)

    @rule(who=st.sampled_from(["rep0", "boss", "admin"]), party=st.sampled_from([0, 1]))
    def record_waiver(self, who: str, party: int) -> None:
        cmd = h.RecordWaiver(
            dispute_id=self.dispute_id, party_id=self.team.reps[party], reason="away"
        )
        result = self.attempt(
            h.record_waiver(cmd, uow=self.runtime.uow(), principal=self.people[who])
        )
        if isinstance(result, h.DisputeResult):
            self.heard.add(self.team.reps[party])

    @rule(who=st.sampled_from(["rep0", "boss", "admin"]))
    def decide(self, who: str) -> None:
        cmd = h.DecideDispute(dispute_id=self.dispute_id, summary="s", rationale="r")
        result = self.attempt(
            h.decide_dispute(cmd, uow=self.runtime.uow(), principal=self.people[who])
        )
        if isinstance(result, h.DisputeResult):
            assert set(self.team.reps[:2]) <= self.heard
        elif result.status == 409 and "missing" in result.extra:
            assert {uuid.UUID(m) for m in result.extra["missing"]} == set(
                self.team.reps[:2]
            ) - self.heard

    @rule(who=st.sampled_from(["rep0", "rep1"]), accepts=st.booleans())
    def respond(self, who: str, accepts: bool) -> None:
        cmd = h.RespondToDecision(dispute_id=self.dispute_id, accepts=accepts)
        self.attempt(h.respond_to_decision(cmd, uow=self.runtime.uow(), principal=self.people[who]))

    @invariant()
    def never_decided_unheard_and_statements_stay_private(self) -> None:
        for i in (0, 1):
            view = self.run(
                h.get_dispute(
                    self.dispute_id, uow=self.runtime.uow(), principal=self.people[f"rep{i}"]
                )
            ).view
            assert {s.party_id for s in view.statements} <= {self.team.reps[i]}
            if view.state.value in ("decided", "closed"):
                assert set(self.team.reps[:2]) <= self.heard
        outsider = self.attempt(
            h.get_dispute(self.dispute_id, uow=self.runtime.uow(), principal=self.people["rep2"])
        )
        assert isinstance(outsider, DomainError) and outsider.status == 404

    def teardown(self) -> None:
        self.run(self.runtime.stop())
        self.loop.close()
        self.tmp.cleanup()


HearingThroughHandlers.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_hearing_rule_holds_through_the_handlers = HearingThroughHandlers.TestCase
