"""Rate limit middleware: buckets per token, per address, and a refusal budget for webhooks."""

from __future__ import annotations

import uuid

import httpx
import pytest
from pydantic import ValidationError

from shared.auth import TokenVerifier
from shared.config import ServiceSettings
from shared.metrics import ServiceMetrics
from shared.ratelimit import RateLimitMiddleware, RateLimits
from tests.harness import as_admin

pytestmark = pytest.mark.unit


def _client(status: int, calls: list[str], **limits: str) -> httpx.AsyncClient:
    async def app(scope, receive, send):
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    settings = ServiceSettings()
    wrapped = RateLimitMiddleware(
        app, limits=RateLimits(**limits), verifier=TokenVerifier(settings),
        metrics=ServiceMetrics("test"),
    )  # fmt: skip
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://t")


async def test_each_verified_token_has_its_own_bucket_and_a_forged_one_shares_the_address():
    calls: list[str] = []
    async with _client(200, calls, api_per_token="2/minute", api_per_address="1/minute") as client:
        first, second = as_admin(uuid.uuid4()), as_admin(uuid.uuid4())
        assert [(await client.get("/v1/x", headers=first)).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
        assert (await client.get("/v1/x", headers=second)).status_code == 200
        forged = {"Authorization": "Bearer not-a-token"}
        assert [(await client.get("/v1/x", headers=forged)).status_code for _ in range(2)] == [
            200,
            429,
        ]
        refused = await client.get("/v1/x")  # no token: the same address bucket
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["type"] == "urn:attain:problem:rate-limited"
    assert len(calls) == 4


async def test_an_address_whose_deliveries_are_refused_is_turned_away_before_the_app_runs():
    calls: list[str] = []
    async with _client(401, calls, webhook_refusals_per_address="3/minute") as client:
        answers = [await client.post("/v1/webhooks/x/generic", content=b"{}") for _ in range(6)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429, 429, 429]
    assert len(calls) == 3
    assert answers[-1].headers["connection"] == "close"  # its body was never read


async def test_accepted_deliveries_do_not_spend_the_refusal_budget():
    calls: list[str] = []
    async with _client(202, calls, webhook_refusals_per_address="1/minute") as client:
        answers = [await client.post("/v1/webhooks/x/generic", content=b"{}") for _ in range(5)]
    assert {a.status_code for a in answers} == {202}


async def test_health_and_metrics_are_never_limited():
    calls: list[str] = []
    async with _client(200, calls, api_per_address="1/minute") as client:
        answers = [await client.get(path) for path in ("/healthz", "/readyz", "/metrics") * 3]
    assert {a.status_code for a in answers} == {200}


def test_a_rate_limit_that_does_not_parse_is_refused_at_start_up():
    with pytest.raises(ValidationError, match="not a rate limit"):
        ServiceSettings(rate_limit_api_per_token="lots per minute")
