"""The goals OpenAPI document lists the contract paths with stable operationIds and examples."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

CONTRACT = {
    ("post", "/v1/teams"): "create_team",
    ("get", "/v1/teams"): "list_teams",
    ("get", "/v1/teams/{team_id}"): "get_team",
    ("patch", "/v1/teams/{team_id}"): "update_team",
    ("post", "/v1/teams/{team_id}/members"): "add_member",
    ("get", "/v1/teams/{team_id}/members"): "list_members",
    ("get", "/v1/members/{member_id}"): "get_member",
    ("patch", "/v1/members/{member_id}"): "update_member",
    ("delete", "/v1/members/{member_id}"): "remove_member",
    ("post", "/v1/members/{member_id}/results"): "record_result",
    ("get", "/v1/members/{member_id}/results"): "list_results",
    ("post", "/v1/periods"): "define_period",
    ("get", "/v1/periods"): "list_periods",
    ("get", "/v1/periods/{period_id}"): "get_period",
    ("put", "/v1/teams/{team_id}/plans/{period_id}"): "put_plan",
    ("get", "/v1/teams/{team_id}/plans/{period_id}"): "get_plan",
    ("post", "/v1/teams/{team_id}/plans/{period_id}/allocation"): "allocate_plan",
    ("post", "/v1/teams/{team_id}/plans/{period_id}/publish"): "publish_plan",
    ("get", "/v1/targets/{target_id}"): "get_target",
    ("patch", "/v1/targets/{target_id}"): "edit_target",
    ("get", "/v1/targets/{target_id}/history"): "get_target_history",
    ("post", "/v1/targets/{target_id}/acknowledgement"): "acknowledge_target",
    ("put", "/v1/teams/{team_id}/rebalance-policy"): "put_rebalance_policy",
    ("get", "/v1/teams/{team_id}/rebalance-policy"): "get_rebalance_policy",
    ("get", "/v1/teams/{team_id}/rebalances"): "list_rebalances",
    ("get", "/v1/rebalances/{rebalance_id}"): "get_rebalance",
    ("post", "/v1/rebalances/{rebalance_id}/approval"): "approve_rebalance",
    ("post", "/v1/rebalances/{rebalance_id}/rejection"): "reject_rebalance",
}


async def test_openapi_lists_every_contract_path_with_its_operation_id(goals):
    spec = (await goals.client.get("/openapi.json")).json()
    for (method, path), operation_id in CONTRACT.items():
        operation = spec["paths"][path][method]
        assert operation["operationId"] == operation_id, (method, path)
        assert operation["tags"] and operation["description"], (method, path)
        assert "401" in operation["responses"], (method, path)


async def test_request_and_response_schemas_carry_examples(goals):
    spec = (await goals.client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    for name in ("TeamCreate", "MemberCreate", "PeriodCreate", "PlanWrite", "AllocationRequest",
                 "TargetRead", "RebalanceRead", "PolicyWrite", "ResultCreate"):  # fmt: skip
        props = schemas[name]["properties"]
        assert any("examples" in p for p in props.values()), name
