"""Event base class and the registry of every event type by its CloudEvents type."""

from __future__ import annotations

import re
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

_TYPE_PATTERN = re.compile(r"^attain\.(?P<service>[a-z]+)\.(?P<fact>[a-z_]+)\.v(?P<version>\d+)$")

REGISTRY: dict[str, type[Event]] = {}


class UnknownEventType(Exception):
    """A type this codebase has never defined (consumers skip these)."""


class UnknownSchemaVersion(Exception):
    """A known fact in a schema version this codebase cannot read (dead-lettered)."""


class Event(BaseModel):
    """A versioned, immutable fact; subclasses set TYPE and are registered automatically."""

    # Unknown fields are ignored so producers may add fields within a version.
    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]
    KEY_FIELD: ClassVar[str] = "team_id"
    SUBJECT_FIELD: ClassVar[str] = "team_id"
    SEQUENCE_FIELD: ClassVar[str | None] = None

    org_id: UUID

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("TYPE")
        if event_type is None:
            return
        if not _TYPE_PATTERN.match(event_type):
            raise ValueError(f"event type {event_type!r} must look like attain.<svc>.<fact>.v<N>")
        if event_type in REGISTRY:
            raise ValueError(f"event type {event_type!r} is defined twice")
        REGISTRY[event_type] = cls

    @classmethod
    def service(cls) -> str:
        """The producing service, read from the type."""
        return _parts(cls.TYPE)[0]

    @classmethod
    def topic(cls) -> str:
        """The topic this event is published on."""
        return topic_for(cls.service())

    def partition_key(self) -> str:
        """Kafka key: the team id (or org id for org-wide facts), keeping a team's order."""
        return str(getattr(self, self.KEY_FIELD))

    def ce_subject(self) -> str:
        """The aggregate the event is about."""
        return str(getattr(self, self.SUBJECT_FIELD))

    def ce_sequence(self) -> int | None:
        """The aggregate version carried as the CloudEvents sequence extension."""
        return None if self.SEQUENCE_FIELD is None else int(getattr(self, self.SEQUENCE_FIELD))


def _parts(event_type: str) -> tuple[str, str, int]:
    match = _TYPE_PATTERN.match(event_type)
    if not match:
        raise UnknownEventType(event_type)
    return match["service"], match["fact"], int(match["version"])


def topic_for(service: str) -> str:
    """Topic name of a producing service: attain.<service>.v1."""
    return f"attain.{service}.v1"


def dlq_topic(topic: str) -> str:
    """Dead-letter topic of a topic."""
    return f"{topic}.dlq"


def resolve(event_type: str) -> type[Event]:
    """Find the class of an event type, telling unknown facts from unknown versions."""
    cls = REGISTRY.get(event_type)
    if cls is not None:
        return cls
    service, fact, _ = _parts(event_type)
    prefix = f"attain.{service}.{fact}.v"
    if any(known.startswith(prefix) for known in REGISTRY):
        raise UnknownSchemaVersion(event_type)
    raise UnknownEventType(event_type)
