"""Abuse on real uvicorn processes: oversize and slow bodies, header stuffing, forged webhook floods."""

from __future__ import annotations

import itertools
import select
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from shared.serving import LIMIT_CONCURRENCY
from tests.e2e.single import ServiceProcess, post_head, raw_request, start_service
from tests.harness import bearer

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
        "feedback", tmp_path_factory.mktemp("abuse-feedback"),
        FEEDBACK_BODY_TIMEOUT_S="2", FEEDBACK_RATE_LIMIT_API_PER_TOKEN="30/minute",
    )  # fmt: skip
    yield service
    service.stop()


@pytest.fixture(scope="module")
def performance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The performance API (webhook intake) as its own process, with low refusal limits."""
    service = start_service(
        "performance", tmp_path_factory.mktemp("abuse-performance"),
        PERFORMANCE_RATE_LIMIT_WEBHOOK_REFUSALS_PER_ADDRESS="20/minute",
        PERFORMANCE_WEBHOOK_REJECTION_MAX_ROWS="50",
    )  # fmt: skip
    yield service
    service.stop()


def _assert_problem(response, status: int, type_: str) -> None:
    assert response.status == status, (response.status, response.body[:300])
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == type_


def test_oversize_bodies_get_413_on_every_route_class_and_peak_memory_stays_bounded(
    feedback: ServiceProcess, performance: ServiceProcess
):
    api_auth = bearer(org=uuid.uuid4(), roles=["admin"])
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
    head = post_head("/v1/intel", length=None, headers=bearer(org=uuid.uuid4(), roles=["admin"]))
    # 60 bytes at two a second would take 30 s; the body deadline is 2 s.
    slow = raw_request(feedback.port, head, itertools.repeat(b" ", 60), chunked=True, pause_s=0.5)
    _assert_problem(slow, 408, "urn:attain:problem:request-timeout")
    assert slow.headers.get("connection") == "close"
    assert slow.sent < 60


GENERIC_SECRET = "whsec_YXR0YWluLWdlbmVyaWMtdGVzdC1zZWNyZXQtMDAwMQ=="


def _db_bytes(service: ServiceProcess) -> int:
    return sum(
        p.stat().st_size
        for p in (service.db_path, service.db_path.with_name(service.db_path.name + "-wal"))
        if p.exists()
    )


def _forged(client: httpx.Client, org: str, address: str, body: bytes) -> httpx.Response:
    headers = {
        "content-type": "application/json", "x-forwarded-for": address,
        "webhook-id": f"msg_{uuid.uuid4().hex}", "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
        "webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    }  # fmt: skip
    return client.post(f"/v1/webhooks/{org}/generic", content=body, headers=headers)


def test_a_forged_webhook_flood_stores_bounded_records_and_is_throttled_while_the_crm_gets_through(
    performance: ServiceProcess,
):
    org = str(uuid.uuid4())
    body = (CRM / "generic_sale.json").read_bytes()
    padded = body + b" " * (100 * 1024)  # large but under the webhook limit: stored whole before
    with httpx.Client(base_url=performance.url, timeout=30) as client:
        admin = bearer(org=org, roles=["admin"])
        rotated = client.put(
            "/v1/webhook-secrets/generic", json={"secret": GENERIC_SECRET}, headers=admin
        )
        assert rotated.status_code == 200, rotated.text
        db_before = _db_bytes(performance)
        statuses: list[list[int]] = []
        # Five addresses flood unknown orgs and five flood the known org with bad signatures.
        for n in range(10):
            address = f"203.0.113.{n + 1}"
            statuses.append([])
            for _ in range(40):
                target = org if n % 2 else str(uuid.uuid4())
                answer = _forged(client, target, address, padded)
                statuses[-1].append(answer.status_code)
                assert answer.headers["content-type"].startswith("application/problem+json")
                if answer.status_code == 429:
                    assert int(answer.headers["retry-after"]) >= 1
                    assert answer.json()["type"] == "urn:attain:problem:rate-limited"
        # Each address has 20 refusals a minute; the rest are turned away unread. A burst that
        # straddles the sliding window's edge may be granted one more (the estimate rounds down).
        for answers in statuses:
            assert sorted(set(answers)) == [401, 429]
            assert 20 <= answers.count(401) <= 21, answers
        message_id = "msg_genuine_delivery_0001"
        now = datetime.now(UTC)
        signed = {
            "content-type": "application/json", "x-forwarded-for": "198.51.100.2",
            "webhook-id": message_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(GENERIC_SECRET).sign(message_id, now, body.decode()),
        }  # fmt: skip
        genuine = client.post(f"/v1/webhooks/{org}/generic", content=body, headers=signed)
        assert genuine.status_code == 202, genuine.text
        metrics = client.get("/metrics").text
    assert 'webhooks_rejected_total{reason="no_secret",recorded="true",source="generic"}' in metrics
    assert 'recorded="false"' in metrics  # past the cap: counted, not stored
    with sqlite3.connect(performance.db_path) as db:
        records = db.execute(
            "SELECT reason, length(body_head), body_size FROM webhook_rejection"
        ).fetchall()
        deliveries = db.execute("SELECT verified, length(body) FROM webhook_delivery").fetchall()
    assert len(records) == 50  # the cap, although 200 deliveries were refused
    # (the other test's 2-byte warm-up delivery may be among them)
    assert all(size in (2, len(padded)) and head <= 2048 for _, head, size in records)
    assert all(head == 0 for reason, head, _ in records if reason == "no_secret")
    assert deliveries == [(1, len(body))]
    growth = _db_bytes(performance) - db_before
    # 40 MB were offered; 50 records of at most ~10 KiB each (plus page overhead) may stay.
    assert growth < 2 * MIB, f"database grew by {growth} bytes"


def test_the_api_limits_each_token_on_its_own(feedback: ServiceProcess):
    org = uuid.uuid4()
    flooder, bystander = bearer(org=org, roles=["admin"]), bearer(org=org, roles=["admin"])
    with httpx.Client(base_url=feedback.url, timeout=30) as client:
        answers = [client.get("/v1/intel", headers=flooder) for _ in range(40)]
        calm = client.get("/v1/intel", headers=bystander)
    assert [a.status_code for a in answers] == [200] * 30 + [429] * 10
    assert answers[-1].headers["content-type"].startswith("application/problem+json")
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert calm.status_code == 200


def test_a_request_head_sent_one_byte_at_a_time_is_cut_off_with_408(feedback: ServiceProcess):
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    sock = socket.create_connection(("127.0.0.1", feedback.port), timeout=60)
    answer = b""
    try:
        # 100+ bytes at two a second would take a minute; the head deadline is 10 s.
        for byte in head:
            if select.select([sock], [], [], 0.5)[0]:
                break
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
        while part := sock.recv(65536):
            answer += part
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"application/problem+json" in answer and b"request-timeout" in answer


def test_too_many_headers_get_431_and_an_oversize_head_is_refused(feedback: ServiceProcess):
    many = "".join(f"X-Filler-{n}: x\r\n" for n in range(150))
    answer = raw_request(feedback.port, f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{many}\r\n")
    _assert_problem(answer, 431, "urn:attain:problem:headers-too-large")
    huge = "X-Big: " + "a" * (20 * 1024)
    head = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{huge}\r\n\r\n"
    refused = raw_request(feedback.port, head)
    _assert_problem(refused, 431, "urn:attain:problem:headers-too-large")
    # The same head in 1 KiB pieces: refused as it grows, still as a problem document.
    pieces = [head[i : i + 1024].encode() for i in range(1024, len(head), 1024)]
    in_pieces = raw_request(feedback.port, head[:1024], pieces, pause_s=0.01)
    _assert_problem(in_pieces, 431, "urn:attain:problem:headers-too-large")
    # A body far larger than the head bound, arriving with its head, is not mistaken for one.
    body = b"{" + b" " * (60 * 1024) + b"}"
    big_body = raw_request(feedback.port, post_head("/v1/intel", length=len(body)) + body.decode())
    assert big_body.status != 431, big_body.status


def test_an_unparsable_request_and_the_connection_cap_answer_problems(feedback: ServiceProcess):
    garbage = raw_request(feedback.port, "NOT HTTP AT ALL\r\n\r\n")
    _assert_problem(garbage, 400, "urn:attain:problem:malformed-request")
    idle = []
    try:
        for _ in range(LIMIT_CONCURRENCY):  # hold every connection the process may serve
            idle.append(socket.create_connection(("127.0.0.1", feedback.port), timeout=10))
        over = raw_request(feedback.port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    finally:
        for sock in idle:
            sock.close()
    _assert_problem(over, 503, "urn:attain:problem:overloaded")
    assert int(over.headers["retry-after"]) >= 1
