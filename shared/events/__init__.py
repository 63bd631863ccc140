"""Event contracts: every fact any service publishes, registered by CloudEvents type."""

from shared.events import feedback, goals, performance
from shared.events.base import (
    REGISTRY,
    Event,
    UnknownEventType,
    UnknownSchemaVersion,
    dlq_topic,
    resolve,
    topic_for,
)
from shared.events.envelope import Envelope, from_kafka, to_kafka, wrap

SERVICES = ("goals", "performance", "feedback")
TOPICS = tuple(topic_for(s) for s in SERVICES)

__all__ = [
    "REGISTRY",
    "SERVICES",
    "TOPICS",
    "Envelope",
    "Event",
    "UnknownEventType",
    "UnknownSchemaVersion",
    "dlq_topic",
    "feedback",
    "from_kafka",
    "goals",
    "performance",
    "resolve",
    "to_kafka",
    "topic_for",
    "wrap",
]
