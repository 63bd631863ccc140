"""Each service's alembic migrations build exactly the schema its models describe."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import UtcDateTime
from shared.migrate import upgrade
from shared.money import MAX_MINOR

pytestmark = pytest.mark.integration
SERVICES = ("goals", "performance", "feedback")

# Search structures the models cannot describe: FTS5 shadow tables and the generated tsvector.
NOT_IN_MODELS = ("intel_search", "ix_intel_item_search")


def _include(obj, name, type_, reflected, compare_to) -> bool:
    if type_ in ("table", "index") and name and name.startswith(NOT_IN_MODELS):
        return False
    if type_ == "table" and name == "alembic_version":
        return False
    return not (type_ == "column" and name == "search" and reflected and compare_to is None)


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_produce_exactly_the_models_schema(service, db_url):
    await asyncio.to_thread(upgrade, service, db_url)
    metadata = importlib.import_module(f"services.{service}.adapters.orm").metadata
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn: sa.Connection) -> list:
                context = MigrationContext.configure(
                    sync_conn, opts={"include_object": _include, "compare_type": True}
                )
                return compare_metadata(context, metadata)

            differences = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_run_twice_without_changes(service, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'twice.db'}"
    await asyncio.to_thread(upgrade, service, url)
    await asyncio.to_thread(upgrade, service, url)  # already at head: a no-op, not an error


async def test_refused_deliveries_stored_whole_become_bounded_audit_records(db_url):
    await asyncio.to_thread(upgrade, "performance", db_url, "941d15dbe966")
    body = b"x" * 100_000
    refused = {"org_id": uuid.uuid4(), "source": "generic", "headers": {"authorization": "Basic x", "webhook-id": "m"},
               "body": body, "verified": False, "outcome": "rejected", "error": "bad signature"}  # fmt: skip
    kept = {**refused, "verified": True, "outcome": "processed", "error": None}
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            for row in (refused, kept):
                await conn.execute(
                    sa.text(
                        "INSERT INTO webhook_delivery (id, org_id, source, received_at, headers, body,"
                        " verified, outcome, error) VALUES (:id, :org_id, :source, :at, :headers,"
                        " :body, :verified, :outcome, :error)"
                    ).bindparams(
                        sa.bindparam("headers", type_=sa.JSON),
                        sa.bindparam("org_id", type_=sa.Uuid),
                        sa.bindparam("id", type_=sa.Uuid),
                    ),
                    {**row, "id": uuid.uuid4(), "at": datetime.now(UTC)},
                )
        await asyncio.to_thread(upgrade, "performance", db_url)
        async with engine.connect() as conn:
            deliveries = (
                await conn.execute(sa.text("SELECT verified FROM webhook_delivery"))
            ).all()
            [record] = (
                (await conn.execute(sa.text("SELECT * FROM webhook_rejection"))).mappings().all()
            )
    finally:
        await engine.dispose()
    assert [bool(d.verified) for d in deliveries] == [True]
    assert (record["body_size"], len(record["body_head"])) == (100_000, 2048)
    assert record["body_sha256"] == hashlib.sha256(body).hexdigest()
    headers = record["headers"]
    assert "authorization" not in (json.loads(headers) if isinstance(headers, str) else headers)


# (service, revision before 64-bit money, table, a row at the 32-bit maximum, its money column)
_MONEY_ROWS = [
    (
        "goals",
        "32c5a496f9d7",
        "member_standing",
        {"status": "on_track", "achieved_minor": 2_147_483_647, "projected_minor": 0},
        "achieved_minor",
    ),
    (
        "performance",
        "941d15dbe966",
        "sale_credit",
        {"percent": "100", "credited_minor": 2_147_483_647},
        "credited_minor",
    ),
]


@pytest.mark.parametrize(("service", "before", "table", "row", "column"), _MONEY_ROWS)
async def test_the_money_migration_keeps_rows_and_then_holds_64_bit_amounts(
    service, before, table, row, column, db_url
):
    """Upgrade a database holding a row to head, then store the maximum in the same column."""
    await asyncio.to_thread(upgrade, service, db_url, before)
    metadata = importlib.import_module(f"services.{service}.adapters.orm").metadata
    t = metadata.tables[table]
    values = {c.name: uuid.uuid4() for c in t.columns if isinstance(c.type, sa.Uuid)}
    values |= {c.name: datetime.now(UTC) for c in t.columns if isinstance(c.type, UtcDateTime)}
    values |= row
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(t.insert().values(**values))
        await asyncio.to_thread(upgrade, service, db_url)
        async with engine.begin() as conn:
            kept = (await conn.execute(sa.select(t.c[column]))).scalar_one()
            await conn.execute(t.update().values({column: MAX_MINOR}))
            widened = (await conn.execute(sa.select(t.c[column]))).scalar_one()
    finally:
        await engine.dispose()
    assert (kept, widened) == (2_147_483_647, MAX_MINOR)
