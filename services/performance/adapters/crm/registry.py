"""One protocol for the four CRM adapters, so intake never picks a CRM by name more than once.

Each adapter checks a secret when it is configured, verifies a delivery on its raw bytes, and
turns a verified delivery into deal events (HubSpot reads its deals back through ``DealSource``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

import httpx

from services.performance.adapters.crm import generic, hubspot, pipedrive, salesforce
from services.performance.adapters.crm.base import DealEvent, lower_headers

Source = Literal["generic", "hubspot", "pipedrive", "salesforce"]
SOURCES: tuple[Source, ...] = ("generic", "hubspot", "pipedrive", "salesforce")


@dataclass(frozen=True)
class Delivery:
    """One delivery exactly as it arrived; ``headers`` are lower-cased once."""

    org_id: uuid.UUID
    source: str
    body: bytes
    headers: Mapping[str, str]
    url: str
    api_token: str | None = None
    #: The org's HubSpot stage overrides, when it set any (``PUT /v1/crm-settings/hubspot``).
    hubspot_stages: hubspot.StageMap | None = None


class DealSource(Protocol):
    """Reads a HubSpot deal as it is now."""

    def __call__(self, token: str | None, deal_id: str) -> Awaitable[hubspot.HubSpotDeal]: ...


class CrmAdapter(Protocol):
    """What intake needs of a CRM."""

    def check_secret(self, secret: str) -> None:
        """Raise ValueError for a secret this adapter could never use."""
        ...

    def verify(self, delivery: Delivery, *, secrets: Sequence[str], now: datetime) -> None:
        """Raise WebhookRejected (or MalformedWebhook) unless the delivery is authentic."""
        ...

    async def events(self, delivery: Delivery, *, deals: DealSource) -> list[DealEvent]:
        """The deal changes a verified delivery carries."""
        ...


class _Generic:
    def check_secret(self, secret: str) -> None:
        generic._secret_key(secret)

    def verify(self, delivery: Delivery, *, secrets: Sequence[str], now: datetime) -> None:
        generic.verify(body=delivery.body, headers=delivery.headers, secrets=secrets, now=now)

    async def events(self, delivery: Delivery, *, deals: DealSource) -> list[DealEvent]:
        message_id = lower_headers(delivery.headers).get("webhook-id", "")
        return generic.parse(delivery.body, message_id=message_id)


class _HubSpot:
    def check_secret(self, secret: str) -> None:
        if not secret.strip():
            raise ValueError("the HubSpot client secret must not be empty")

    def verify(self, delivery: Delivery, *, secrets: Sequence[str], now: datetime) -> None:
        hubspot.verify(
            body=delivery.body, headers=delivery.headers, secrets=secrets, now=now, url=delivery.url
        )

    async def events(self, delivery: Delivery, *, deals: DealSource) -> list[DealEvent]:
        events = []
        for change in hubspot.parse(delivery.body):
            deal = await deals(delivery.api_token, change.object_id) if change.needs_fetch else None
            events.append(hubspot.to_deal_event(change, deal, stages=delivery.hubspot_stages))
        return events


class _Pipedrive:
    def check_secret(self, secret: str) -> None:
        pipedrive._credentials(secret)

    def verify(self, delivery: Delivery, *, secrets: Sequence[str], now: datetime) -> None:
        pipedrive.verify(body=delivery.body, headers=delivery.headers, secrets=secrets)

    async def events(self, delivery: Delivery, *, deals: DealSource) -> list[DealEvent]:
        return pipedrive.parse(delivery.body)


class _Salesforce:
    def check_secret(self, secret: str) -> None:
        salesforce.full_org_id(secret)

    def verify(self, delivery: Delivery, *, secrets: Sequence[str], now: datetime) -> None:
        salesforce.verify(body=delivery.body, secrets=secrets)

    async def events(self, delivery: Delivery, *, deals: DealSource) -> list[DealEvent]:
        return salesforce.parse(delivery.body)


ADAPTERS: Mapping[str, CrmAdapter] = {
    "generic": _Generic(),
    "hubspot": _HubSpot(),
    "pipedrive": _Pipedrive(),
    "salesforce": _Salesforce(),
}


def hubspot_deals(
    http: Callable[[], httpx.AsyncClient],
    *,
    base_url: Callable[[], str],
    default_token: str | None,
) -> DealSource:
    """The DealSource of HubSpot's objects API; the org's token first, the default otherwise.

    The client and base URL are read per call: the client is created lazily, tests repoint the URL.
    """

    async def fetch(token: str | None, deal_id: str) -> hubspot.HubSpotDeal:
        chosen = token or default_token
        if not chosen:
            raise hubspot.HubSpotApiError(
                "no HubSpot private-app token is configured", upstream_status=None
            )
        return await hubspot.fetch_deal(http(), base_url=base_url(), token=chosen, deal_id=deal_id)

    return fetch
