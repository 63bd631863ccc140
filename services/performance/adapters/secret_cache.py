"""Webhook secrets of an (org, source), opened once and kept for a short while.

Every delivery needs them, and reading and opening them per request cost more than the rest of
intake together. Validity (``valid_until``) is still judged per delivery against its own clock;
a rotation in this process drops the entry at once, other replicas see it within the TTL.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.performance.adapters.unit_of_work import PerformanceUnitOfWork


@dataclass(frozen=True)
class _Secret:
    plaintext: str
    valid_until: datetime | None


class SecretCache:
    """Active secrets by (org, source), reloaded after ``ttl_s``."""

    def __init__(self, uow_factory: Callable[[], PerformanceUnitOfWork], *, ttl_s: float) -> None:
        self._uow_factory = uow_factory
        self._ttl_s = ttl_s
        self._entries: dict[tuple[uuid.UUID, str], tuple[float, list[_Secret]]] = {}

    async def active(self, *, org_id: uuid.UUID, source: str, now: datetime) -> list[str]:
        """The plaintext secrets valid at ``now``, newest first."""
        key = (org_id, source)
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] > self._ttl_s:
            entry = (time.monotonic(), await self._load(org_id, source, now))
            if self._ttl_s > 0:
                self._entries[key] = entry
        at = now
        return [s.plaintext for s in entry[1] if s.valid_until is None or s.valid_until > at]

    def invalidate(self, *, org_id: uuid.UUID, source: str) -> None:
        """Forget an entry (after a rotation), so the next delivery reads the new secrets."""
        self._entries.pop((org_id, source), None)

    async def _load(self, org_id: uuid.UUID, source: str, now: datetime) -> list[_Secret]:
        async with self._uow_factory() as uow:
            rows = await uow.repo.active_secrets(org_id=org_id, source=source, now=now)
            return [_Secret(uow.secrets.open(r.secret), r.valid_until) for r in rows]
