"""Periodic jobs of the feedback service."""

from __future__ import annotations

from services.feedback.handlers.disputes import close_expired_disputes
from shared.runtime import ServiceRuntime


async def close_expired(runtime: ServiceRuntime) -> int:
    """Close decided disputes whose response window has run out."""
    hours = getattr(runtime.settings, "dispute_response_window_hours", 168.0)
    return await close_expired_disputes(uow_factory=runtime.uow, window_hours=hours)
