"""JSON logs with request ids, and the ASGI middleware that times and counts requests."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from typing import Any

from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import ServiceMetrics
from shared.tracing import child_traceparent, request_id_var, traceparent_var

access_log = logging.getLogger("attain.access")


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self._service
        record.request_id = request_id_var.get()
        record.traceparent = traceparent_var.get()
        return True


def configure_logging(*, service: str, level: str = "INFO") -> None:
    """Send JSON log lines with service, request id and trace to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level"}
        )
    )
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


class RequestContextMiddleware:
    """Assigns a request id and trace, then records latency and status per route template."""

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:100] or uuid.uuid4().hex
        parent = headers.get(b"traceparent", b"").decode("latin-1") or None
        rid_token = request_id_var.set(request_id)
        trace_token = traceparent_var.set(child_traceparent(parent))
        started = time.perf_counter()
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                nonlocal started_response
                started_response = True
                status = message["status"]
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        (b"x-request-id", request_id.encode()),
                    ],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Answer here, inside the request context, so the 500 carries the request id.
            access_log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if status == 500 and not started_response:
                await send_with_id(dict(_INTERNAL_ERROR_START))
                await send_with_id({"type": "http.response.body", "body": _internal_error_body()})
        finally:
            elapsed = time.perf_counter() - started
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.http_requests.labels(
                method=method, route=template, status=str(status)
            ).inc()
            self.metrics.http_latency.labels(method=method, route=template).observe(elapsed)
            if template not in ("/healthz", "/readyz", "/metrics"):
                access_log.info(
                    "request",
                    extra={"method": method, "path": scope.get("path"), "status": status,
                           "duration_ms": round(elapsed * 1000, 2)},
                )  # fmt: skip
            request_id_var.reset(rid_token)
            traceparent_var.reset(trace_token)


_INTERNAL_ERROR_START: Message = {
    "type": "http.response.start",
    "status": 500,
    "headers": [(b"content-type", b"application/problem+json")],
}


def _internal_error_body() -> bytes:
    return json.dumps(
        {
            "type": "about:blank",
            "title": "Internal server error",
            "status": 500,
            "detail": "an unexpected error occurred; quote the request id when reporting it",
            "request_id": request_id_var.get(),
        }
    ).encode()
