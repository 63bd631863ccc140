"""Generated requests against every operation: bad input gets a problem, never a server error.

Schemathesis draws requests from each service's own OpenAPI document (valid and invalid
bodies, odd query strings, random ids) and sends them in-process to the real app on SQLite.
"""

from __future__ import annotations

import asyncio
import importlib
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis import openapi

from shared.devtoken import mint

pytestmark = pytest.mark.integration
SERVICES = ("goals", "performance", "feedback")
# No broker runs here, so readiness is honestly "unavailable".
NOT_FUZZED = {"GET /readyz"}


def _app(service: str, tmp_path):
    config = importlib.import_module(f"services.{service}.config")
    main = importlib.import_module(f"services.{service}.main")
    settings_ = config.Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}",
        run_workers=False,
        env="test",
        log_level="CRITICAL",
    )
    app = main.create_app(settings_)
    asyncio.run(app.state.runtime.create_schema())
    return app


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("role", ["admin", "rep"])
def test_no_generated_request_gets_a_server_error_or_a_non_problem_error(service, role, tmp_path):
    app = _app(service, tmp_path)
    token = mint(org=str(uuid.uuid4()), sub=str(uuid.uuid4()), roles=[role])
    schema = openapi.from_asgi("/openapi.json", app)
    faults: list[str] = []
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) > 10
    for operation in operations:
        if operation.label not in NOT_FUZZED:
            _fuzz(operation, token, faults)
    asyncio.run(app.state.runtime.stop())
    assert faults == []


def _fuzz(operation, token: str, faults: list[str]) -> None:
    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def call(case):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        response = case.call()
        content_type = response.headers.get("content-type", [""])
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        if response.status_code >= 500:
            faults.append(f"{operation.label}: {response.status_code} {response.text[:200]}")
        elif response.status_code >= 400 and "application/problem+json" not in content_type:
            faults.append(f"{operation.label}: {response.status_code} as {content_type}")

    call()
