"""Which facts other systems may subscribe to, and what each subscriber receives of them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.events import Envelope

#: The public name of each fact other systems may subscribe to, by the internal event type.
PUBLIC_TYPES: dict[str, str] = {
    "attain.goals.target_changed.v1": "target.changed",
    "attain.performance.team_shortfalls_detected.v1": "shortfall.detected",
    "attain.performance.shortfall_detected.v1": "shortfall.detected",
    "attain.goals.targets_rebalanced.v1": "rebalance.applied",
    "attain.feedback.dispute_resolved.v1": "dispute.decided",
    "attain.feedback.action_item_overdue.v1": "action_item.overdue",
    "attain.feedback.dispute_overdue.v1": "dispute.overdue",
}
SUBSCRIBABLE = tuple(sorted(set(PUBLIC_TYPES.values())))
TEST_TYPE = "webhook.test"


def public_data(envelope: Envelope) -> dict[str, Any] | None:
    """The data another system receives for a fact (None: nothing worth sending)."""
    data = dict(envelope.data)
    if envelope.type == "attain.performance.team_shortfalls_detected.v1":
        # Performance repeats an uncovered team hourly; subscribers hear of each episode once.
        fresh = [s for s in data.get("shortfalls", []) if s.get("new")]
        if not fresh:
            return None
        data["shortfalls"] = fresh
        data.pop("standings", None)
    elif envelope.type == "attain.performance.shortfall_detected.v1":
        data.pop("snapshot", None)
    elif envelope.type == "attain.feedback.dispute_resolved.v1":
        # The rationale is for the parties; other systems get the outcome and its actions.
        data.pop("rationale", None)
    return data


def body_of(*, public_type: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """A Standard Webhooks payload: type, timestamp and data."""
    return {"type": public_type, "timestamp": at.astimezone(UTC).isoformat(), "data": data}
