"""Outbound webhooks: signed per Standard Webhooks, retried with backoff, disabled after failures."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from asgi_lifespan import LifespanManager
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.feedback.config import Settings
from services.feedback.handlers import events as reactions
from services.feedback.handlers.coaching import announce_overdue_action_items
from services.feedback.handlers.subscriptions import (
    CreateSubscription,
    DeliveryPolicy,
    _check_url,
    create_subscription,
    deliver_due,
    policy_from,
)
from services.feedback.main import create_app
from shared.auth import Principal
from shared.domain_errors import InvalidInput
from shared.events import wrap
from shared.events.goals import TargetChanged, TargetsRebalanced, Transfer
from tests.harness import as_admin
from tests.integration.feedback.conftest import Team, seed_team, settings_for
from tests.integration.feedback.test_coaching import team_shortfall

pytestmark = pytest.mark.integration

FAST = DeliveryPolicy(
    timeout_s=10.0,
    max_attempts=4,
    backoff_base_s=0.0,
    backoff_max_s=0.0,
    disable_after_failures=3,
    allow_loopback=True,
)


class Receiver:
    """A real HTTP server on 127.0.0.1 that records deliveries and answers scripted statuses."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop the server."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local webhook receiver."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
async def app(db_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, object, Team]]:
    """A feedback app on SQLite and on PostgreSQL, with a seeded team."""
    application = create_app(settings_for(db_url, webhook_allow_loopback=True))
    runtime = application.state.runtime
    await runtime.create_schema()
    transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
    async with (
        LifespanManager(application),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        yield client, runtime, await seed_team(runtime)


def target_changed(team: Team) -> TargetChanged:
    """A target change of the team's first rep."""
    return TargetChanged(
        org_id=team.org,
        team_id=team.id,
        target_id=uuid.uuid4(),
        member_id=team.reps[0],
        period_id=uuid.uuid4(),
        old_amount=Decimal("10000.00"),
        new_amount=Decimal("12500.00"),
        currency="EUR",
        version=3,
        reason="rebalance",
    )


async def subscribe(client, team: Team, url: str, types: list[str], **extra) -> dict:
    """Create a subscription as the org's admin."""
    body = {"url": url, "types": types, **extra}
    response = await client.post("/v1/subscriptions", json=body, headers=team.as_admin())
    assert response.status_code == 201, response.text
    return response.json()


async def deliver(runtime, handler, event, envelope=None) -> None:
    """Apply a reaction in its own transaction, as the consumer would."""
    async with runtime.uow() as uow:
        await handler(event, envelope or wrap(event), uow)
        await uow.commit()


def verified(secret: str, headers: dict[str, str], body: bytes) -> dict:
    """Verify a delivery with the reference library and return its payload."""
    return Webhook(secret).verify(body, headers)


async def test_subscribers_receive_public_facts_signed_per_standard_webhooks(app, receiver):
    """target_changed, shortfall, rebalance and overdue items reach the endpoint, verifiably."""
    client, runtime, team = app
    sub = await subscribe(
        client,
        team,
        receiver.url,
        ["target.changed", "shortfall.detected", "rebalance.applied", "action_item.overdue"],
    )
    assert sub["secret"].startswith("whsec_") and sub["active"] is True

    change = target_changed(team)
    envelope = wrap(change)
    await deliver(runtime, reactions.on_target_changed, change, envelope)
    # At-least-once delivery to feedback: the same event twice is sent once.
    await deliver(runtime, reactions.on_target_changed, change, envelope)
    await deliver(
        runtime, reactions.on_team_shortfalls_detected, team_shortfall(team, team.reps[1])
    )
    rebalanced = TargetsRebalanced(
        org_id=team.org,
        team_id=team.id,
        rebalance_id=uuid.uuid4(),
        period_id=change.period_id,
        giver_id=team.reps[1],
        requested=Decimal("100.00"),
        moved=Decimal("100.00"),
        uncovered=Decimal("0.00"),
        currency="EUR",
        transfers=[
            Transfer(
                from_member_id=team.reps[1], to_member_id=team.reps[0], amount=Decimal("100.00")
            )
        ],
        applied="auto",
    )
    await deliver(runtime, reactions.on_targets_rebalanced, rebalanced)
    when = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    meeting = (
        await client.post(
            f"/v1/teams/{team.id}/meetings",
            json={"title": "Weekly", "scheduled_at": when},
            headers=team.as_manager(),
        )
    ).json()
    overdue = (date.today() - timedelta(days=3)).isoformat()
    note = {
        "body": "x",
        "action_items": [
            {"description": "Update CRM", "owner_id": str(team.reps[0]), "due_on": overdue}
        ],
    }
    assert (
        await client.post(
            f"/v1/meetings/{meeting['id']}/notes", json=note, headers=team.as_manager()
        )
    ).status_code == 201
    await announce_overdue_action_items(uow_factory=runtime.uow)

    assert await deliver_due(uow_factory=runtime.uow, policy=FAST) == 4
    assert await deliver_due(uow_factory=runtime.uow, policy=FAST) == 0
    payloads = [verified(sub["secret"], h, b) for h, b in receiver.received]
    by_type = {p["type"]: p for p in payloads}
    assert sorted(by_type) == [
        "action_item.overdue",
        "rebalance.applied",
        "shortfall.detected",
        "target.changed",
    ]
    assert by_type["target.changed"]["data"]["new_amount"] == "12500.00"
    assert by_type["target.changed"]["data"]["member_id"] == str(team.reps[0])
    assert "standings" not in by_type["shortfall.detected"]["data"]
    # A tampered body fails verification: the signature covers it (any delivery, any byte).
    headers, body = receiver.received[0]
    tampered = body.replace(b'"', b"'", 1)
    assert tampered != body
    with pytest.raises(WebhookVerificationError):
        Webhook(sub["secret"]).verify(tampered, headers)

    log = await client.get(f"/v1/subscriptions/{sub['id']}/deliveries", headers=team.as_admin())
    assert log.status_code == 200, log.text
    rows = log.json()["items"]
    assert {r["status"] for r in rows} == {"delivered"} and len(rows) == 4
    assert {r["webhook_id"] for r in rows} == {h["webhook-id"] for h, _ in receiver.received}


async def test_a_failing_endpoint_is_retried_with_backoff_then_disabled(app, receiver):
    """Failures are retried with growing waits; enough failures in a row disable it."""
    client, runtime, team = app
    sub = await subscribe(client, team, receiver.url, ["target.changed"])
    receiver.statuses = [500, 503]
    await deliver(runtime, reactions.on_target_changed, target_changed(team))
    for _ in range(3):
        await deliver_due(uow_factory=runtime.uow, policy=FAST)
    ids = {h["webhook-id"] for h, _ in receiver.received}
    assert len(receiver.received) == 3 and len(ids) == 1  # one message id on every attempt
    [row] = (
        await client.get(f"/v1/subscriptions/{sub['id']}/deliveries", headers=team.as_admin())
    ).json()["items"]
    assert row["status"] == "delivered" and row["attempts"] == 3
    state = (await client.get(f"/v1/subscriptions/{sub['id']}", headers=team.as_admin())).json()
    assert state["consecutive_failures"] == 0 and state["active"] is True

    slow = DeliveryPolicy(backoff_base_s=10, backoff_max_s=100, max_attempts=8)
    assert slow.backoff(1) < slow.backoff(2) < slow.backoff(3)
    assert slow.backoff(9) <= timedelta(seconds=110)

    receiver.statuses = [500] * 10
    await deliver(runtime, reactions.on_target_changed, target_changed(team))
    for _ in range(5):
        await deliver_due(uow_factory=runtime.uow, policy=FAST)
    state = (await client.get(f"/v1/subscriptions/{sub['id']}", headers=team.as_admin())).json()
    assert state["active"] is False and "3 failed attempts" in state["disabled_reason"]
    assert len(receiver.received) == 6  # nothing is sent to a disabled endpoint
    pending = (
        await client.get(
            f"/v1/subscriptions/{sub['id']}/deliveries",
            params={"status": "pending"},
            headers=team.as_admin(),
        )
    ).json()["items"]
    assert len(pending) == 1
    assert (
        await client.post(f"/v1/subscriptions/{sub['id']}/test", headers=team.as_admin())
    ).status_code == 409

    # Re-enabled, it resumes the pending delivery.
    receiver.statuses = []
    enabled = await client.patch(
        f"/v1/subscriptions/{sub['id']}", json={"active": True}, headers=team.as_admin()
    )
    assert enabled.status_code == 200 and enabled.json()["consecutive_failures"] == 0
    await deliver_due(uow_factory=runtime.uow, policy=FAST)
    assert len(receiver.received) == 7


async def test_gone_disables_at_once_and_the_test_endpoint_reports_the_answer(app, receiver):
    """POST .../test sends a signed webhook.test now; 410 Gone disables the subscription."""
    client, runtime, team = app
    sub = await subscribe(client, team, receiver.url, ["target.changed"])
    tested = await client.post(f"/v1/subscriptions/{sub['id']}/test", headers=team.as_admin())
    assert tested.status_code == 200, tested.text
    assert tested.json()["status"] == "delivered" and tested.json()["last_status_code"] == 200
    headers, body = receiver.received[0]
    assert verified(sub["secret"], headers, body)["type"] == "webhook.test"
    receiver.statuses = [500]
    failed = (
        await client.post(f"/v1/subscriptions/{sub['id']}/test", headers=team.as_admin())
    ).json()
    assert failed["status"] == "failed" and failed["last_status_code"] == 500
    # A test never counts towards disabling, and is never retried by the sweep.
    assert await deliver_due(uow_factory=runtime.uow, policy=FAST) == 0

    receiver.statuses = [410]
    await deliver(runtime, reactions.on_target_changed, target_changed(team))
    await deliver_due(uow_factory=runtime.uow, policy=FAST)
    state = (await client.get(f"/v1/subscriptions/{sub['id']}", headers=team.as_admin())).json()
    assert state["active"] is False and "410" in state["disabled_reason"]


async def test_subscriptions_are_for_admins_with_valid_urls_types_and_teams(app, receiver):
    """Only admins subscribe; bad URLs, types and teams are 422; other orgs see 404."""
    client, runtime, team = app
    body = {"url": receiver.url, "types": ["target.changed"]}
    assert (
        await client.post("/v1/subscriptions", json=body, headers=team.as_manager())
    ).status_code == 403
    for bad in (
        {"url": "ftp://127.0.0.1/x"},
        {"url": "not a url at all"},
        {"url": "http://user:pw@127.0.0.1/x"},
        {"types": ["sale.recorded"]},
        {"types": []},
        {"team_id": str(uuid.uuid4())},
    ):
        response = await client.post("/v1/subscriptions", json=body | bad, headers=team.as_admin())
        assert response.status_code == 422, (bad, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    sub = await subscribe(client, team, receiver.url, ["target.changed"], team_id=str(team.id))
    listed = (await client.get("/v1/subscriptions", headers=team.as_admin())).json()["items"]
    assert [s["id"] for s in listed] == [sub["id"]] and "secret" not in listed[0]
    stranger = as_admin(uuid.uuid4())
    assert (await client.get(f"/v1/subscriptions/{sub['id']}", headers=stranger)).status_code == 404
    assert (
        await client.post(f"/v1/subscriptions/{sub['id']}/test", headers=stranger)
    ).status_code == 404

    # The team filter: another team's target change is not sent.
    other = await seed_team(runtime, org=team.org)
    await deliver(runtime, reactions.on_target_changed, target_changed(other))
    await deliver(runtime, reactions.on_target_changed, target_changed(team))
    await deliver_due(uow_factory=runtime.uow, policy=FAST)
    [(_headers, raw)] = receiver.received
    assert json.loads(raw)["data"]["team_id"] == str(team.id)


def scripted_dns(*answers: list[str]):
    """A resolver answering each lookup with the next list (the last one repeats)."""
    queue = list(answers)

    async def resolve(host: str, port: int) -> list[str]:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return resolve


async def test_production_takes_only_public_https_endpoints():
    """In production, http and private or loopback endpoints are refused; TLS endpoints pass."""
    settings = Settings(env="production", database_url="sqlite+aiosqlite://", jwt_secret="x" * 40, secrets_keys=Fernet.generate_key().decode(), webhook_allow_loopback=True)  # fmt: skip
    policy = dataclasses.replace(policy_from(settings), resolver=scripted_dns(["93.184.215.14"]))
    for url in (
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://169.254.169.254/latest",
    ):
        with pytest.raises(InvalidInput):
            await _check_url(url, policy=policy)
    assert (
        await _check_url("https://hooks.example.com/x", policy=policy)
        == "https://hooks.example.com/x"
    )
    assert policy.require_sealed_secrets is True
    assert policy.allow_loopback is False  # the setting never opens loopback in production


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (["127.0.0.1"], "loopback"),
        (["10.0.0.7"], "private"),
        (["93.184.215.14", "192.168.1.20"], "private"),
        (["169.254.169.254"], "link-local"),
        (["fd00::1"], "private"),
        ([], "does not resolve"),
    ],
)
async def test_a_host_name_resolving_to_an_internal_address_is_refused(answer, reason):
    """The name is resolved at creation; one internal answer among several is enough to refuse."""
    policy = DeliveryPolicy(resolver=scripted_dns(answer))
    with pytest.raises(InvalidInput, match=reason):
        await _check_url("https://hooks.example.com/x", policy=policy)


async def test_localhost_is_resolved_by_the_system_and_refused_unless_loopback_is_allowed():
    """The real resolver (the hosts file) answers localhost with loopback: refused by default."""
    with pytest.raises(InvalidInput, match="loopback"):
        await _check_url("http://localhost:9/x", policy=DeliveryPolicy())
    allowed = DeliveryPolicy(allow_loopback=True)
    assert await _check_url("http://localhost:9/x", policy=allowed) == "http://localhost:9/x"
    with pytest.raises(InvalidInput, match="private"):
        await _check_url("http://10.0.0.1/x", policy=allowed)


async def test_a_name_rebound_to_an_internal_address_after_creation_is_not_delivered_to(
    app, receiver
):
    """DNS rebinding: public at creation, loopback at delivery; the delivery is refused, logged."""
    client, runtime, team = app
    port = receiver.server.server_address[1]
    # The name resolves to a public address when subscribed, then to the receiver on 127.0.0.1.
    rebinding = dataclasses.replace(
        FAST, allow_loopback=False, resolver=scripted_dns(["93.184.215.14"], ["127.0.0.1"])
    )
    principal = Principal(sub="admin", org=team.org, roles=frozenset({"admin"}), teams=frozenset())
    sub, _ = await create_subscription(
        CreateSubscription(url=f"http://hooks.example.com:{port}/hooks", types=["target.changed"]),
        uow=runtime.uow(),
        principal=principal,
        policy=rebinding,
    )
    await deliver(runtime, reactions.on_target_changed, target_changed(team))
    assert await deliver_due(uow_factory=runtime.uow, policy=rebinding) == 1
    assert receiver.received == []
    log = await client.get(f"/v1/subscriptions/{sub.id}/deliveries", headers=team.as_admin())
    (row,) = log.json()["items"]
    assert row["status"] == "pending" and "127.0.0.1, a loopback address" in row["last_error"]

    # With loopback allowed, the same name is delivered to the address that was checked, under
    # its own Host header.
    local = dataclasses.replace(FAST, resolver=scripted_dns(["127.0.0.1"]))
    await _wait_due(runtime)
    assert await deliver_due(uow_factory=runtime.uow, policy=local) == 1
    [(headers, _body)] = receiver.received
    assert headers["host"] == f"hooks.example.com:{port}"


async def _wait_due(runtime) -> None:
    """Make the retried delivery due now (FAST backs off zero seconds, plus jitter)."""
    async with runtime.uow() as uow:
        for delivery in await uow.subscriptions.due(
            now=datetime.now(UTC) + timedelta(seconds=60), limit=10
        ):
            delivery.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
            await uow.subscriptions.add(delivery)
        await uow.commit()
