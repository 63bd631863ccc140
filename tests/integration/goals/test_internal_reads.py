"""Internal reads open only to a service token for this service and org, never to user tokens."""

from __future__ import annotations

import uuid

import pytest

from shared.config import DEV_SERVICE_SECRET
from shared.internal import service_token
from tests.harness import authorization
from tests.integration.goals.conftest import seed

pytestmark = pytest.mark.integration


async def test_only_a_service_token_for_goals_and_the_org_reads_a_targets_evidence(goals):
    seeded = await seed(goals)
    target = seeded.target_of(seeded.members[0]["id"])
    url = f"/internal/v1/targets/{target['id']}/evidence"

    def feedback_service_token(**changes) -> str:
        """Feedback's token for goals in this org, with the fields a case changes."""
        fields = {"secret": DEV_SERVICE_SECRET, "caller": "feedback", "service": "goals"}
        return service_token(**(fields | changes), org=goals.org)

    ok = await goals.client.get(url, headers=authorization(feedback_service_token()))
    assert ok.status_code == 200, ok.text
    assert ok.json()["items"][0]["kind"] == "derivation"
    for refused in (
        goals.as_admin(),  # a user token, even an admin's
        authorization(feedback_service_token(service="performance")),  # for another service
        authorization(feedback_service_token(secret="another-secret-of-forty-characters-0000")),
        {},
    ):
        response = await goals.client.get(url, headers=refused)
        assert response.status_code == 401, (refused, response.text)
    other_org = service_token(
        secret=DEV_SERVICE_SECRET, caller="feedback", service="goals", org=uuid.uuid4()
    )
    assert (await goals.client.get(url, headers=authorization(other_org))).status_code == 404
    document = (await goals.client.get("/openapi.json")).json()
    assert not [p for p in document["paths"] if p.startswith("/internal")]
