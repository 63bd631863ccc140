"""Routers of the goals service, in the order they appear in OpenAPI."""

from fastapi import APIRouter

from services.goals.api.routes import (
    availability,
    change_requests,
    hierarchy,
    internal,
    periods,
    plans,
    rebalancing,
    roster,
    targets,
)

ROUTERS: list[APIRouter] = [
    roster.router,
    periods.router,
    plans.router,
    targets.router,
    rebalancing.router,
    availability.router,
    hierarchy.router,
    internal.router,
    change_requests.router,
]
TAGS: list[dict[str, str]] = [
    {"name": "roster", "description": "Teams, members and their past results."},
    {"name": "periods", "description": "Org-wide periods with time zone and seasonality."},
    {"name": "plans", "description": "Team target, strategy, measures, allocation, publication."},
    {"name": "targets", "description": "Individual targets, their ledger and acknowledgement."},
    {"name": "rebalancing", "description": "Rebalance policy, shortfall answers, approvals."},
    {"name": "availability", "description": "Absences and relief, late joiners, ramp schedules."},
    {"name": "hierarchy", "description": "Trees of teams: allocation down, roll-up of results."},
    {
        "name": "change-requests",
        "description": "Governed target changes, limits, second approvers, the adjustment guard.",
    },
]
