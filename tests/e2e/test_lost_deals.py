"""Lost deals end to end: a HubSpot custom-pipeline win and loss, read back from a local fake of
HubSpot's deals API by the real performance service, land in attainment (the win only) and in
feedback's competitor view (the loss, with its competitor, reason and the intel about it)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scripts.run import Stack
from scripts.scenario import (
    Attain,
    half_elapsed_period,
    hubspot_stage_change,
    money,
    set_up_team,
    wait_for,
)
from tests.e2e.conftest import DB_KINDS, print_logs, start_stack, stop_stack, urls_of
from tests.fake_hubspot import serve_fake_hubspot

pytestmark = pytest.mark.e2e

HUBSPOT_TOKEN = "pat-e2e-private-app-token"
WON_STAGE, LOST_STAGE = "87654321", "87654322"  # a custom pipeline's numeric stage ids


@pytest.fixture(scope="module")
def hubspot() -> Iterator[dict]:
    """HubSpot's deals API on a real local HTTP server, for the whole stack's life."""
    with serve_fake_hubspot(HUBSPOT_TOKEN) as fake:
        yield fake


@pytest.fixture(scope="module", params=DB_KINDS)
def stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    timings_file: Path,
    hubspot: dict,
) -> Iterator[Stack]:
    """The whole stack, with performance reading HubSpot deals from the fake."""
    running = start_stack(
        request.param,
        tmp_path_factory.mktemp(f"e2e-lost-{request.param}"),
        PERFORMANCE_HUBSPOT_API_BASE_URL=hubspot["url"],
    )
    yield running
    if request.session.testsfailed:
        print_logs(running)
    stop_stack(running)


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[Attain]:
    """An HTTP client of a fresh organisation on the stack."""
    with Attain(urls_of(stack)) as client:
        yield client


def deal_object(deal_id: str, *, owner: str, amount: str, won: bool, **extra: str) -> bytes:
    """A deal as HubSpot's objects API returns it, shaped like hubspot_deal_object_custom_*.json."""
    closed = (datetime.now(UTC) - timedelta(days=2)).isoformat().replace("+00:00", "Z")
    properties = {
        "amount": amount,
        "closedate": closed,
        "dealstage": WON_STAGE if won else LOST_STAGE,
        "deal_currency_code": "EUR",
        "hs_is_closed": "true",
        "hs_is_closed_won": "true" if won else "false",
        "hs_object_id": deal_id,
        "hubspot_owner_id": owner,
        "pipeline": "12345678",
        **extra,
    }
    return json.dumps({"id": deal_id, "properties": properties, "archived": False}).encode()


def test_a_lost_hubspot_deal_with_a_competitor_shows_on_the_competitor_view_and_never_in_attainment(
    api: Attain, hubspot: dict
) -> None:
    starts_on, ends_on = half_elapsed_period()
    period = api.define_period("Lost deals", starts_on, ends_on)
    team = set_up_team(api, name="Lost deals", period=period).team
    ana = team.rep("Ana")
    api.set_hubspot_secret(api_token=HUBSPOT_TOKEN)
    won_id, lost_id = (str(random.randrange(10**10, 10**11)) for _ in range(2))
    owner = ana.crm_ids["hubspot"]
    hubspot["deals"][won_id] = deal_object(won_id, owner=owner, amount="24000.00", won=True)
    hubspot["deals"][lost_id] = deal_object(
        lost_id,
        owner=owner,
        amount="31000.00",
        won=False,
        competitor="Globex",
        closed_lost_reason="Price",
    )
    accepted = api.deliver_hubspot(
        [hubspot_stage_change(won_id, WON_STAGE), hubspot_stage_change(lost_id, LOST_STAGE)]
    ).json()
    processed = api.processed_delivery(accepted)
    assert (processed["outcome"], processed["applied"]) == ("processed", 2), processed

    def competitors_once_known() -> list[dict]:
        """Feedback learns of the team from goals' events: until then it answers 404."""
        response = api.call(
            "GET",
            "feedback",
            f"/v1/teams/{team.id}/competitors",
            token=team.manager_token,
            params={"period_id": period["id"]},
            expect=(200, 404),
        )
        return response.json()["competitors"] if response.status_code == 200 else []

    [globex] = wait_for(competitors_once_known, what="the lost deal on the competitor view")
    assert globex["competitor"] == "Globex"
    assert globex["lost"] == {"deals": 1, "amount": "31000.00"}
    assert globex["won"] == {"deals": 0, "amount": "0.00"}
    assert globex["top_loss_reasons"] == [{"reason": "Price", "deals": 1}]
    # Only the custom-pipeline win counts; the lost deal is kept, lost, and never counted.
    assert money(api.attainment(team, period["id"])[ana.id]["achieved"]) == money("24000.00")
    sales = {s["external_id"]: s for s in api.sales(period_id=period["id"])}
    assert (sales[won_id]["status"], sales[lost_id]["status"]) == ("active", "lost")

    intel = {
        "team_id": team.id,
        "title": "Globex undercuts us on 2-year terms",
        "body": "They offered 20 % off to win the data platform deal.",
        "kind": "competitor",
        "competitor": "Globex",
        "sale_ids": [sales[lost_id]["id"]],
    }
    shared = api.post("feedback", "/v1/intel", intel, token=ana.token)
    [globex] = api.competitors(team, period["id"])
    assert globex["latest_intel"]["id"] == shared["id"]
