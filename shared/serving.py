"""How every API process is served: one list of uvicorn flags for make run, tests and images."""

from __future__ import annotations

import asyncio
import json
import sys

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


class HeadTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head is not in by the deadline."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the head deadline as soon as the connection opens."""
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Bytes of a new head start the deadline; a complete head (a new request) stops it."""
        if self._between_requests():
            self._arm()
        super().data_received(data)
        if not self._between_requests():
            self._disarm()

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
        body = json.dumps(
            {
                "type": "urn:attain:problem:request-timeout",
                "title": "Request timeout",
                "status": 408,
                "detail": f"the request head did not arrive within {HEADER_TIMEOUT_S:g} s",
            }
        ).encode()
        head = (
            "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode()
        self.transport.write(head + body)
        self.transport.close()
