"""CRM webhook adapters: verify a delivery, then normalise it into deal events.

One module per source (``generic``, ``hubspot``, ``pipedrive``, ``salesforce``), each with
``SOURCE``, ``verify(*, body, headers, secrets, now, url)`` and ``parse(body, ...)``.
"""

from services.performance.adapters.crm.base import (
    DealEvent,
    DealEventKind,
    MalformedWebhook,
    WebhookRejected,
    close_instant,
)

__all__ = ["DealEvent", "DealEventKind", "MalformedWebhook", "WebhookRejected", "close_instant"]
