"""What performance knows about one sale, for a dispute's evidence pack (read by feedback)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from services.performance.adapters.orm import WebhookDelivery
from services.performance.adapters.unit_of_work import PerformanceUnitOfWork
from shared.domain_errors import NotFound
from shared.money import from_minor

Item = dict[str, Any]

#: How each source's deliveries were authenticated before they were stored.
CHECKS = {
    "generic": "Standard Webhooks HMAC-SHA256 over id.timestamp.body",
    "hubspot": "HubSpot signature v3 (HMAC-SHA256 over method, URL, body, timestamp)",
    "pipedrive": "HTTP Basic credentials (Pipedrive signs nothing)",
    "salesforce": "Outbound Message OrganizationId",
}


def _body(raw: bytes) -> dict[str, str]:
    """The delivery's bytes exactly: as text when they are UTF-8, else base64."""
    try:
        return {"body": raw.decode("utf-8"), "body_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(raw).decode("ascii"), "body_encoding": "base64"}


def _delivery(row: WebhookDelivery, about: list[str]) -> Item:
    return {
        "kind": "crm_delivery",
        "key": f"delivery:{row.id}",
        "about": about,
        "data": {
            "delivery_id": str(row.id),
            "source": row.source,
            "received_at": row.received_at.isoformat(),
            "signature_checked": row.verified,
            "check": CHECKS.get(row.source, row.source),
            # Stored without credentials (intake drops authorization, cookies, API keys).
            "headers": row.headers,
            **_body(row.body),
            "body_sha256": hashlib.sha256(row.body).hexdigest(),
            "outcome": row.outcome,
        },
    }


async def sale_evidence(
    sale_id: uuid.UUID, *, uow: PerformanceUnitOfWork, org: uuid.UUID
) -> list[Item]:
    """The sale, each member's credit, and every signature-checked delivery that carried it."""
    async with uow:
        sale = await uow.repo.sale(org_id=org, sale_id=sale_id)
        if sale is None:
            raise NotFound(f"sale {sale_id} not found")
        credits = sorted(await uow.repo.credits(sale_id=sale.id), key=lambda c: str(c.member_id))
        deliveries: list[WebhookDelivery] = []
        if sale.external_id is not None:
            deliveries = await uow.deliveries.verified_carrying(
                org_id=org, source=sale.source, external_id=sale.external_id
            )
    # The sale and its deliveries are about everyone credited on it.
    holders = [str(c.member_id) for c in credits]
    sale_item = {
        "kind": "sale",
        "key": f"sale:{sale.id}:v{sale.version}",
        "about": holders,
        "data": {
            "sale_id": str(sale.id),
            "source": sale.source,
            "external_id": sale.external_id,
            "amount": str(from_minor(sale.amount_minor, sale.currency)),
            "currency": sale.currency,
            "closed_at": sale.closed_at.isoformat(),
            "status": sale.status,
            "owner_email": sale.owner_email,
            "version": sale.version,
        },
    }
    credit_items = [
        {
            "kind": "sale_credit",
            "key": f"credit:{c.id}:{c.percent}:{c.credited_minor}",
            "about": [str(c.member_id)],
            "data": {
                "sale_id": str(sale.id),
                "member_id": str(c.member_id),
                "percent": c.percent,
                "credited": str(from_minor(c.credited_minor, sale.currency)),
            },
        }
        for c in credits
    ]
    return [sale_item, *credit_items, *(_delivery(d, holders) for d in deliveries)]
