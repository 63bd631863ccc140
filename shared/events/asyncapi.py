"""Generate docs/asyncapi.yaml from the event registry: python -m shared.events.asyncapi > docs/asyncapi.yaml."""

from __future__ import annotations

from typing import Any

import yaml

from shared.events import REGISTRY, SERVICES, dlq_topic, topic_for


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every topic and message."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for service in SERVICES:
        topic = topic_for(service)
        names = []
        for event_type, cls in sorted(REGISTRY.items()):
            if cls.service() != service:
                continue
            name = event_type.replace(".", "_")
            names.append(name)
            schema = cls.model_json_schema(ref_template="#/components/schemas/{model}")
            for def_name, definition in schema.pop("$defs", {}).items():
                schemas[def_name] = definition
            schemas[name] = schema
            messages[name] = {
                "name": event_type,
                "title": cls.__name__,
                "summary": (cls.__doc__ or "").strip(),
                "contentType": "application/json",
                "bindings": {
                    "kafka": {
                        "key": {"type": "string", "description": f"{cls.KEY_FIELD} of the event"}
                    }
                },
                "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
                "payload": {"$ref": f"#/components/schemas/{name}"},
            }
        channels[service] = {
            "address": topic,
            "description": f"Facts published by the {service} service (CloudEvents 1.0, Kafka binary mode).",
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        }
        channels[f"{service}_dlq"] = {
            "address": dlq_topic(topic),
            "description": f"Records consumers of {topic} gave up on: original bytes plus x-error-* headers.",
        }
        operations[f"publish_{service}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{service}"},
            "messages": [{"$ref": f"#/channels/{service}/messages/{n}"} for n in names],
        }
    schemas["CloudEventsHeaders"] = {
        "type": "object",
        "required": ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "content-type"],
        "properties": {
            name: {"type": "string"}
            for name in (
                "ce_id",
                "ce_source",
                "ce_type",
                "ce_specversion",
                "ce_time",
                "ce_subject",
                "ce_tenantid",
                "ce_partitionkey",
                "ce_traceparent",
                "ce_sequence",
                "content-type",
            )
        },
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Attain events",
            "version": "1.0.0",
            "description": "Every fact the Attain services exchange. Generated from shared/events; a test keeps it in step.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    """The document as YAML text."""
    text: str = yaml.safe_dump(document(), sort_keys=True, allow_unicode=True, width=100)
    return text


if __name__ == "__main__":
    print(render(), end="")
