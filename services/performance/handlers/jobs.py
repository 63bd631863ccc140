"""Periodic jobs: pace as time passes (a rep with no sales falls behind), and period close.

Both are safe with several replicas: shortfall episodes and period closes have unique keys.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from services.performance.handlers.attainment import close_period
from services.performance.handlers.evaluation import evaluate_team_period
from services.performance.handlers.webhooks import purge_rejections

log = logging.getLogger(__name__)


async def evaluate_open_periods(runtime: Any) -> int:
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


async def purge_webhook_rejections(runtime: Any) -> int:
    """Forget refused-delivery audit records past their retention."""
    retention = timedelta(hours=runtime.settings.webhook_rejection_retention_hours)
    return await purge_rejections(uow=runtime.uow(), now=runtime.clock(), retention=retention)


async def close_ended_periods(runtime: Any) -> int:
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
