"""Rate limits per token (API) and per client address (webhooks, anonymous calls), as 429 problems.

Counting uses the `limits` library's sliding-window counter on in-process memory: O(1) per key,
no burst at window edges, async-native. Each process counts on its own; the compose gateway
(nginx limit_req) is the shared limit in front of all replicas.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import TokenVerifier
from shared.bodylimit import route_path
from shared.metrics import ServiceMetrics
from shared.problems import send_problem

_WHO = {"token": "token", "address": "client address"}
#: Answers that mean a webhook delivery was refused; each spends the address's refusal budget.
REFUSED_STATUSES = frozenset({400, 401, 403, 404, 405, 408, 413, 415, 422, 431})


@dataclass(frozen=True)
class RateLimits:
    """Limits in the `limits` notation ("1200/minute", "10 per second")."""

    api_per_token: str = "1200/minute"
    api_per_address: str = "300/minute"
    webhooks_per_address: str = "1200/minute"
    webhook_refusals_per_address: str = "60/minute"
    webhook_prefix: str = "/v1/webhooks/"
    exempt: Sequence[str] = ("/healthz", "/readyz", "/metrics")


class RateLimitMiddleware:
    """Spends a request from its bucket before the app runs; an empty bucket is a 429."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: RateLimits,
        verifier: TokenVerifier,
        metrics: ServiceMetrics,
    ) -> None:
        self.app = app
        self.config = limits
        self.verifier = verifier
        self.metrics = metrics
        self.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self.per_token = parse(limits.api_per_token)
        self.per_address = parse(limits.api_per_address)
        self.webhooks = parse(limits.webhooks_per_address)
        self.refusals = parse(limits.webhook_refusals_per_address)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if path in self.config.exempt:
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown",))[0]
        if path.startswith(self.config.webhook_prefix):
            await self._webhook(scope, receive, send, address)
            return
        item, kind, key = self._api_bucket(scope, address)
        if not await self.limiter.hit(item, kind, key):
            await self._too_many(
                scope, send, item, (kind, key), who=f"requests from this {_WHO[kind]}"
            )
            return
        await self.app(scope, receive, send)

    async def _webhook(self, scope: Scope, receive: Receive, send: Send, address: str) -> None:
        # An address whose deliveries keep being refused is turned away before its body is read.
        if not await self.limiter.test(self.refusals, "webhook-refusals", address):
            await self._too_many(
                scope,
                send,
                self.refusals,
                ("webhook-refusals", address),
                who="refused deliveries from this client address",
            )
            return
        if not await self.limiter.hit(self.webhooks, "webhooks", address):
            await self._too_many(
                scope,
                send,
                self.webhooks,
                ("webhooks", address),
                who="deliveries from this client address",
            )
            return
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if status in REFUSED_STATUSES:
                await self.limiter.hit(self.refusals, "webhook-refusals", address)

    def _api_bucket(self, scope: Scope, address: str) -> tuple[RateLimitItem, str, str]:
        """A verified token has its own bucket; anything else shares its address's."""
        for name, value in scope.get("headers") or []:
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                token = value[7:].decode("latin-1")
                try:
                    self.verifier.verify(token)
                except Exception:
                    break  # a forged token must not buy a fresh bucket
                return self.per_token, "token", hashlib.sha256(token.encode()).hexdigest()
        return self.per_address, "address", address

    async def _too_many(
        self, scope: Scope, send: Send, item: RateLimitItem, key: tuple[str, str], *, who: str
    ) -> None:
        stats = await self.limiter.get_window_stats(item, *key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        self.metrics.http_refused.labels(reason="rate_limited").inc()
        headers = [(b"retry-after", str(retry_after).encode())]
        if _has_body(scope):
            # The body was not read; closing stops the client from sending the rest.
            headers.append((b"connection", b"close"))
        await send_problem(
            scope, send, status=429, title="Too many requests",
            detail=f"more than {item} {who}; retry after {retry_after} s",
            type_="urn:attain:problem:rate-limited", headers=headers,
            limit=str(item), retry_after_s=retry_after,
        )  # fmt: skip


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers") or []:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False
