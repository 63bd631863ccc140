"""Routers of the performance service, in the order they appear in OpenAPI."""

from fastapi import APIRouter

from services.performance.api.routes import attainment, deliveries, imports, sales, webhooks

ROUTERS: list[APIRouter] = [
    webhooks.router,
    deliveries.router,
    imports.router,
    sales.router,
    attainment.router,
]
TAGS: list[dict[str, str]] = [
    {"name": "webhooks", "description": "CRM webhook intake and webhook secret rotation."},
    {"name": "sales", "description": "Sales from CRMs and manual entry, with split credit."},
    {"name": "attainment", "description": "Attainment, pace, leaderboard and evaluation."},
]
