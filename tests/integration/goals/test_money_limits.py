"""Targets at production sizes, up to the documented maximum, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from services.goals.adapters.orm import MemberStanding
from shared.events import wrap
from shared.money import MAX_MINOR, max_amount
from tests.integration.goals.conftest import Goals, seed
from tests.integration.goals.test_reactions import record_of, set_policy, shortfall

pytestmark = pytest.mark.integration


async def _team_and_period(g: Goals, *, currency: str, n: int = 3) -> tuple[str, str]:
    c, admin = g.client, g.as_admin()
    team = await c.post(
        "/v1/teams",
        json={"name": "Enterprise", "currency": currency, "manager_id": str(uuid.uuid4())},
        headers=admin,
    )
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]
    for i in range(n):
        r = await c.post(
            f"/v1/teams/{team_id}/members",
            json={"name": f"Rep {i}", "email": f"rep{i}@example.com", "capacity": "1"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
    period = await c.post(
        "/v1/periods",
        json={"name": "FY", "starts_on": "2030-01-01", "ends_on": "2030-12-31"},
        headers=admin,
    )
    assert period.status_code == 201, period.text
    return team_id, period.json()["id"]


async def _plan_allocated_and_published(g: Goals, base: str, target: str) -> dict:
    admin = g.as_admin()
    put = await g.client.put(base, json={"target": target}, headers=admin)
    assert put.status_code == 201, put.text
    allocation = await g.client.post(f"{base}/allocation", json={"method": "equal"}, headers=admin)
    assert allocation.status_code == 200, allocation.text
    published = await g.client.post(f"{base}/publish", headers=admin)
    assert published.status_code == 200, published.text
    plan = (await g.client.get(base, headers=admin)).json()
    assert plan["target"] == target
    return plan


@pytest.mark.parametrize(
    ("currency", "target"),
    [
        ("EUR", "100000000.00"),  # an enterprise team target: 32-bit columns stop at 21.4 M
        ("EUR", str(max_amount("EUR"))),
        ("JPY", "5000000000"),  # billions in a currency without minor units
        ("JPY", str(max_amount("JPY"))),
    ],
)
async def test_a_large_target_is_stored_allocated_and_published_exactly(
    goals_db: Goals, currency: str, target: str
):
    team_id, period_id = await _team_and_period(goals_db, currency=currency)
    plan = await _plan_allocated_and_published(
        goals_db, f"/v1/teams/{team_id}/plans/{period_id}", target
    )
    amounts = [t["amount"] for t in plan["targets"]]
    # Largest remainder: the three shares add up to the target to the last minor unit.
    assert len(amounts) == 3 and sum(map(_minor_of, amounts)) == _minor_of(target)


def _minor_of(amount: str) -> int:
    return int(amount.replace(".", ""))


@pytest.mark.parametrize(
    ("currency", "target"),
    [("EUR", "10000000000000.01"), ("JPY", str(MAX_MINOR + 1)), ("EUR", "1E+400000")],
)
async def test_a_target_beyond_the_maximum_is_a_422_naming_the_field(
    goals_db: Goals, currency: str, target: str
):
    team_id, period_id = await _team_and_period(goals_db, currency=currency, n=1)
    r = await goals_db.client.put(
        f"/v1/teams/{team_id}/plans/{period_id}",
        json={"target": target},
        headers=goals_db.as_admin(),
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == "target"
    assert r.json()["maximum"] == str(max_amount(currency))


async def test_an_override_beyond_the_maximum_is_a_422_naming_the_member(goals_db: Goals):
    team_id, period_id = await _team_and_period(goals_db, currency="EUR", n=2)
    base = f"/v1/teams/{team_id}/plans/{period_id}"
    admin = goals_db.as_admin()
    assert (await goals_db.client.put(base, json={"target": "1.00"}, headers=admin)).is_success
    members = (await goals_db.client.get(f"/v1/teams/{team_id}/members", headers=admin)).json()
    member = members["items"][0]["id"]
    r = await goals_db.client.post(
        f"{base}/allocation",
        json={"method": "equal", "overrides": {member: "10000000000000.01"}},
        headers=admin,
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == f"overrides.{member}"


async def test_a_target_edit_at_the_maximum_writes_exact_ledger_deltas(goals_db: Goals):
    team_id, period_id = await _team_and_period(goals_db, currency="EUR", n=2)
    plan = await _plan_allocated_and_published(
        goals_db, f"/v1/teams/{team_id}/plans/{period_id}", "100000000.00"
    )
    target = plan["targets"][0]
    top = str(max_amount("EUR"))
    r = await goals_db.client.patch(
        f"/v1/targets/{target['id']}",
        json={"amount": top, "reason": "Biggest deal ever", "team_total_changes": True},
        headers=goals_db.as_admin(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["amount"] == top
    history = await goals_db.client.get(
        f"/v1/targets/{target['id']}/history", headers=goals_db.as_admin()
    )
    assert history.status_code == 200, history.text
    last = history.json()["items"][-1]
    assert (last["old"], last["new"]) == ("50000000.00", top)
    assert last["delta"] == "9999950000000.00"


async def test_facts_with_totals_beyond_one_amounts_maximum_are_applied(goals_db: Goals):
    """Apply a shortfall whose snapshot totals exceed MAX_MINOR (sums may), stored exactly."""
    s = await seed(goals_db, target="9000000000000.00")
    await set_policy(goals_db, s, mode="auto")
    beyond = Decimal("20000000000000.00")  # two sales at the maximum
    event = shortfall(goals_db, s)
    event = event.model_copy(
        update={"snapshot": [m.model_copy(update={"achieved": beyond}) for m in event.snapshot]}
    )
    outcome = await goals_db.runtime.consumer._processor.process(record_of(wrap(event)))
    assert outcome.status == "applied"
    async with goals_db.runtime.engine.connect() as conn:
        stored = (await conn.execute(sa.select(MemberStanding.achieved_minor))).scalars().all()
    assert stored and set(stored) == {2 * MAX_MINOR}
