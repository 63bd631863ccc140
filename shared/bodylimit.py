"""Bounded requests: body size per route class and a body deadline, enforced while bytes arrive."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import ServiceMetrics
from shared.problems import RequestRefused, send_problem

# The connection is closed after a refusal, so a client still sending is cut off.
_CLOSE = {"Connection": "close"}


@dataclass(frozen=True)
class BodyLimits:
    """How much a request may send: bytes per path prefix, a deadline, a header count."""

    default_bytes: int
    #: (path prefix, max bytes); the first matching prefix wins.
    by_prefix: Sequence[tuple[str, int]] = ()
    body_timeout_s: float = 30.0
    max_header_count: int = 100
    max_header_bytes: int = 16 * 1024

    def for_path(self, path: str) -> int:
        """The byte limit of a route class."""
        return next(
            (n for prefix, n in self.by_prefix if path.startswith(prefix)), self.default_bytes
        )


def too_large(limit: int) -> RequestRefused:
    """The 413 problem of a body past its route class's limit."""
    return RequestRefused(
        413,
        title="Content too large",
        detail=f"the request body exceeds {limit} bytes, the limit of this route",
        type_="urn:attain:problem:content-too-large",
        headers=_CLOSE,
        max_bytes=limit,
    )


def too_slow(timeout_s: float) -> RequestRefused:
    """The 408 problem of a body that did not arrive in time."""
    return RequestRefused(
        408,
        title="Request timeout",
        detail=f"the request body did not arrive within {timeout_s:g} s",
        type_="urn:attain:problem:request-timeout",
        headers=_CLOSE,
        timeout_s=timeout_s,
    )


class BodyLimitMiddleware:
    """Refuses oversize, slow or header-stuffed requests without buffering their bodies."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits, metrics: ServiceMetrics) -> None:
        self.app = app
        self.limits = limits
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        # h11 bounds a head that arrives in pieces; one that arrives in a single read is not.
        head_bytes = sum(len(name) + len(value) for name, value in headers)
        if len(headers) > self.limits.max_header_count or head_bytes > self.limits.max_header_bytes:
            self.metrics.http_refused.labels(reason="headers_too_large").inc()
            await send_problem(
                scope, send, status=431, title="Request header fields too large",
                detail=f"more than {self.limits.max_header_count} header fields or "
                f"{self.limits.max_header_bytes} bytes of headers",
                type_="urn:attain:problem:headers-too-large", headers=[(b"connection", b"close")],
            )  # fmt: skip
            return
        limit = self.limits.for_path(route_path(scope))
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            # Refused from the header alone: not one byte of the body is read.
            await self._refuse(scope, send, too_large(limit), reason="body_too_large")
            return
        guard = _BodyGuard(receive, limit=limit, timeout_s=self.limits.body_timeout_s)
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guard.receive, tracking_send)
        except RequestRefused as refusal:
            # Raised by the guard outside any route (e.g. the idempotency middleware reads first).
            if started or refusal.status_code not in (408, 413):
                raise
            reason = "body_too_large" if refusal.status_code == 413 else "body_timeout"
            await self._refuse(scope, send, refusal, reason=reason)
            return
        if guard.refused:
            self.metrics.http_refused.labels(reason=guard.refused).inc()

    async def _refuse(
        self, scope: Scope, send: Send, refusal: RequestRefused, *, reason: str
    ) -> None:
        self.metrics.http_refused.labels(reason=reason).inc()
        await send_problem(
            scope, send, status=refusal.status_code, title=refusal.title,
            detail=str(refusal.detail), type_=refusal.type_,
            headers=[(b"connection", b"close")], **refusal.extra,
        )  # fmt: skip


class _BodyGuard:
    """A receive() that counts body bytes and gives the whole body one deadline."""

    def __init__(self, receive: Receive, *, limit: int, timeout_s: float) -> None:
        self._receive = receive
        self._limit = limit
        self._timeout_s = timeout_s
        self._deadline = asyncio.get_running_loop().time() + timeout_s
        self._received = 0
        self._done = False
        self.refused: str | None = None

    async def receive(self) -> Message:
        if self._done:
            # After the body only http.disconnect can come; waiting for it is not bounded here.
            return await self._receive()
        remaining = self._deadline - asyncio.get_running_loop().time()
        try:
            # A total deadline, not an idle one: one byte a second would never trip an idle timer.
            async with asyncio.timeout(max(remaining, 0)):
                message = await self._receive()
        except TimeoutError:
            self.refused = "body_timeout"
            raise too_slow(self._timeout_s) from None
        if message["type"] != "http.request":
            self._done = True
            return message
        self._received += len(message.get("body", b""))
        if self._received > self._limit:
            self.refused = "body_too_large"
            raise too_large(self._limit)
        if not message.get("more_body", False):
            self._done = True
        return message


def route_path(scope: Scope) -> str:
    """The path routes match on (without the root path a proxy prefix adds)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser refuses a malformed length before we see it
    return None
