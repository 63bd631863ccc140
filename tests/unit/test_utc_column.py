"""shared.db.UtcDateTime: aware UTC in and out on SQLite, naive values refused, DDL unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import StatementError

from shared.db import UtcDateTime
from shared.timeutil import UtcInstant

pytestmark = pytest.mark.unit

PARIS_WINTER = timezone(timedelta(hours=1))


def _table() -> tuple[sa.Engine, sa.Table]:
    engine = sa.create_engine("sqlite://")
    table = sa.Table("t", sa.MetaData(), sa.Column("at", UtcDateTime()))
    table.metadata.create_all(engine)
    return engine, table


def test_sqlite_hands_back_an_aware_utc_instant():
    engine, table = _table()
    with engine.begin() as conn:
        conn.execute(table.insert(), {"at": datetime(2026, 1, 2, 10, tzinfo=PARIS_WINTER)})
        (read,) = conn.execute(sa.select(table.c.at)).scalars()
    assert read == datetime(2026, 1, 2, 9, tzinfo=UTC)
    assert read.utcoffset() == timedelta(0)


def test_a_naive_instant_is_refused_before_it_reaches_the_database():
    engine, table = _table()
    with engine.begin() as conn, pytest.raises(StatementError, match="naive datetime"):
        conn.execute(table.insert(), {"at": datetime(2026, 1, 2, 10)})


def test_comparisons_bind_through_the_type():
    engine, table = _table()
    with engine.begin() as conn:
        conn.execute(table.insert(), {"at": datetime(2026, 1, 2, 9, tzinfo=UTC)})
        after = datetime(2026, 1, 2, 9, 30, tzinfo=PARIS_WINTER)  # 08:30 UTC
        assert conn.execute(sa.select(sa.func.count()).where(table.c.at > after)).scalar() == 1


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()])
def test_the_stored_type_is_a_timezone_aware_datetime(dialect):
    assert UtcDateTime().dialect_impl(dialect).impl.timezone is True
    stored = sa.DateTime(timezone=True).compile(dialect=dialect)
    assert UtcDateTime().compile(dialect=dialect) == stored


def test_keyset_cursors_parse_back_to_instants():
    assert UtcDateTime().python_type is datetime


def test_an_api_instant_is_utc_from_the_edge_on():
    from pydantic import TypeAdapter

    instant = TypeAdapter(UtcInstant)
    assert instant.validate_python("2026-01-02T10:00:00+01:00").tzinfo is UTC
    assert instant.validate_python("2026-01-02T09:00:00") == datetime(2026, 1, 2, 9, tzinfo=UTC)
