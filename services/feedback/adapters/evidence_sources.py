"""Where a dispute's evidence comes from: goals' and performance's internal reads over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx

from shared.internal import PREFIX, service_token

Item = dict[str, Any]


class SourceUnavailable(Exception):
    """The owning service did not answer (down, timed out, or refused our credentials)."""


@dataclass(frozen=True, kw_only=True)
class EvidenceSources:
    """Reads the items of a target (goals) or a sale (performance) with a service token."""

    goals_url: str
    performance_url: str
    secret: str | None
    timeout_s: float = 5.0
    # Tests reach in-process apps through their ASGI transports, by service name.
    transports: Mapping[str, httpx.AsyncBaseTransport] = field(default_factory=dict)

    async def target(self, *, org: UUID, target_id: UUID) -> list[Item] | None:
        """Goals' items for a target (None: goals knows no such target in the org)."""
        return await self._get("goals", self.goals_url, f"/targets/{target_id}/evidence", org)

    async def sale(self, *, org: UUID, sale_id: UUID) -> list[Item] | None:
        """Performance's items for a sale (None: no such sale in the org)."""
        path = f"/sales/{sale_id}/evidence"
        return await self._get("performance", self.performance_url, path, org)

    async def _get(self, service: str, base: str, path: str, org: UUID) -> list[Item] | None:
        if self.secret is None:
            raise SourceUnavailable(f"{service}: no usable ATTAIN_SERVICE_SECRET")
        token = service_token(secret=self.secret, caller="feedback", service=service, org=org)
        try:
            async with httpx.AsyncClient(
                base_url=base, timeout=self.timeout_s, transport=self.transports.get(service)
            ) as client:
                response = await client.get(
                    PREFIX + path, headers={"authorization": f"Bearer {token}"}
                )
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"{service}: {type(exc).__name__}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise SourceUnavailable(f"{service}: HTTP {response.status_code}")
        items: list[Item] = response.json()["items"]
        return items


def sources_from(settings: Any) -> EvidenceSources:
    """The evidence sources the feedback settings describe."""
    return EvidenceSources(
        goals_url=settings.goals_url,
        performance_url=settings.performance_url,
        secret=settings.service_secret.get_secret_value()
        if settings.service_secret_usable()
        else None,
        timeout_s=settings.evidence_timeout_s,
    )
