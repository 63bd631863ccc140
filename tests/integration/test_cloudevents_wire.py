"""Records on the wire are CloudEvents 1.0 in Kafka binary mode, readable by the SDK."""

from __future__ import annotations

import json

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event

from tests.conftest import broker_settings
from tests.integration.probe import ThingHappened, emit_committed, probe_runtime, read_topic, thing

pytestmark = pytest.mark.integration


async def test_produced_records_carry_cloudevents_headers_and_decode_with_the_sdk(
    tmp_path, fresh_broker
):
    runtime = probe_runtime(
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'ce.db'}",
        broker=broker_settings(fresh_broker.bootstrap_servers),
        handler=None,
    )
    await runtime.create_schema()
    event = thing()
    await emit_committed(runtime, event)
    await runtime.start_workers()
    try:
        (record,) = await read_topic(
            fresh_broker.bootstrap_servers, ThingHappened.topic(), expect=1
        )
    finally:
        await runtime.stop()
    headers = dict(record.headers)
    for name in ("ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "content-type"):
        assert name in headers, name
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"attain.probe.thing_happened.v1"
    assert headers["ce_source"] == b"/attain/probe"
    assert headers["content-type"] == b"application/json"
    assert headers["ce_tenantid"] == str(event.org_id).encode()
    assert record.key == str(event.team_id).encode()
    assert json.loads(record.value)["thing_id"] == str(event.thing_id)

    decoded = from_binary_event(KafkaMessage(headers=headers, key=record.key, value=record.value))
    assert decoded.get_type() == ThingHappened.TYPE
    assert decoded.get_extension("partitionkey") == str(event.team_id)
    assert decoded.get_data()["thing_id"] == str(event.thing_id)
