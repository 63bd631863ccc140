"""Database engines, sessions, naming convention and the plumbing tables every service has."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import declared_attr
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlmodel import Field
from sqlmodel.ext.asyncio.session import AsyncSession

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> sa.MetaData:
    """A MetaData with the project's constraint naming convention."""
    return sa.MetaData(naming_convention=NAMING_CONVENTION)


def minor_units(**kwargs: Any) -> Any:
    """A money field in minor units: 64-bit everywhere (a 32-bit column stops at 21,474,836.47)."""
    return Field(sa_type=sa.BigInteger, **kwargs)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """An instant column: aware UTC in, aware UTC out, on SQLite too; naive values are refused.

    Stored as ``DateTime(timezone=True)``, so the DDL and the migrations are unchanged. SQLite
    keeps no offset and hands values back naive: they were stored in UTC, so UTC is attached.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive instant is ambiguous: a programming error, not something to guess at.
            raise ValueError(f"naive datetime {value.isoformat()} for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_field(**kwargs: Any) -> Any:
    """A table model's instant field, stored as UtcDateTime."""
    return Field(sa_type=UtcDateTime, **kwargs)


def json_field(**kwargs: Any) -> Any:
    """A table model's JSON field."""
    return Field(sa_type=sa.JSON, **kwargs)


class Versioned:
    """Mixin of a table model with a ``version`` column that every UPDATE is conditional on.

    SQLAlchemy writes ``UPDATE ... WHERE id = :id AND version = :loaded`` and raises
    StaleDataError when no row matched, so of two writers that loaded the same version only the
    first commits; the problem handlers turn the loser into 412 (If-Match sent) or 409. Handlers
    still bump ``version`` themselves (generator off), so the ETag stays a plain counter.
    A model whose counter has another name sets ``__version_column__``.
    """

    __version_column__ = "version"

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        column = cls.__table__.c[cls.__version_column__]  # type: ignore[attr-defined]  # once mapped
        return {"version_id_col": column, "version_id_generator": False}


def is_sqlite(url: str) -> bool:
    """Tell whether a database URL points at SQLite."""
    return url.startswith("sqlite")


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    """Build the writer engine: SQLite gets WAL, a busy timeout and a single connection."""
    if not is_sqlite(url):
        return create_async_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True
        )
    # SQLite has one write lock; one shared connection serialises writers in-process instead
    # of letting them fight over the lock (p99 ~1 s -> ~75 ms measured with a bigger pool).
    engine = create_async_engine(
        url,
        poolclass=AsyncAdaptedQueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=60,
        connect_args={"timeout": 30},
    )
    # IMMEDIATE: take the write lock when the transaction starts, under busy_timeout, rather
    # than failing at once when a read transaction tries to upgrade (another process wrote).
    _own_transactions(engine, begin="BEGIN IMMEDIATE", pragmas=_WRITER_PRAGMAS)
    return engine


def create_read_engine(url: str, *, pool_size: int = 4) -> AsyncEngine:
    """SQLite only: read-only connections that WAL lets read while the writer writes."""
    engine = create_async_engine(
        url,
        poolclass=AsyncAdaptedQueuePool,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=30,
        connect_args={"timeout": 30},
    )
    # A read unit of work sees one snapshot across its queries, as it did on the one connection.
    _own_transactions(engine, begin="BEGIN", pragmas=(*_WRITER_PRAGMAS, "query_only=ON"))
    return engine


_WRITER_PRAGMAS = (
    "journal_mode=WAL",
    "busy_timeout=30000",
    "synchronous=NORMAL",
    "foreign_keys=ON",
)


def _own_transactions(engine: AsyncEngine, *, begin: str, pragmas: tuple[str, ...]) -> None:
    """Let SQLAlchemy, not pysqlite, start transactions: pysqlite's own handling breaks
    SAVEPOINT (the consumer isolates each record in one) and never begins before a SELECT."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@dataclass(frozen=True)
class PlumbingTables:
    """The outbox, inbox, dead-letter and idempotency tables of one service's database."""

    outbox: sa.Table
    inbox: sa.Table
    dead_letter: sa.Table
    idempotency: sa.Table


def define_plumbing_tables(metadata: sa.MetaData) -> PlumbingTables:
    """Add the messaging plumbing tables to a service's metadata."""
    tz = UtcDateTime()
    outbox = sa.Table(
        "outbox",
        metadata,
        # Debezium outbox-router compatible columns, so PostgreSQL can later be tailed by CDC.
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("aggregatetype", sa.String(100), nullable=False),
        sa.Column("aggregateid", sa.String(100), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("partition_key", sa.String(100), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True, index=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("created_at", tz, nullable=False),
        sa.Column("published_at", tz, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Index("ix_outbox_unpublished", "published_at", "created_at"),
    )
    inbox = sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("event_id", sa.String(100), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", tz, nullable=False),
    )
    dead_letter = sa.Table(
        "dead_letter",
        metadata,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True, index=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=True),
        sa.Column("value", sa.LargeBinary, nullable=True),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("error_type", sa.String(200), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("failed_at", tz, nullable=False),
        sa.Column("replayed_at", tz, nullable=True),
    )
    idempotency = sa.Table(
        "idempotency_key",
        metadata,
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("scope", sa.String(300), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("response_headers", sa.JSON, nullable=True),
        sa.Column("response_body", sa.LargeBinary, nullable=True),
        sa.Column("created_at", tz, nullable=False),
    )
    return PlumbingTables(
        outbox=outbox, inbox=inbox, dead_letter=dead_letter, idempotency=idempotency
    )
