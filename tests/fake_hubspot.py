"""A real HTTP server on 127.0.0.1 playing HubSpot's CRM objects API (deal read-back)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serve_fake_hubspot(token: str, deals: dict[str, bytes] | None = None) -> Iterator[dict]:
    """Serve ``GET /crm/v3/objects/deals/{id}`` for ``deals`` (id -> body) to ``token``'s bearer.

    Yields ``url``, the ``calls`` seen, a mutable ``state`` (``status`` to answer) and ``deals``,
    which callers may extend while it runs.
    """
    calls: list[dict] = []
    state: dict = {"status": 200}
    served: dict[str, bytes] = dict(deals or {})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            calls.append({"path": self.path, "auth": self.headers.get("Authorization")})
            path, _, query = self.path.partition("?")
            deal = served.get(path.removeprefix("/crm/v3/objects/deals/"))
            ok_path = path.startswith("/crm/v3/objects/deals/") and query and deal is not None
            ok_auth = self.headers.get("Authorization") == f"Bearer {token}"
            status = state["status"] if ok_path and ok_auth else 404 if ok_auth else 401
            body = deal if status == 200 and deal is not None else b'{"status":"error"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {
            "url": f"http://127.0.0.1:{server.server_port}",
            "calls": calls,
            "state": state,
            "deals": served,
        }
    finally:
        server.shutdown()
        server.server_close()
