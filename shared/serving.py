"""How every API process is served: one list of uvicorn flags for make run, tests and images."""

from __future__ import annotations

import asyncio
import json
import sys

from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http import h11_impl
from uvicorn.protocols.http.h11_impl import H11Protocol

#: Largest request head (request line + headers) h11 buffers before refusing the connection;
#: the same as nginx's large_client_header_buffers (2 x 8k) in deploy/nginx.conf.
MAX_HEADER_BYTES = 16 * 1024
#: A request head (line and headers) must be complete this long after its first byte, or after
#: the connection opened: uvicorn has no such timeout, so a client sending a header byte every
#: few seconds would hold its connection forever. Same as nginx's client_header_timeout.
HEADER_TIMEOUT_S = 10.0
#: Idle seconds a keep-alive connection is held between requests.
KEEP_ALIVE_S = 5
#: Connections plus in-flight requests per process before uvicorn answers 503: with bodies
#: capped at 1 MiB this bounds what a burst can make one process hold in memory.
LIMIT_CONCURRENCY = 200

UVICORN_FLAGS: tuple[str, ...] = (
    # h11 enforces a bound on the header block (httptools, the default, has none), with a
    # deadline for the head added below.
    "--http", "shared.serving:HeadTimeoutH11Protocol",
    "--h11-max-incomplete-event-size", str(MAX_HEADER_BYTES),
    "--timeout-keep-alive", str(KEEP_ALIVE_S),
    "--limit-concurrency", str(LIMIT_CONCURRENCY),
    "--no-server-header",
    # Requests in flight get 1 s after SIGTERM; the workers' own budget comes after it, so a
    # process exits within 5 s even mid-backlog.
    "--timeout-graceful-shutdown", "1",
)  # fmt: skip


def uvicorn_command(
    service: str, *, host: str, port: int, extra: tuple[str, ...] = ()
) -> list[str]:
    """The command line that serves one service's API with the shared limits."""
    return [
        sys.executable, "-m", "uvicorn", f"services.{service}.main:create_app", "--factory",
        "--host", host, "--port", str(port), *UVICORN_FLAGS, *extra,
    ]  # fmt: skip


def problem_bytes(status: int, reason: str, kind: str, detail: str, *headers: str) -> bytes:
    """A whole HTTP/1.1 problem response that closes the connection, for answers below the app."""
    body = json.dumps(
        {"type": f"urn:attain:problem:{kind}", "title": reason, "status": status, "detail": detail}
    ).encode()
    head = "".join(f"{h}\r\n" for h in headers)
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n{head}"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


async def problem_service_unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    """uvicorn's answer past --limit-concurrency, as a problem document with Retry-After."""
    body = json.dumps(
        {
            "type": "urn:attain:problem:overloaded",
            "title": "Service Unavailable",
            "status": 503,
            "detail": f"this process is serving its limit of {LIMIT_CONCURRENCY} connections",
        }
    ).encode()
    start = {
        "type": "http.response.start",
        "status": 503,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", b"1"),
            (b"connection", b"close"),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


# uvicorn answers an exceeded --limit-concurrency with this module-level app of h11_impl (plain
# text); with our protocol the same place answers a problem document instead.
h11_impl.service_unavailable = problem_service_unavailable  # type: ignore[attr-defined,assignment]  # private, typed by uvicorn's own ASGI TypedDicts


class HeadTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol: a deadline and a size bound on the request head, problems only."""

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _head_tail = b""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn narrows it
        """Start the head deadline as soon as the connection opens."""
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Bytes of a new head start the deadline; a complete head (a new request) stops it."""
        if self._between_requests():
            self._arm()
            if self._head_too_large(data):
                # h11 would refuse it too, but in plain text, and only once it is all buffered.
                return self._refuse(431, "Request Header Fields Too Large", "headers-too-large",
                                    f"the request head is over {MAX_HEADER_BYTES} bytes")  # fmt: skip
        super().data_received(data)
        if not self._between_requests():
            self._disarm()
            self._head_bytes, self._head_tail = 0, b""

    def _head_too_large(self, data: bytes) -> bool:
        """Count the bytes of the head being received (not the body after it) against the bound."""
        window = self._head_tail + data
        end = window.find(b"\r\n\r\n")
        if end == -1:
            self._head_bytes += len(data)
            self._head_tail = window[-3:]
        else:
            self._head_bytes += max(end + 4 - len(self._head_tail), 0)
        return self._head_bytes > MAX_HEADER_BYTES

    def send_400_response(self, msg: str) -> None:
        """A request h11 cannot parse: a problem document, then close."""
        self._refuse(400, "Bad Request", "malformed-request", msg)

    def _refuse(self, status: int, reason: str, kind: str, detail: str) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(problem_bytes(status, reason, kind, detail))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the deadline with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._between_requests():
            return
        # No request exists yet, so no app can answer: write the problem directly, then close.
        self._refuse(408, "Request Timeout", "request-timeout",
                     f"the request head did not arrive within {HEADER_TIMEOUT_S:g} s")  # fmt: skip
