"""Periodic jobs: pace as time passes (a rep with no sales falls behind), and period close.

Both are safe with several replicas: shortfall episodes and period closes have unique keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from services.performance.config import Settings
from services.performance.handlers.attainment import close_period
from services.performance.handlers.evaluation import evaluate_team_period
from services.performance.handlers.webhooks import purge_rejections
from shared.timeutil import utcnow

log = logging.getLogger(__name__)


class JobRuntime(Protocol):
    """What the jobs use of the performance runtime."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    def uow(self, *, read_only: bool = False) -> PerformanceUnitOfWork: ...


async def evaluate_open_periods(runtime: JobRuntime) -> int:
    """Evaluate every team in every period open now; returns how many were evaluated."""
    now = runtime.clock()
    async with runtime.uow() as uow:
        pairs = await uow.repo.team_periods_between(open_at=now)
    for org_id, team_id, period_id in pairs:
        try:
            async with runtime.uow() as uow:
                await evaluate_team_period(
                    uow, org_id=org_id, team_id=team_id, period_id=period_id, as_of=now
                )
                await uow.commit()
        except Exception:
            log.exception("evaluation of team %s period %s failed", team_id, period_id)
    return len(pairs)


async def evaluate_settled(runtime: JobRuntime) -> int:
    """Evaluate each (team, period) whose sales went quiet, or waited too long; returns how many."""
    settings = runtime.settings
    wall = utcnow()
    async with runtime.uow() as uow:
        due = await uow.repo.settled_evaluations(
            quiet_since=wall - timedelta(seconds=settings.evaluation_quiet_s),
            waiting_since=wall - timedelta(seconds=settings.evaluation_max_delay_s),
            limit=settings.evaluation_batch,
        )
    evaluated = 0
    for row in due:
        try:
            async with runtime.uow() as uow:
                if not await uow.repo.take_due(row):
                    continue  # a sale touched it since (it waits for quiet again) or a replica took it
                await evaluate_team_period(
                    uow,
                    org_id=row.org_id,
                    team_id=row.team_id,
                    period_id=row.period_id,
                    as_of=runtime.clock(),
                )
                await uow.commit()
                evaluated += 1
        except Exception:
            log.exception("evaluation of team %s period %s failed", row.team_id, row.period_id)
    return evaluated


async def purge_webhook_rejections(runtime: JobRuntime) -> int:
    """Forget refused-delivery audit records past their retention."""
    retention = timedelta(hours=runtime.settings.webhook_rejection_retention_hours)
    return await purge_rejections(uow=runtime.uow(), now=runtime.clock(), retention=retention)


async def close_ended_periods(runtime: JobRuntime) -> int:
    """Publish final results of every (team, period) that ended and was not closed yet."""
    now = runtime.clock()
    async with runtime.uow() as uow:
        pairs = await uow.repo.team_periods_between(ended_by=now)
    closed = 0
    for org_id, team_id, period_id in pairs:
        async with runtime.uow() as uow:
            if await close_period(
                uow, org_id=org_id, team_id=team_id, period_id=period_id, now=now
            ):
                closed += 1
            await uow.commit()
    return closed
