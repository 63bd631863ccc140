"""Settings safety, money conversion, ETag preconditions, cursors and trace ids."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.config import ServiceSettings
from shared.domain_errors import InvalidInput, PreconditionFailed
from shared.http import check_if_match, decode_cursor, encode_cursor, etag_of
from shared.money import MAX_MINOR, from_minor, to_minor
from shared.tracing import child_traceparent, new_traceparent

pytestmark = pytest.mark.unit


def test_production_refuses_the_development_jwt_secret(monkeypatch):
    monkeypatch.setenv("ATTAIN_ENV", "production")
    monkeypatch.delenv("ATTAIN_JWT_SECRET", raising=False)
    with pytest.raises(ValidationError, match="development JWT secret"):
        ServiceSettings()


def test_production_accepts_a_real_secret_and_has_no_cors_origins(monkeypatch):
    monkeypatch.setenv("ATTAIN_ENV", "production")
    monkeypatch.setenv("ATTAIN_JWT_SECRET", "a-real-secret-that-is-long-enough-000000")
    settings = ServiceSettings()
    assert settings.cors_origins == []


def test_development_defaults_allow_localhost_origins(monkeypatch):
    monkeypatch.delenv("ATTAIN_ENV", raising=False)
    assert "http://localhost:3000" in (ServiceSettings().cors_origins or [])


@given(st.integers(min_value=-(10**12), max_value=10**12), st.sampled_from(["EUR", "JPY", "KWD"]))
def test_minor_units_round_trip(minor, currency):
    assert to_minor(from_minor(minor, currency), currency) == minor


def test_sub_minor_precision_is_refused():
    with pytest.raises(InvalidInput):
        to_minor(Decimal("1.005"), "EUR")
    assert to_minor("100", "JPY") == 100


def test_if_match_passes_when_current_and_absent_and_fails_when_stale():
    check_if_match(None, 3)
    check_if_match(etag_of(3), 3)
    check_if_match(f"W/{etag_of(3)}", 3)
    with pytest.raises(PreconditionFailed):
        check_if_match(etag_of(2), 3)


def test_cursor_round_trips_and_forged_cursors_are_refused():
    assert decode_cursor(encode_cursor(["a", 1])) == ["a", "1"]
    with pytest.raises(InvalidInput):
        decode_cursor("%%%")


def test_child_traceparent_keeps_the_trace_and_changes_the_span():
    parent = new_traceparent()
    child = child_traceparent(parent)
    assert child.split("-")[1] == parent.split("-")[1]
    assert child.split("-")[2] != parent.split("-")[2]
    assert len(child_traceparent("garbage").split("-")) == 4


@pytest.mark.parametrize(
    ("currency", "top"), [("EUR", "10000000000000.00"), ("JPY", "1" + "0" * 15)]
)
def test_the_maximum_amount_itself_is_accepted_in_both_signs(currency, top):
    """Accept exactly MAX_MINOR minor units, positive and negative."""
    assert to_minor(top, currency) == MAX_MINOR
    assert to_minor("-" + top, currency) == -MAX_MINOR


@pytest.mark.parametrize(
    ("currency", "over"),
    [("EUR", "10000000000000.01"), ("KWD", "1000000000000.001"), ("JPY", "-1000000000000001")],
)
def test_one_minor_unit_beyond_the_maximum_is_refused_naming_the_field(currency, over):
    """Refuse one minor unit too many, in every exponent, naming the field."""
    with pytest.raises(InvalidInput) as caught:
        to_minor(over, currency, field="target")
    assert caught.value.extra["field"] == "target"


def test_totals_may_exceed_one_amounts_maximum_but_not_64_bits():
    """Convert totals above MAX_MINOR with limit=None; refuse what int64 cannot hold."""
    assert to_minor("20000000000000.00", "EUR", limit=None) == 2 * MAX_MINOR
    with pytest.raises(InvalidInput):
        to_minor(str(2**63), "JPY", limit=None)
