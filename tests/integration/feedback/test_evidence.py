"""A target dispute's evidence pack, read from a real goals app, hash-linked, per party."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager

from services.feedback.adapters.evidence_sources import EvidenceSources
from services.feedback.handlers import events as reactions
from services.feedback.main import create_app
from shared.events import wrap
from shared.events.goals import CrmIds, MemberJoined, TeamCreated
from tests.integration.feedback.conftest import settings_for
from tests.integration.goals.conftest import make_goals, seed
from tests.integration.goals.test_reactions import record_of, set_policy, team_shortfalls

pytestmark = pytest.mark.integration


def recompute(entries: list[dict]) -> int | None:
    """Check a pack as any client could: the first seq whose link or hash fails, else None.

    Written here from the documented rule, not with the service's code: SHA-256 over the
    canonical JSON of the entry (seq, kind, key, about, source, recorded_at, data) followed by
    the previous hash; a redacted entry is taken on its stated hash.
    """
    prev = "0" * 64
    for position, entry in enumerate(entries, start=1):
        if entry["seq"] != position or entry["prev_hash"] != prev:
            return position
        if not entry["redacted"]:
            fields = ("seq", "kind", "key", "about", "source", "recorded_at", "data")
            body = json.dumps(
                {f: entry[f] for f in fields},
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=False,
            ).encode()
            if hashlib.sha256(body + prev.encode()).hexdigest() != entry["hash"]:
                return position
        prev = entry["hash"]
    return None


def sibling_url(db_url: str, request: pytest.FixtureRequest, tmp_path: Path, name: str) -> str:
    """Another fresh database of the same kind (each service owns its own)."""
    if db_url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp_path / name}.db"
    server = request.getfixturevalue("postgres")
    database = f"t_{uuid.uuid4().hex[:16]}"
    server.create_database(database)
    return server.url(database)


@pytest.fixture
async def stack(db_url, request, tmp_path) -> AsyncIterator[tuple]:
    """Goals and feedback apps, each on its own database; feedback reads goals in-process."""
    async for goals in make_goals(sibling_url(db_url, request, tmp_path, "goals")):
        application = create_app(settings_for(db_url))
        runtime = application.state.runtime
        await runtime.create_schema()
        runtime.evidence_sources = EvidenceSources(
            goals_url="http://goals",
            performance_url="http://performance",
            secret=runtime.settings.service_secret.get_secret_value(),
            transports={"goals": httpx.ASGITransport(app=goals.app)},
        )
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with (
            LifespanManager(application),
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        ):
            yield goals, client, runtime


async def learn_team(runtime, goals, seeded) -> None:
    """Feedback learns goals' team and members, as it would from goals' events."""
    org, team = goals.org, uuid.UUID(seeded.team["id"])
    async with runtime.uow() as uow:
        created = TeamCreated(
            org_id=org,
            team_id=team,
            name="EMEA",
            currency="EUR",
            manager_id=uuid.UUID(seeded.team["manager_id"]),
        )
        await reactions.on_team_created(created, wrap(created), uow)
        for m in seeded.members:
            joined = MemberJoined(
                org_id=org,
                team_id=team,
                member_id=uuid.UUID(m["id"]),
                name=m["name"],
                email=m["email"],
                capacity=Decimal("1"),
                ramp=Decimal("1"),
                crm_ids=CrmIds(),
                version=1,
            )
            await reactions.on_member_joined(joined, wrap(joined), uow)
        await uow.commit()


async def test_a_target_dispute_pack_links_derivation_ledger_and_rebalance_per_party(stack):
    """Rep 0's target moved by a rebalance: the pack shows its story; rep 1 sees only hashes."""
    goals, client, runtime = stack
    seeded = await seed(goals)
    await set_policy(goals, seeded, mode="auto")
    processor = goals.runtime.consumer._processor
    assert (await processor.process(record_of(wrap(team_shortfalls(goals, seeded))))).status == (
        "applied"
    )
    await learn_team(runtime, goals, seeded)
    team_id = seeded.team["id"]
    rep0, rep1 = (m["id"] for m in seeded.members[:2])
    target = seeded.target_of(rep0)
    rep0_headers = goals.as_rep(rep0, team=team_id)
    rep1_headers = goals.as_rep(rep1, team=team_id)
    manager = goals.as_manager(team_id, sub=seeded.team["manager_id"])
    opened = await client.post(
        "/v1/disputes",
        json={
            "team_id": team_id,
            "kind": "target",
            "subject": "My target was moved while I was on a deal",
            "parties": [rep0, rep1],
            "related": {"target_id": target["id"]},
        },
        headers=rep0_headers,
    )
    assert opened.status_code == 201, opened.text
    url = f"/v1/disputes/{opened.json()['id']}/evidence"

    pack = (await client.get(url, headers=manager)).json()
    assert pack["verified"] is True and pack["unavailable"] == []
    assert recompute(pack["entries"]) is None
    assert pack["head"] == pack["entries"][-1]["hash"]
    kinds = [e["kind"] for e in pack["entries"]]
    assert kinds[0] == "derivation" and "ledger_row" in kinds and "rebalance_snapshot" in kinds
    assert pack["entries"][0]["data"]["derivation"]["method"] == "equal"
    reasons = [e["data"]["reason"] for e in pack["entries"] if e["kind"] == "ledger_row"]
    assert reasons[-1] == "rebalance"
    (snapshot,) = [e for e in pack["entries"] if e["kind"] == "rebalance_snapshot"]
    assert snapshot["data"]["status"] == "applied"
    assert snapshot["data"]["figures"]["status"] == "struggling"
    assert snapshot["data"]["transfers"] and all(
        rep0 == t["from_member_id"] for t in snapshot["data"]["transfers"]
    )

    # The rep whose target it is sees it all; the other party sees the same chain as hashes.
    mine = (await client.get(url, headers=rep0_headers)).json()
    assert [e["redacted"] for e in mine["entries"]] == [False] * len(kinds)
    theirs = (await client.get(url, headers=rep1_headers)).json()
    assert all(e["redacted"] and e["data"] is None for e in theirs["entries"])
    assert theirs["head"] == pack["head"] and recompute(theirs["entries"]) is None
    # Read again, nothing new: the chain is the same, not re-recorded.
    assert (await client.get(url, headers=manager)).json()["entries"] == pack["entries"]
    stranger = goals.as_rep(seeded.members[2]["id"], team=team_id)
    assert (await client.get(url, headers=stranger)).status_code == 404

    # Someone edits the stored ledger row: the service and any client both see where it broke.
    table = sa.table("dispute_evidence", sa.column("seq"), sa.column("body"))
    async with runtime.engine.begin() as conn:
        body = (await conn.execute(sa.select(table.c.body).where(table.c.seq == 2))).scalar_one()
        forged = body.replace('"reason":"', '"reason":"forged-', 1)
        assert forged != body
        await conn.execute(sa.update(table).where(table.c.seq == 2).values(body=forged))
    tampered = (await client.get(url, headers=manager)).json()
    assert tampered["verified"] is False and tampered["broken_at"] == 2
    assert recompute(tampered["entries"]) == 2


async def test_a_dispute_about_neither_target_nor_sale_has_no_pack(stack):
    """A conduct dispute answers 409 (a problem document); nothing is recorded."""
    goals, client, runtime = stack
    seeded = await seed(goals)
    await learn_team(runtime, goals, seeded)
    team_id, rep0, rep1 = seeded.team["id"], seeded.members[0]["id"], seeded.members[1]["id"]
    headers = goals.as_rep(rep0, team=team_id)
    opened = await client.post(
        "/v1/disputes",
        json={
            "team_id": team_id,
            "kind": "conduct",
            "subject": "No-shows",
            "parties": [rep0, rep1],
        },
        headers=headers,
    )
    response = await client.get(f"/v1/disputes/{opened.json()['id']}/evidence", headers=headers)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_goals_unreachable_leaves_the_pack_as_it_was_and_says_so(stack):
    """A source that does not answer is named in `unavailable`; no 5xx, nothing recorded."""
    goals, client, runtime = stack
    seeded = await seed(goals)
    await learn_team(runtime, goals, seeded)
    team_id, rep0 = seeded.team["id"], seeded.members[0]["id"]
    headers = goals.as_rep(rep0, team=team_id)
    opened = await client.post(
        "/v1/disputes",
        json={
            "team_id": team_id,
            "kind": "target",
            "subject": "Too high",
            "parties": [rep0],
            "related": {"target_id": seeded.target_of(rep0)["id"]},
        },
        headers=headers,
    )
    runtime.evidence_sources = EvidenceSources(
        goals_url="http://127.0.0.1:9", performance_url="http://127.0.0.1:9", secret="x" * 40
    )
    response = await client.get(f"/v1/disputes/{opened.json()['id']}/evidence", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["unavailable"] == ["goals"] and response.json()["entries"] == []
