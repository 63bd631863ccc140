"""Routers of the performance service, in the order they appear in OpenAPI."""

from fastapi import APIRouter

from services.performance.api.routes import (
    attainment,
    crm_settings,
    crm_status,
    deliveries,
    fx,
    imports,
    internal,
    sales,
    webhooks,
)

ROUTERS: list[APIRouter] = [
    webhooks.router,
    deliveries.router,
    crm_settings.router,
    crm_status.router,
    imports.router,
    sales.router,
    fx.router,
    attainment.router,
    internal.router,
]
TAGS: list[dict[str, str]] = [
    {"name": "webhooks", "description": "CRM webhook intake and webhook secret rotation."},
    {"name": "sales", "description": "Sales from CRMs and manual entry, with split credit."},
    {"name": "currencies", "description": "A period's exchange rates and their audit trail."},
    {"name": "attainment", "description": "Attainment, pace, leaderboard and evaluation."},
]
