"""Generated requests against every operation: each response is one the OpenAPI document promises.

Schemathesis draws requests from each service's own OpenAPI document (valid and invalid bodies,
odd query strings, random ids, amounts at and beyond the maximum) and sends them in-process to the
real app, on SQLite and on PostgreSQL. Each response must pass schemathesis' conformance checks:
no server error, a documented status with its documented media type, body and headers, invalid
data refused and valid data accepted.
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import openapi
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.money import INT64_MAX, MAX_MINOR, from_minor
from tests.harness import bearer_token

pytestmark = pytest.mark.integration
SERVICES = ("goals", "performance", "feedback")
# No broker runs here, so readiness is honestly "unavailable".
NOT_FUZZED = {"GET /readyz"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]
EXAMPLES = 5  # per operation and mode: each service's run stays around half a minute


def _edges() -> list[str]:
    """Amounts at the maximum, just beyond it, and where 64-bit storage would overflow."""
    values = {Decimal(0), Decimal("12500.00")}
    for currency in ("EUR", "JPY", "KWD"):
        top = from_minor(MAX_MINOR, currency)
        step = from_minor(1, currency)
        values |= {top, top + step, top * 10, from_minor(INT64_MAX, currency)}
    values |= {Decimal(INT64_MAX + 1), Decimal(10**30)}
    return sorted(str(sign * v) for v in values for sign in (1, -1))


# Amounts are `format: decimal` strings (shared.money): half are edge values, half anything.
schemathesis.openapi.format(
    "decimal",
    st.one_of(st.sampled_from(_edges()), st.from_regex(r"\A-?\d{1,20}(\.\d{1,3})?\Z")),
)


@pytest.fixture
def app(request, db_url: str) -> Iterator[object]:
    """A service app on a fresh database (SQLite or PostgreSQL), without workers or broker."""
    service = request.param
    config = importlib.import_module(f"services.{service}.config")
    main = importlib.import_module(f"services.{service}.main")
    settings_ = config.Settings(
        database_url=db_url, run_workers=False, env="test", log_level="CRITICAL"
    )
    application = main.create_app(settings_)
    asyncio.run(_create_schema(application.state.runtime))
    yield application
    asyncio.run(application.state.runtime.stop())


async def _create_schema(runtime) -> None:
    await runtime.create_schema()
    # Pooled asyncpg connections belong to this event loop; the test client runs another.
    await runtime.engine.dispose()


@pytest.mark.parametrize("app", SERVICES, indirect=True)
def test_every_generated_response_conforms_to_the_openapi_document(app):
    schema = openapi.from_asgi("/openapi.json", app)
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) > 10
    admin, rep = bearer_token(org=uuid.uuid4()), bearer_token(org=uuid.uuid4(), roles=["rep"])
    passes = [
        (admin, GenerationMode.POSITIVE, EXAMPLES),
        (admin, GenerationMode.NEGATIVE, EXAMPLES),
        (rep, GenerationMode.POSITIVE, 2),  # mostly refused (403/404): a few suffice
    ]
    faults: list[str] = []
    for operation in operations:
        if operation.label in NOT_FUZZED:
            continue
        for token, mode, examples in passes:
            _fuzz(operation, token, mode, examples, faults)
    assert faults == [], f"{len(faults)} non-conforming responses:\n" + "\n".join(faults[:20])


def _fuzz(operation, token: str, mode: GenerationMode, examples: int, faults: list[str]) -> None:
    # derandomize: the same cases every run, so CI never flakes on a rare draw.
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        response = case.call()
        try:
            case.validate_response(response, checks=CHECKS)
        except (FailureGroup, Failure) as exc:
            for failure in getattr(exc, "exceptions", [exc]):
                if not _refused_by_a_business_rule(failure, response):
                    title = str(failure).strip().splitlines()[0]
                    faults.append(
                        f"{operation.label} [{mode.value}]: {response.status_code} {title}: "
                        f"{response.text[:300]}"
                    )

    try:
        call()
    except Unsatisfiable:
        pass  # negative mode on an operation with no input at all: nothing can be made invalid


# A schema states shapes, not every rule: a forged cursor, an unknown time zone, an amount over
# its currency's maximum, a decimal string's value range. Such refusals are 422 problems naming
# the rule; a 422 from the schema validator for any other reason means the document is too loose.
_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _refused_by_a_business_rule(failure: Exception, response) -> bool:
    if type(failure).__name__ != "RejectedPositiveData" or response.status_code != 422:
        return False
    problem = response.json()
    if problem.get("type") != "urn:attain:problem:validation":
        return True
    return all(error.get("type") in _RANGE_ERRORS for error in problem.get("errors") or [{}])


def test_generated_amounts_include_the_maximum_and_just_beyond():
    edges = set(_edges())
    assert {"10000000000000.00", "10000000000000.01", "-10000000000000.01"} <= edges  # EUR
    assert {"1000000000000000", "1000000000000001"} <= edges  # JPY
    assert str(INT64_MAX + 1) in edges  # past what a 64-bit column holds
