"""Event contracts: registry, envelope round trip, AsyncAPI document in step with the code."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.events import (
    REGISTRY,
    UnknownEventType,
    UnknownSchemaVersion,
    from_kafka,
    resolve,
    to_kafka,
    wrap,
)
from shared.events.asyncapi import render
from shared.events.feedback import AdjustTarget, DisputeResolved, ReassignSaleCredit
from shared.events.goals import TargetChanged

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_asyncapi_document_matches_the_code():
    committed = (ROOT / "docs" / "asyncapi.yaml").read_text()
    assert committed == render(), (
        "regenerate: python -m shared.events.asyncapi > docs/asyncapi.yaml"
    )


def test_every_event_type_is_versioned_and_on_its_service_topic():
    for event_type, cls in REGISTRY.items():
        assert event_type.startswith(f"attain.{cls.service()}.")
        assert event_type.rsplit(".", 1)[1].startswith("v")
        assert cls.topic() == f"attain.{cls.service()}.v1"


def test_unknown_facts_and_unknown_versions_are_told_apart():
    with pytest.raises(UnknownEventType):
        resolve("attain.goals.never_happened.v1")
    with pytest.raises(UnknownSchemaVersion):
        resolve("attain.goals.target_changed.v99")


def _target_changed(amount: Decimal, version: int) -> TargetChanged:
    return TargetChanged(
        org_id=uuid.uuid4(), team_id=uuid.uuid4(), target_id=uuid.uuid4(), member_id=uuid.uuid4(),
        period_id=uuid.uuid4(), old_amount=Decimal("0.00"), new_amount=amount, currency="EUR",
        version=version, reason="manual",
    )  # fmt: skip


@given(
    amount=st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False),
    version=st.integers(1, 10**6),
)
def test_envelope_round_trips_exact_amounts_and_sequence(amount, version):
    event = _target_changed(amount, version)
    message = to_kafka(wrap(event))
    assert b'"new_amount": "' in message.value  # money is a string on the wire, never a float
    back = from_kafka(
        key=message.key.encode(), value=message.value, headers=list(message.headers.items())
    )
    assert back.event() == event
    assert back.sequence == version
    assert back.subject == str(event.target_id)
    assert back.partitionkey == str(event.team_id)


def test_dispute_actions_decode_by_their_type():
    event = DisputeResolved(
        org_id=uuid.uuid4(), team_id=uuid.uuid4(), dispute_id=uuid.uuid4(), decided_by="m",
        summary="s", rationale="r",
        actions=[
            AdjustTarget(member_id=uuid.uuid4(), period_id=uuid.uuid4(), delta=Decimal("-5.00")),
            ReassignSaleCredit(sale_id=uuid.uuid4(), to_member_id=uuid.uuid4(), percent=Decimal("50")),
        ],
    )  # fmt: skip
    back = DisputeResolved.model_validate_json(event.model_dump_json())
    assert [type(a) for a in back.actions] == [AdjustTarget, ReassignSaleCredit]


def test_malformed_records_raise_value_error():
    with pytest.raises(ValueError):
        from_kafka(key=None, value=b"{}", headers=[])
    message = to_kafka(wrap(_target_changed(Decimal("1.00"), 1)))
    with pytest.raises(ValueError):
        from_kafka(key=None, value=b"[1, 2", headers=list(message.headers.items()))
