"""Abuse on real uvicorn processes: oversize and slow bodies, header stuffing, forged webhook floods."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import auth
from tests.e2e.single import ServiceProcess, post_head, raw_request, start_service

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
CRM = Path(__file__).resolve().parents[1] / "fixtures" / "crm"
ORG = "3f6c2a9e-8d0b-4b1e-9f57-2c4de0a1b7c3"


def zeros(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """total bytes of body in chunks, produced lazily so the test itself stays small."""
    return itertools.repeat(bytes(chunk), total // chunk)


@pytest.fixture(scope="module")
def feedback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The feedback API as its own process, with a short body deadline."""
    service = start_service(
        "feedback", tmp_path_factory.mktemp("abuse-feedback"), FEEDBACK_BODY_TIMEOUT_S="2"
    )
    yield service
    service.stop()


@pytest.fixture(scope="module")
def performance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The performance API (webhook intake) as its own process."""
    service = start_service("performance", tmp_path_factory.mktemp("abuse-performance"))
    yield service
    service.stop()


def _assert_problem(response, status: int, type_: str) -> None:
    assert response.status == status, (response.status, response.body[:300])
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == type_


def test_oversize_bodies_get_413_on_every_route_class_and_peak_memory_stays_bounded(
    feedback: ServiceProcess, performance: ServiceProcess
):
    api_auth = auth(org=uuid.uuid4(), roles=["admin"])
    cases = [
        (feedback, "/v1/intel", api_auth, MIB),
        (performance, f"/v1/webhooks/{ORG}/generic", {}, 256 * 1024),
        (performance, "/v1/sales", api_auth, MIB),
    ]
    for service, path, headers, limit in cases:
        raw_request(service.port, post_head(path, length=2, headers=headers), [b"{}"])  # warm up
        peak_before = service.memory_kib("VmHWM")
        for _ in range(3):
            declared = raw_request(
                service.port, post_head(path, length=50 * MIB, headers=headers), zeros(50 * MIB)
            )
            _assert_problem(declared, 413, "urn:attain:problem:content-too-large")
            assert declared.json()["max_bytes"] == limit
            streamed = raw_request(
                service.port, post_head(path, length=None, headers=headers), zeros(50 * MIB),
                chunked=True,
            )  # fmt: skip
            _assert_problem(streamed, 413, "urn:attain:problem:content-too-large")
            assert streamed.sent < 50 * MIB  # cut off, not read to the end
        growth_kib = service.memory_kib("VmHWM") - peak_before
        # 300 MB were offered; reading even one body whole would raise the peak by 50 MB or more.
        assert growth_kib < 24 * 1024, f"{path}: peak RSS grew by {growth_kib} KiB"


def test_a_body_sent_one_byte_at_a_time_is_cut_off_with_408(feedback: ServiceProcess):
    head = post_head("/v1/intel", length=None, headers=auth(org=uuid.uuid4(), roles=["admin"]))
    # 60 bytes at two a second would take 30 s; the body deadline is 2 s.
    slow = raw_request(feedback.port, head, itertools.repeat(b" ", 60), chunked=True, pause_s=0.5)
    _assert_problem(slow, 408, "urn:attain:problem:request-timeout")
    assert slow.headers.get("connection") == "close"
    assert slow.sent < 60
