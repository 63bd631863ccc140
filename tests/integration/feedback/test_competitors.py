"""Competitors: deals won and lost against them from performance's facts, intel about them,
and the team meeting agenda listing the intel shared since the last meeting."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from services.feedback.handlers.competitors import on_sale_fact
from shared.events import wrap
from shared.events.performance import Credit, SaleLost, SaleRecorded, SaleReversed
from tests.integration.feedback import test_coaching
from tests.integration.feedback.conftest import Team, seed_team

pytestmark = pytest.mark.integration
app = test_coaching.app  # the feedback app on SQLite and on PostgreSQL, with a seeded team

PERIOD = uuid.UUID("7d1f0a52-0c2b-4a7e-9d3c-5b6e7f8a9b01")
CLOSED = datetime(2026, 11, 20, 15, tzinfo=UTC)


def sale(team: Team, fact=SaleLost, *, sale_id=None, version=1, amount="1000.00", **extra):
    """A sale fact of performance's, credited to the team's first rep."""
    values = {
        "org_id": team.org,
        "team_id": team.id,
        "sale_id": sale_id or uuid.uuid4(),
        "source": "hubspot",
        "external_id": "18930577002",
        "amount": Decimal(amount),
        "currency": "EUR",
        "closed_at": CLOSED,
        "period_id": PERIOD,
        "credits": [Credit(member_id=team.reps[0], percent=Decimal(100))],
        "version": version,
        **extra,
    }
    if fact is SaleLost:
        values.setdefault("reasons", [])
    return fact(**values)


async def deliver(runtime, *events) -> None:
    """Apply performance's facts as the consumer would, each in its own transaction."""
    for event in events:
        async with runtime.uow() as uow:
            await on_sale_fact(event, wrap(event), uow)
            await uow.commit()


async def competitors(client, team: Team, headers=None, **params) -> list[dict]:
    response = await client.get(
        f"/v1/teams/{team.id}/competitors",
        params=params,
        headers=headers or team.as_rep(team.reps[1]),
    )
    assert response.status_code == 200, response.text
    return response.json()["competitors"]


async def test_deals_won_and_lost_against_a_competitor_are_summed_with_top_reasons(app):
    client, runtime, team = app
    await deliver(
        runtime,
        sale(team, amount="31000.00", competitor="Globex", reasons=["price", "timing"]),
        sale(
            team,
            amount="9000.50",
            competitor="globex",  # the latest deal: its spelling is shown
            reasons=["price"],
            closed_at=CLOSED + timedelta(days=1),
        ),
        sale(team, SaleRecorded, amount="24000.00", competitor="GLOBEX"),
        sale(team, amount="500.00", competitor="Initech", reasons=["features"]),
        sale(team, SaleRecorded, amount="700.00"),  # won against nobody named: not listed
        sale(team, amount="800.00", competitor="Globex", period_id=uuid.uuid4()),
    )
    rows = await competitors(client, team, period_id=str(PERIOD))
    assert [r["competitor"] for r in rows] == ["globex", "Initech"]
    globex = rows[0]
    assert globex["won"] == {"deals": 1, "amount": "24000.00"}
    assert globex["lost"] == {"deals": 2, "amount": "40000.50"}
    assert globex["top_loss_reasons"] == [
        {"reason": "price", "deals": 2},
        {"reason": "timing", "deals": 1},
    ]
    assert (await competitors(client, team))[0]["lost"]["deals"] == 3  # every period


async def test_a_sale_reversed_or_delivered_late_follows_its_latest_version(app):
    client, runtime, team = app
    won = uuid.uuid4()
    await deliver(
        runtime,
        sale(team, SaleRecorded, sale_id=won, competitor="Globex"),
        sale(team, sale_id=won, version=2, competitor="Globex", reasons=["price"]),
        sale(team, SaleRecorded, sale_id=won, competitor="Globex"),  # v1 again, late
    )
    [row] = await competitors(client, team)
    assert (row["won"]["deals"], row["lost"]["deals"]) == (0, 1)
    await deliver(runtime, sale(team, SaleReversed, sale_id=won, version=3, competitor="Globex"))
    assert await competitors(client, team) == []


async def test_intel_about_a_competitor_is_announced_and_shown_as_the_latest(app):
    client, runtime, team = app
    sale_id = uuid.uuid4()
    await deliver(runtime, sale(team, sale_id=sale_id, competitor="Globex", reasons=["price"]))
    for title in ("Globex cut prices", "Globex bundles support"):
        response = await client.post(
            "/v1/intel",
            json={
                "team_id": str(team.id),
                "title": title,
                "body": "Heard at the ACME review.",
                "kind": "competitor",
                "competitor": "globex",
                "sale_ids": [str(sale_id)],
            },
            headers=team.as_rep(team.reps[0]),
        )
        assert response.status_code == 201, response.text
        assert response.json()["sale_ids"] == [str(sale_id)]
    [row] = await competitors(client, team)
    assert row["latest_intel"]["title"] == "Globex bundles support"
    assert row["latest_intel"]["competitor"] == "globex"
    table = runtime.plumbing.outbox
    async with runtime.engine.connect() as conn:
        payloads = [
            r.payload
            for r in await conn.execute(
                select(table.c.payload).where(table.c.type == "attain.feedback.intel_shared.v1")
            )
        ]
    assert [p["title"] for p in payloads] == ["Globex cut prices", "Globex bundles support"]
    assert payloads[0]["competitor"] == "globex"
    assert payloads[0]["sale_ids"] == [str(sale_id)]


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"sale_ids": ["not-a-uuid"]}, id="sale-id-not-a-uuid"),
        pytest.param({"competitor": "x" * 201}, id="competitor-too-long"),
        pytest.param({"sale_ids": [str(uuid.uuid4()) for _ in range(51)]}, id="too-many-sales"),
    ],
)
async def test_intel_it_cannot_keep_is_refused_and_changes_nothing(app, changes: dict):
    client, _runtime, team = app
    body = {"team_id": str(team.id), "title": "t", "body": "b", "kind": "competitor"}
    response = await client.post(
        "/v1/intel", json=body | changes, headers=team.as_rep(team.reps[0])
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    listed = await client.get(
        "/v1/intel", params={"team_id": str(team.id)}, headers=team.as_rep(team.reps[0])
    )
    assert listed.json()["items"] == []


async def test_the_competitor_view_is_for_the_team_only(app):
    client, runtime, team = app
    stranger = await seed_team(runtime, reps=1)
    response = await client.get(
        f"/v1/teams/{team.id}/competitors", headers=stranger.as_rep(stranger.reps[0])
    )
    assert response.status_code == 404
    response = await client.get(
        f"/v1/teams/{team.id}/competitors",
        params={"period_id": "x"},
        headers=team.as_rep(team.reps[0]),
    )
    assert response.status_code == 422


async def test_the_next_meeting_agenda_lists_intel_shared_since_the_last_meeting(app):
    client, runtime, team = app
    now = datetime.now(UTC)

    async def share(title: str, at: datetime) -> None:
        response = await client.post(
            "/v1/intel",
            json={"team_id": str(team.id), "title": title, "body": "b", "kind": "pricing"},
            headers=team.as_rep(team.reps[0]),
        )
        assert response.status_code == 201, response.text
        async with runtime.uow() as uow:  # shared at a chosen moment, as if earlier
            item = await uow.intel.shared_between(
                org_id=team.org, team_id=team.id, since=None, until=now + timedelta(days=30)
            )
            row = next(i for i in item if i.title == title)
            row.created_at = at
            uow.session.add(row)
            await uow.commit()

    # A weekly meeting that met six days ago; the next one is tomorrow.
    meeting = await client.post(
        f"/v1/teams/{team.id}/meetings",
        json={
            "title": "Weekly pipeline review",
            "scheduled_at": (now - timedelta(days=13)).isoformat(),
            "cadence": "weekly",
            "agenda": ["Pipeline"],
        },
        headers=team.as_manager(),
    )
    assert meeting.status_code == 201, meeting.text
    await share("Before the last meeting", now - timedelta(days=7))
    await share("Since the last meeting", now - timedelta(days=2))
    response = await client.get(
        f"/v1/meetings/{meeting.json()['id']}/agenda", headers=team.as_rep(team.reps[1])
    )
    assert response.status_code == 200, response.text
    agenda = response.json()
    assert datetime.fromisoformat(agenda["occurs_at"]) > now
    assert datetime.fromisoformat(agenda["since"]) == datetime.fromisoformat(
        agenda["occurs_at"]
    ) - timedelta(weeks=1)
    assert agenda["items"] == ["Pipeline"]
    assert [i["title"] for i in agenda["intel_shared"]] == ["Since the last meeting"]
