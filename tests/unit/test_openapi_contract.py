"""The OpenAPI states what the shared plumbing answers; the TypeScript client matches it."""

from __future__ import annotations

import json

import pytest

from scripts import client

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("service", client.SERVICES)
def test_openapi_snapshot_matches_the_live_document(service):
    snapshot = (client.CLIENT / "openapi" / f"{service}.json").read_text()
    assert snapshot == client.render(client.live_openapi(service)), (
        f"clients/typescript/openapi/{service}.json is stale: run python -m scripts.client"
    )


def test_generated_types_match_a_fresh_generation_from_the_snapshots():
    stale = client.stale_types()
    assert stale == [], f"stale generated types {stale}: run python -m scripts.client"


def test_every_error_response_is_documented_as_a_typed_problem():
    for service in client.SERVICES:
        document = json.loads((client.CLIENT / "openapi" / f"{service}.json").read_text())
        for path, item in document["paths"].items():
            for method, operation in item.items():
                for status, response in operation["responses"].items():
                    if status.startswith("4"):
                        assert response["content"] == {
                            "application/problem+json": {
                                "schema": {"$ref": "#/components/schemas/Problem"}
                            }
                        }, f"{service} {method.upper()} {path} {status}"


def test_every_route_documents_the_problems_the_shared_plumbing_can_answer():
    for service in client.SERVICES:
        document = client.live_openapi(service)
        for path, item in document["paths"].items():
            for method, operation in item.items():
                documented = set(operation["responses"])
                expected = {"408", "413", "429", "431"}
                if path.startswith("/v1/"):
                    expected |= {"401", "403", "422", "503"}
                if "{" in path:
                    expected.add("404")
                if "requestBody" in operation:
                    expected |= {"400", "422"}
                missing = expected - documented
                assert not missing, f"{service} {method.upper()} {path} lacks {sorted(missing)}"


def test_every_post_a_token_calls_documents_its_idempotency_key():
    for service in client.SERVICES:
        for path, item in client.live_openapi(service)["paths"].items():
            if "post" not in item:
                continue
            headers = {
                p["name"]: p["schema"] for p in item["post"]["parameters"] if p["in"] == "header"
            }
            if path.startswith("/v1/webhooks/"):
                assert "Idempotency-Key" not in headers, path
            else:
                assert headers["Idempotency-Key"]["maxLength"] == 255, path
