"""The pieces one service process runs: database, unit of work, relay, consumer, periodic jobs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Self, TypeVar

import sqlalchemy as sa

from shared.auth import TokenVerifier
from shared.config import ServiceSettings
from shared.consumer import ConsumerRunner, EventProcessor, Handler, KafkaDeadLetters
from shared.db import PlumbingTables, create_engine, create_read_engine, is_sqlite, session_factory
from shared.events import Event, dlq_topic, topic_for
from shared.idempotency import purge_idempotency_keys
from shared.kafka import ensure_topics
from shared.metrics import ServiceMetrics
from shared.outbox import OutboxRelay
from shared.timeutil import utcnow
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

#: The service's unit of work; covariant, so shared code can take any service's runtime.
U = TypeVar("U", bound=UnitOfWork, covariant=True)
#: What a periodic job needs of the runtime (it, or a Protocol of the parts the job uses).
R = TypeVar("R", contravariant=True)


@dataclass(frozen=True)
class PeriodicJob(Generic[R]):
    """A job run every interval; it must be safe when several replicas run it."""

    name: str
    interval_s: float
    run: Callable[[R], Awaitable[Any]]


async def _purge_idempotency_keys(runtime: ServiceRuntime[UnitOfWork]) -> Any:
    return await purge_idempotency_keys(runtime.engine, runtime.plumbing)


_PURGE_IDEMPOTENCY_KEYS = PeriodicJob(
    name="purge-idempotency-keys", interval_s=3600, run=_purge_idempotency_keys
)


class ServiceRuntime(Generic[U]):
    """Composition of a service's infrastructure; built once per process by its bootstrap."""

    def __init__(
        self,
        *,
        settings: ServiceSettings,
        metadata: sa.MetaData,
        plumbing: PlumbingTables,
        uow_class: type[U],
        handlers: Mapping[type[Event], Handler] | None = None,
        jobs: tuple[PeriodicJob[Self], ...] = (),
        uow_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        # Routes read the time through NowDep, so a test can freeze it here.
        self.clock: Callable[[], datetime] = utcnow
        self.metadata = metadata
        self.plumbing = plumbing
        self.engine = create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        # Reads use their own connections on SQLite so they never queue behind the one writer;
        # PostgreSQL's pool already lets them run side by side.
        self.read_engine = (
            create_read_engine(settings.database_url, pool_size=settings.database_read_pool_size)
            if is_sqlite(settings.database_url)
            else self.engine
        )
        self.sessions = session_factory(self.engine)
        self.read_sessions = session_factory(self.read_engine)
        self.metrics = ServiceMetrics(settings.service_name)
        self.verifier = TokenVerifier(settings)
        self.relay = OutboxRelay(
            settings=settings,
            engine=self.engine,
            read_engine=self.read_engine,
            plumbing=plumbing,
            metrics=self.metrics,
        )
        self._uow_class = uow_class
        self._uow_options = dict(uow_options or {})
        self._handlers = dict(handlers or {})
        self._jobs = jobs
        self.dead_letters = KafkaDeadLetters(settings=settings, uow_factory=self.uow)
        self.consumer: ConsumerRunner | None = None
        if self._handlers:
            processor = EventProcessor(
                name=settings.service_name,
                handlers=self._handlers,
                uow_factory=self.uow,
                dead_letters=self.dead_letters,
                metrics=self.metrics,
                max_attempts=settings.consumer_max_attempts,
                backoff_s=settings.consumer_retry_backoff_s,
                transaction_budget_s=settings.consumer_transaction_budget_ms / 1000,
            )
            self.consumer = ConsumerRunner(
                settings=settings, topics=self.consumed_topics(), processor=processor
            )
        self._tasks: list[asyncio.Task[Any]] = []
        self._job_tasks: list[asyncio.Task[Any]] = []
        self.workers_running = False

    def uow(self, *, read_only: bool = False) -> U:
        """A fresh unit of work whose commits wake the relay; read-only ones use the read pool."""
        return self._uow_class(
            self.read_sessions if read_only else self.sessions,
            self.plumbing,
            on_commit=self.relay.wake,
            read_only=read_only,
            **self._uow_options,
        )

    def consumed_topics(self) -> list[str]:
        """Topics the consumer reads: those of the events it handles."""
        return sorted({cls.topic() for cls in self._handlers})

    def topics(self) -> list[str]:
        """Every topic this service touches, with dead-letter topics."""
        own = topic_for(self.settings.service_name)
        consumed = self.consumed_topics()
        return sorted({own, dlq_topic(own), *consumed, *(dlq_topic(t) for t in consumed)})

    async def create_schema(self) -> None:
        """Create tables straight from the models (tests and throwaway runs; prod uses alembic)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(self.metadata.create_all)

    async def start_workers(self: Self) -> None:
        """Create topics, then start the relay, the consumer and the periodic jobs."""
        await ensure_topics(self.settings, self.topics())
        self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        if self.consumer is not None:
            self._tasks.append(asyncio.create_task(self.consumer.run(), name="consumer"))
        jobs: tuple[PeriodicJob[Self], ...] = (*self._jobs, _PURGE_IDEMPOTENCY_KEYS)
        for job in jobs:
            every = _every(job.name, job.interval_s, functools.partial(job.run, self))
            self._job_tasks.append(asyncio.create_task(every, name=f"job-{job.name}"))
        self.workers_running = True

    async def stop(self) -> None:
        """Stop workers (committing consumer offsets) and close the database, within budget."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.shutdown_budget_s

        def left(reserve: float = 0.0) -> float:
            return max(0.1, deadline - loop.time() - reserve)

        # Jobs are idempotent: one cut short rolls back and runs again on the next start.
        await _cancel(self._job_tasks)
        self._job_tasks.clear()
        if self.consumer is not None:
            await self.consumer.stop()
        # Unsent outbox rows stay in the table and go out on the next start: never wait long.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.relay.stop(), left(reserve=1.0))
        # The consumer ends its transaction in hand and commits; what overstays is cancelled
        # (its transaction rolls back, and its records come again: delivery is at least once).
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=left(reserve=0.5))
            await _cancel(pending)
        self._tasks.clear()
        self.workers_running = False
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.dead_letters.close(), left())
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()

    async def readiness(self) -> dict[str, str]:
        """Check the database, the broker and consumer progress; values are 'ok' or a reason."""
        checks: dict[str, str] = {}
        try:
            # The read pool: a backlog holding the writer must not make the service look down.
            await asyncio.wait_for(self._ping_database(), 2)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["broker"] = await _broker_reachable(self.settings.kafka_bootstrap_servers)
        if self.workers_running and self.consumer is not None:
            idle = time.monotonic() - self.consumer.last_progress
            stale = idle > self.settings.consumer_stale_after_s
            checks["consumer"] = f"no progress for {idle:.0f}s" if stale else "ok"
        return checks

    async def _ping_database(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))


async def _every(name: str, interval_s: float, run: Callable[[], Awaitable[object]]) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("periodic job %s failed", name)


async def _cancel(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel tasks and wait until each has ended."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(BaseException):
            await task


async def _broker_reachable(bootstrap: str) -> str:
    """A TCP connect to any bootstrap server, under a short timeout."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host or "localhost", int(port)), 1.5
            )
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return "ok"
        except (OSError, TimeoutError, ValueError):
            continue
    return "unreachable"
