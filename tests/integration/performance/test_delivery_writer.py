"""The group-commit writer on a real SQLite file: batching, isolation of a bad row, shutdown."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.performance.adapters.delivery_writer import DeliveryWriter
from shared.db import UtcDateTime, create_engine

_META = sa.MetaData()
_ROWS = sa.Table("rows", _META, sa.Column("id", sa.Integer, primary_key=True))


@pytest.fixture
async def engine(tmp_path: Path):
    """A fresh SQLite engine with one table of integer ids."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(_META.create_all)
    yield engine
    await engine.dispose()


async def _stored(engine) -> list[int]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.select(_ROWS.c.id).order_by(_ROWS.c.id))).scalars())


async def test_concurrent_stores_share_one_commit_and_wake_once_per_flush(engine):
    """Ten stores within the wait are one flush: one wake-up, every row committed on return."""
    wakes: list[int] = []
    writer = DeliveryWriter(
        engine=engine, table=_ROWS, max_rows=64, max_wait_s=0.05, on_commit=lambda: wakes.append(1)
    )
    await asyncio.gather(*(writer.store({"id": i}) for i in range(10)))
    assert await _stored(engine) == list(range(10))
    assert wakes == [1]
    await writer.close()


async def test_a_flush_is_cut_at_max_rows(engine):
    """Seven rows with at most three per flush take three commits."""
    wakes: list[int] = []
    writer = DeliveryWriter(
        engine=engine, table=_ROWS, max_rows=3, max_wait_s=0.05, on_commit=lambda: wakes.append(1)
    )
    await asyncio.gather(*(writer.store({"id": i}) for i in range(7)))
    assert len(wakes) == 3
    await writer.close()


async def test_a_row_that_cannot_be_stored_fails_only_its_own_request(engine):
    """A duplicate id in the batch: its store raises, the others are committed."""
    writer = DeliveryWriter(engine=engine, table=_ROWS, max_rows=64, max_wait_s=0.05)
    await writer.store({"id": 1})
    results = await asyncio.gather(
        *(writer.store({"id": i}) for i in (2, 1, 3)), return_exceptions=True
    )
    assert [isinstance(r, sa.exc.IntegrityError) for r in results] == [False, True, False]
    assert await _stored(engine) == [1, 2, 3]
    await writer.close()


async def test_close_flushes_what_is_queued(engine):
    """Stores in flight when the writer closes are committed, not dropped."""
    writer = DeliveryWriter(engine=engine, table=_ROWS, max_rows=64, max_wait_s=0.05)
    pending = [asyncio.create_task(writer.store({"id": i})) for i in range(5)]
    await asyncio.sleep(0)  # queued, not yet flushed
    await writer.close()
    await asyncio.gather(*pending)
    assert await _stored(engine) == list(range(5))


def test_arrival_stamps_strictly_increase_within_one_clock_tick():
    """Stamps taken back to back never repeat, so same-tick deliveries keep their order."""
    writer = DeliveryWriter(engine=None, table=_ROWS, max_rows=1, max_wait_s=0)
    stamps = [writer.next_arrival() for _ in range(1000)]
    assert stamps == sorted(set(stamps))


_TYPED = sa.Table(
    "typed",
    _META,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("done", sa.Boolean, nullable=False),
    sa.Column("note", sa.String, nullable=True),
)


async def test_typed_rows_read_back_as_sqlalchemy_would_store_them(engine):
    """The SQLite flush binds through the columns' own types: what is read back is what was given."""
    rows = [
        {
            "id": uuid.uuid4(),
            "at": datetime(2026, 12, 2, 5, 0, i, tzinfo=UTC),
            "headers": {"webhook-id": f"msg_{i}", "n": i},
            "body": bytes([i, 0, 255]),
            "done": i % 2 == 0,
            "note": None if i else "first",
        }
        for i in range(3)
    ]
    writer = DeliveryWriter(engine=engine, table=_TYPED, max_rows=64, max_wait_s=0.05)
    await asyncio.gather(*(writer.store(row) for row in rows))
    async with engine.connect() as conn:
        stored = (await conn.execute(sa.select(_TYPED).order_by(_TYPED.c.at))).mappings().all()
    assert [dict(r) for r in stored] == rows
    assert writer.commits == 1
    await writer.close()
