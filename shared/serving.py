"""How every API process is served: one list of uvicorn flags for make run, tests and images."""

from __future__ import annotations

import sys

#: Largest request head (request line + headers) h11 buffers before refusing the connection;
#: matches nginx's large_client_header_buffers (4 x 8k) closely enough that the gateway trips first.
MAX_HEADER_BYTES = 16 * 1024
#: Idle seconds a keep-alive connection is held between requests.
KEEP_ALIVE_S = 5
#: Connections plus in-flight requests per process before uvicorn answers 503: with bodies
#: capped at 1 MiB this bounds what a burst can make one process hold in memory.
LIMIT_CONCURRENCY = 200

UVICORN_FLAGS: tuple[str, ...] = (
    # h11 enforces a bound on the header block; httptools (the default) has none.
    "--http", "h11",
    "--h11-max-incomplete-event-size", str(MAX_HEADER_BYTES),
    "--timeout-keep-alive", str(KEEP_ALIVE_S),
    "--limit-concurrency", str(LIMIT_CONCURRENCY),
    "--no-server-header",
)  # fmt: skip


def uvicorn_command(
    service: str, *, host: str, port: int, extra: tuple[str, ...] = ()
) -> list[str]:
    """The command line that serves one service's API with the shared limits."""
    return [
        sys.executable, "-m", "uvicorn", f"services.{service}.main:create_app", "--factory",
        "--host", host, "--port", str(port), *UVICORN_FLAGS, *extra,
    ]  # fmt: skip
