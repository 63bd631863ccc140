"""CloudEvents 1.0 in Kafka binary mode: ce_* headers, JSON value, key = team id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from shared.events.base import Event, resolve

CONTENT_TYPE = "application/json"
_FORMAT = JSONFormat()


def source_for(service: str) -> str:
    """The CloudEvents source of a service."""
    return f"/attain/{service}"


@dataclass(frozen=True)
class Envelope:
    """The CloudEvents attributes and JSON data of one event, independent of transport."""

    id: str
    source: str
    type: str
    subject: str | None
    time: datetime
    tenantid: str | None
    partitionkey: str | None
    traceparent: str | None
    sequence: int | None
    data: dict[str, Any]

    def event(self) -> Event:
        """Decode the data into the registered event class (raises for unknown types)."""
        return resolve(self.type).model_validate(self.data)


def wrap(event: Event, *, traceparent: str | None = None, at: datetime | None = None) -> Envelope:
    """Give an event its envelope: fresh id, source from its service, now as time."""
    return Envelope(
        id=str(uuid4()),
        source=source_for(event.service()),
        type=event.TYPE,
        subject=event.ce_subject(),
        time=at or datetime.now(UTC),
        tenantid=str(event.org_id),
        partitionkey=event.partition_key(),
        traceparent=traceparent,
        sequence=event.ce_sequence(),
        data=event.model_dump(mode="json"),
    )


def to_kafka(envelope: Envelope) -> KafkaMessage:
    """Encode an envelope as a binary-mode Kafka message."""
    attributes: dict[str, Any] = {
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "specversion": "1.0",
        "time": envelope.time,
        "datacontenttype": CONTENT_TYPE,
    }
    optional = {
        "subject": envelope.subject,
        "tenantid": envelope.tenantid,
        "partitionkey": envelope.partitionkey,
        "traceparent": envelope.traceparent,
        # CloudEvents' sequence extension is a string; zero-padding keeps it lexically ordered.
        "sequence": None if envelope.sequence is None else f"{envelope.sequence:020d}",
    }
    attributes.update({k: v for k, v in optional.items() if v is not None})
    return to_binary(CloudEvent(attributes=attributes, data=envelope.data), _FORMAT)


def from_kafka(
    *, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]] | None
) -> Envelope:
    """Decode a binary-mode Kafka record; raises ValueError on anything malformed."""
    header_map = {name: raw for name, raw in headers or []}
    if "ce_id" not in header_map or "ce_type" not in header_map:
        raise ValueError("not a binary-mode CloudEvent: ce_id / ce_type headers missing")
    try:
        event = from_binary(KafkaMessage(headers=header_map, key=key, value=value or b""), _FORMAT)
        data = event.get_data()
        if isinstance(data, bytes | str):
            data = json.loads(data)
    except Exception as exc:  # the SDK raises several unrelated types for bad input
        raise ValueError(f"undecodable CloudEvent: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("CloudEvent data must be a JSON object")
    sequence = event.get_extension("sequence")
    return Envelope(
        id=event.get_id(),
        source=event.get_source(),
        type=event.get_type(),
        subject=event.get_subject(),
        time=event.get_time() or datetime.now(UTC),
        tenantid=event.get_extension("tenantid"),
        partitionkey=event.get_extension("partitionkey"),
        traceparent=event.get_extension("traceparent"),
        sequence=None if sequence is None else int(sequence),
        data=data,
    )
