"""Routers of the feedback service, in the order they appear in OpenAPI."""

from fastapi import APIRouter

from services.feedback.api.routes import (
    coaching,
    competitors,
    dispute_policy,
    disputes,
    feedback,
    intel,
    meetings,
    subscriptions,
)

ROUTERS: list[APIRouter] = [
    disputes.router,
    dispute_policy.router,
    feedback.router,
    meetings.router,
    intel.router,
    competitors.router,
    coaching.router,
    subscriptions.router,
]
TAGS: list[dict[str, str]] = [
    {"name": "disputes", "description": "Disputes decided only after every party is heard."},
    {"name": "feedback", "description": "Private coaching notes, check-ins and notices."},
    {"name": "meetings", "description": "Recurring team meetings, notes and action items."},
    {"name": "intel", "description": "Market intelligence the team picks up, searchable."},
    {"name": "coaching", "description": "1:1s with an agenda built from data, action items."},
    {"name": "subscriptions", "description": "Signed outbound webhooks for other systems."},
]
