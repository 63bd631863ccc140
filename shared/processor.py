"""Event processor: a batch in one transaction, a SAVEPOINT per record, a poison record alone."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from shared.dead_letters import DeadLetterSink, Record
from shared.events import Envelope, Event, UnknownEventType, from_kafka
from shared.metrics import ServiceMetrics
from shared.tracing import child_traceparent, traceparent_var
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[Any, Envelope, Any], Awaitable[None]]
"""A reaction: (event, envelope, uow) -> None; it must not commit (the runner does)."""
ManyHandler = Callable[[Sequence[tuple[Any, Envelope]], Any], Awaitable[None]]
"""The same reaction to several facts of one type at once, in their order (bulk statements)."""


def with_many(many: ManyHandler) -> Callable[[Handler], Handler]:
    """Give a reaction a bulk form, used for runs of its facts in a batch without failures."""

    def attach(handler: Handler) -> Handler:
        handler.many = many  # type: ignore[attr-defined]  # the bulk form rides on the function object
        return handler

    return attach


@dataclass(frozen=True)
class Outcome:
    """What happened to one record."""

    status: Literal["applied", "duplicate", "ignored", "dead_lettered"]
    error: str | None = None


class _LostRace(Exception):
    """Another consumer committed some of these events first."""


class InfrastructureUnavailable(Exception):
    """The database failed, not the record: consuming pauses and the record comes again."""


def is_infrastructure_error(exc: BaseException) -> bool:
    """Lost connections, unreachable servers, deadlocks: failures no record is to blame for."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError)


@dataclass(frozen=True)
class _Work:
    """A decoded record waiting for its handler; index is its place in the batch."""

    index: int
    record: Record
    envelope: Envelope
    event: Event
    handler: Handler

    @property
    def key(self) -> tuple[str, str]:
        return (self.envelope.source, self.envelope.id)

    @property
    def partition(self) -> tuple[str, int]:
        return (self.record.topic, self.record.partition)


@dataclass
class _Pass:
    """The result of one transaction over part of a batch."""

    settled: dict[int, Outcome]
    failed: _Work | None
    rest: list[_Work]


class EventProcessor:
    """Applies records exactly once: decode, inbox, handler, commit; DLQ after retries."""

    def __init__(
        self,
        *,
        name: str,
        handlers: Mapping[type[Event], Handler],
        uow_factory: Callable[[], UnitOfWork],
        dead_letters: DeadLetterSink,
        metrics: ServiceMetrics,
        max_attempts: int = 4,
        backoff_s: float = 0.2,
        transaction_budget_s: float = 0.05,
    ) -> None:
        self.name = name
        self._handlers = {cls.TYPE: (cls, handler) for cls, handler in handlers.items()}
        self._uow_factory = uow_factory
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._budget_s = transaction_budget_s

    async def process(self, record: Record) -> Outcome:
        """Process one record; never raises for bad data (those go to the dead-letter sink)."""
        return (await self.process_batch([record]))[0][1]

    async def process_batch(
        self, records: Sequence[Record], *, stopping: Callable[[], bool] = lambda: False
    ) -> list[tuple[Record, Outcome]]:
        """Apply records in few transactions; return the settled ones, a prefix per partition.

        A record whose handler fails is rolled back alone (SAVEPOINT); the rest of its partition
        waits until it is retried alone or dead-lettered, so one team's events stay in order.
        """
        settled: dict[int, Outcome] = {}
        todo: list[_Work] = []
        for index, record in enumerate(records):
            decoded = await self._decode(index, record)
            if isinstance(decoded, Outcome):
                settled[index] = decoded
            else:
                todo.append(decoded)
        while todo and not stopping():
            done = await self._transaction_with_retries(todo)
            settled.update(done.settled)
            if done.failed is not None:
                settled[done.failed.index] = await self._apply_alone(done.failed)
            todo = done.rest
        return _prefix_per_partition(records, settled)

    async def _decode(self, index: int, record: Record) -> _Work | Outcome:
        try:
            envelope = from_kafka(key=record.key, value=record.value, headers=list(record.headers))
        except ValueError as exc:
            return await self._dead_letter(record, exc)
        entry = self._handlers.get(envelope.type)
        if entry is None:
            return await self._unhandled(record, envelope)
        cls, handler = entry
        try:
            event = cls.model_validate(envelope.data)
        except Exception as exc:
            return await self._dead_letter(record, exc)
        return _Work(index, record, envelope, event, handler)

    async def _unhandled(self, record: Record, envelope: Envelope) -> Outcome:
        try:
            envelope.event()
        except UnknownEventType:
            return Outcome("ignored")  # facts this consumer does not know are not its business
        except Exception as exc:  # a known fact in an unreadable schema version
            return await self._dead_letter(record, exc)
        return Outcome("ignored")

    async def _transaction_with_retries(self, todo: list[_Work]) -> _Pass:
        for attempt in range(1, self._max_attempts + 1):
            try:
                fast = await self._fast_transaction(todo)
                # A handler failed: nothing of that try was kept; find the culprit record by record.
                return fast if fast is not None else await self._transaction(todo)
            except _LostRace as exc:
                log.info("consumer %s lost an inbox race, retrying: %s", self.name, exc)
                continue
            except Exception as exc:
                if not is_infrastructure_error(exc):
                    # Failing outside every savepoint (at commit, say): find the culprit alone.
                    log.warning("batch transaction failed, splitting it: %s", exc)
                    return _Pass({}, todo[0], todo[1:])
                if attempt == self._max_attempts:
                    # Not poison: the database is away. Stop here; the batch is redelivered.
                    raise InfrastructureUnavailable(str(exc)) from exc
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
        raise InfrastructureUnavailable("the batch kept losing inbox races")

    async def _fast_transaction(self, todo: list[_Work]) -> _Pass | None:
        """One transaction without savepoints, runs of a type in bulk; None if a handler failed."""
        deadline = time.monotonic() + self._budget_s
        settled: dict[int, Outcome] = {}
        fresh: list[_Work] = []
        async with self._uow_factory() as uow:
            seen = await uow.processed(consumer=self.name, keys=[w.key for w in todo])
            for work in todo:
                if work.key in seen:
                    settled[work.index] = Outcome("duplicate")
                    continue
                seen.add(work.key)  # the same event twice in one batch
                fresh.append(work)
            applied: list[_Work] = []
            rest: list[_Work] = []
            for run in _runs(fresh):
                if rest or (applied and time.monotonic() > deadline):
                    rest.extend(run)  # the next slice: the writer is held for a bounded time
                    continue
                try:
                    await _apply_run(uow, run)
                except Exception as exc:
                    if is_infrastructure_error(exc):
                        raise
                    log.info(
                        "consumer %s: a record of the batch failed, isolating it: %s",
                        self.name,
                        exc,
                    )
                    return None
                applied.extend(run)
                settled.update((w.index, Outcome("applied")) for w in run)
            claimed = await uow.record_inbox_many(
                consumer=self.name, events=[w.envelope for w in applied]
            )
            if len(claimed) != len(applied):
                raise _LostRace(f"{len(applied) - len(claimed)} events were applied elsewhere")
            await uow.commit()
        self._count(settled, applied)
        return _Pass(settled, None, rest)

    async def _transaction(self, todo: list[_Work]) -> _Pass:
        """One transaction: skip what the inbox knows, one savepoint per record, one commit."""
        deadline = time.monotonic() + self._budget_s
        settled: dict[int, Outcome] = {}
        failed: _Work | None = None
        rest: list[_Work] = []
        blocked: set[tuple[str, int]] = set()
        applied: list[_Work] = []
        async with self._uow_factory() as uow:
            seen = await uow.processed(consumer=self.name, keys=[w.key for w in todo])
            for work in todo:
                over_budget = (applied or failed) and time.monotonic() > deadline
                if work.partition in blocked or over_budget:
                    rest.append(work)  # after a failure in its partition, or next slice
                    continue
                if work.key in seen:
                    settled[work.index] = Outcome("duplicate")
                    continue
                try:
                    await self._apply(uow, work, claim=False)
                except Exception as exc:
                    if is_infrastructure_error(exc):
                        raise
                    blocked.add(work.partition)
                    if failed is None:
                        failed = work
                    else:
                        rest.append(work)
                    continue
                seen.add(work.key)  # the same event twice in one batch
                settled[work.index] = Outcome("applied")
                applied.append(work)
            # One statement claims every applied event; a claim lost to a concurrent consumer
            # (a rebalance on PostgreSQL) undoes the whole transaction, and the retry skips it.
            claimed = await uow.record_inbox_many(
                consumer=self.name, events=[w.envelope for w in applied]
            )
            if len(claimed) != len(applied):
                raise _LostRace(f"{len(applied) - len(claimed)} events were applied elsewhere")
            await uow.commit()
        self._count(settled, applied)
        return _Pass(settled, failed, rest)

    async def _apply(self, uow: UnitOfWork, work: _Work, *, claim: bool = True) -> bool:
        """The handler in a savepoint, with its inbox row when claim; False if already had."""
        token = traceparent_var.set(child_traceparent(work.envelope.traceparent))
        try:
            async with uow.savepoint():
                fresh = not claim or await uow.record_inbox(
                    consumer=self.name,
                    source=work.envelope.source,
                    event_id=work.envelope.id,
                    event_type=work.envelope.type,
                )
                if fresh:
                    await work.handler(work.event, work.envelope, uow)
            return fresh
        finally:
            traceparent_var.reset(token)

    async def _apply_alone(self, work: _Work) -> Outcome:
        """Retry a record that failed in a batch on its own, then dead-letter it."""
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with self._uow_factory() as uow:
                    fresh = await self._apply(uow, work)
                    await uow.commit()
                outcome = Outcome("applied" if fresh else "duplicate")
                self._count({work.index: outcome}, [work] if fresh else [])
                return outcome
            except Exception as exc:
                if attempt == self._max_attempts:
                    if is_infrastructure_error(exc):
                        raise InfrastructureUnavailable(str(exc)) from exc
                    log.exception("handler failed %d times for %s", attempt, work.envelope.id)
                    return await self._dead_letter(work.record, exc)
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _count(self, settled: Mapping[int, Outcome], applied: list[_Work]) -> None:
        """Count only after the commit: a retried transaction must not count twice."""
        duplicates = sum(1 for o in settled.values() if o.status == "duplicate")
        if duplicates:
            self._metrics.events_duplicate.labels(consumer=self.name).inc(duplicates)
        for work in applied:
            self._metrics.events_consumed.labels(consumer=self.name, type=work.envelope.type).inc()
        if applied:
            self._metrics.consumer_transactions.labels(consumer=self.name).inc()

    async def _dead_letter(self, record: Record, error: BaseException) -> Outcome:
        await self._dead_letters.send(record, error=error, consumer=self.name)
        self._metrics.events_dead_lettered.labels(consumer=self.name).inc()
        return Outcome("dead_lettered", error=f"{type(error).__name__}: {error}")


def _runs(works: Sequence[_Work]) -> list[list[_Work]]:
    """Consecutive works of one handler with a bulk form grouped; the others alone."""
    runs: list[list[_Work]] = []
    for work in works:
        last = runs[-1] if runs else None
        if last and last[0].handler is work.handler and hasattr(work.handler, "many"):
            last.append(work)
        else:
            runs.append([work])
    return runs


async def _apply_run(uow: UnitOfWork, run: list[_Work]) -> None:
    """A run of works: one bulk call, or the handler of a single one, under its trace."""
    first = run[0]
    token = traceparent_var.set(child_traceparent(first.envelope.traceparent))
    try:
        if len(run) > 1:
            await first.handler.many([(w.event, w.envelope) for w in run], uow)  # type: ignore[attr-defined]  # set by with_many
        else:
            await first.handler(first.event, first.envelope, uow)
    finally:
        traceparent_var.reset(token)


def _prefix_per_partition(
    records: Sequence[Record], settled: Mapping[int, Outcome]
) -> list[tuple[Record, Outcome]]:
    """Settled records up to each partition's first unsettled one (only that much is done)."""
    stuck: set[tuple[str, int]] = set()
    done = []
    for index, record in enumerate(records):
        partition = (record.topic, record.partition)
        if partition in stuck:
            continue
        if index not in settled:
            stuck.add(partition)
            continue
        done.append((record, settled[index]))
    return done
