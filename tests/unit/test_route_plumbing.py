"""The route plumbing every service shares: problem responses and the dependency shape."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.goals.adapters.unit_of_work import GoalsUnitOfWork
from shared.deps import get_now, uow_dependency
from shared.problems import PROBLEM_RESPONSES, problem_responses

pytestmark = pytest.mark.unit


def test_problem_responses_document_each_status_once_in_order():
    assert list(problem_responses(404, 401, 422)) == [404, 401, 422]
    assert problem_responses(404)[404] == PROBLEM_RESPONSES[404]


def test_a_route_may_describe_a_status_in_its_own_words():
    responses = problem_responses(400, 401, described={400: "Malformed delivery"})
    assert responses[400]["description"] == "Malformed delivery"
    assert responses[400]["model"] is PROBLEM_RESPONSES[400]["model"]
    assert responses[401] == PROBLEM_RESPONSES[401]
    assert PROBLEM_RESPONSES[400]["description"] != "Malformed delivery"  # not mutated


def _request(uow: object, clock=None) -> SimpleNamespace:
    runtime = SimpleNamespace(uow=lambda read_only: uow, clock=clock)
    return SimpleNamespace(
        method="GET", app=SimpleNamespace(state=SimpleNamespace(runtime=runtime))
    )


async def test_a_unit_of_work_of_another_service_is_a_programming_error():
    goals_uow = object.__new__(GoalsUnitOfWork)
    assert await uow_dependency(GoalsUnitOfWork)(_request(goals_uow)) is goals_uow
    with pytest.raises(TypeError, match="not FeedbackUnitOfWork"):
        await uow_dependency(FeedbackUnitOfWork)(_request(goals_uow))


async def test_now_is_the_runtime_clock():
    frozen = datetime(2026, 12, 7, 15, tzinfo=UTC)
    assert await get_now(_request(None, clock=lambda: frozen)) == frozen
