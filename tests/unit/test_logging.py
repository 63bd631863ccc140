"""Logs are JSON lines that carry the service, the request id and the trace."""

from __future__ import annotations

import json
import logging

import pytest

from shared.observability import configure_logging
from shared.tracing import request_id_var, traceparent_var

pytestmark = pytest.mark.unit


def test_log_lines_are_json_with_service_request_id_and_trace(capfd):
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging(service="goals", level="INFO")
        rid, trace = (
            request_id_var.set("req-123"),
            traceparent_var.set("00-" + "a" * 32 + "-" + "b" * 16 + "-01"),
        )
        try:
            logging.getLogger("attain.test").info("target changed", extra={"target_id": "t-1"})
        finally:
            request_id_var.reset(rid)
            traceparent_var.reset(trace)
        line = json.loads(capfd.readouterr().err.strip().splitlines()[-1])
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    assert line["message"] == "target changed"
    assert line["level"] == "INFO"
    assert line["service"] == "goals"
    assert line["request_id"] == "req-123"
    assert line["traceparent"].startswith("00-aaaa")
    assert line["target_id"] == "t-1"
