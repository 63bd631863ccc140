"""Idempotency-Key for creates: a retry with the same key and body replays the first response."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import TokenVerifier
from shared.db import PlumbingTables
from shared.problems import PROBLEM_JSON

#: Longest Idempotency-Key the middleware stores (a longer one is a 422).
KEY_MAX_LENGTH = 255

_REPLAYED_HEADERS = {b"content-type", b"etag", b"location"}
# A claimed key with no answer after this long belongs to a request that died (crash, kill).
ABANDONED_AFTER_S = 60
# Stored answers are kept this long; a retry after that runs the request again.
RETENTION_HOURS = 24


async def purge_idempotency_keys(engine: AsyncEngine, plumbing: PlumbingTables) -> int:
    """Forget stored answers older than the retention window."""
    table = plumbing.idempotency
    cutoff = datetime.now(UTC) - timedelta(hours=RETENTION_HOURS)
    async with engine.begin() as conn:
        result = await conn.execute(table.delete().where(table.c.created_at < cutoff))
    return result.rowcount or 0


class IdempotencyMiddleware:
    """Stores each keyed POST's 2xx response per (org, route, key) and replays it on retries."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        engine: AsyncEngine,
        plumbing: PlumbingTables,
        verifier: TokenVerifier,
    ) -> None:
        self.app = app
        self._engine = engine
        self._table = plumbing.idempotency
        self._verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        key = headers.get(b"idempotency-key", b"").decode("latin-1")
        org = self._org_of(headers) if key and scope.get("method") == "POST" else None
        if org is None:
            await self.app(scope, receive, send)
            return
        if len(key) > KEY_MAX_LENGTH:
            await _problem(send, 422, "Idempotency-Key must be at most 255 characters")
            return
        body = await _read_body(receive)
        scope_name = f"POST {scope['path']}"
        digest = hashlib.sha256(scope_name.encode() + b"\n" + body).hexdigest()
        ident = {"org_id": org, "scope": scope_name[:300], "key": key}
        if not await self._claim(ident, digest) and not await self._reclaim_abandoned(
            ident, digest
        ):
            await self._answer_existing(ident, digest, send)
            return
        captured: dict[str, Any] = {"status": 500, "headers": [], "body": b""}

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            await self._settle(ident, captured)

    def _org_of(self, headers: dict[bytes, bytes]) -> str | None:
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if not auth.lower().startswith("bearer "):
            return None
        try:
            return str(self._verifier.verify(auth[7:]).org)
        except Exception:
            return None  # the route itself answers 401

    async def _claim(self, ident: dict[str, str], digest: str) -> bool:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    self._table.insert().values(
                        **ident, request_hash=digest, created_at=datetime.now(UTC)
                    )
                )
            return True
        except IntegrityError:
            return False

    async def _reclaim_abandoned(self, ident: dict[str, str], digest: str) -> bool:
        """Take over a claim whose request died mid-way (a crash), so retries are not stuck."""
        cutoff = datetime.now(UTC) - timedelta(seconds=ABANDONED_AFTER_S)
        where = [self._table.c[k] == v for k, v in ident.items()]
        async with self._engine.begin() as conn:
            result = await conn.execute(
                self._table.delete().where(
                    *where,
                    self._table.c.status_code.is_(None),
                    self._table.c.created_at < cutoff,
                )
            )
        return bool(result.rowcount) and await self._claim(ident, digest)

    async def _answer_existing(self, ident: dict[str, str], digest: str, send: Send) -> None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(self._table).filter_by(**ident))).first()
        if row is None:
            await _problem(send, 409, "a request with this Idempotency-Key just failed; retry")
        elif row.request_hash != digest:
            await _problem(send, 422, "this Idempotency-Key was used with a different request body")
        elif row.status_code is None:
            await _problem(send, 409, "a request with this Idempotency-Key is still in progress")
        else:
            stored = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in row.response_headers]
            await send({"type": "http.response.start", "status": row.status_code,
                        "headers": [*stored, (b"idempotent-replayed", b"true")]})  # fmt: skip
            await send({"type": "http.response.body", "body": row.response_body or b""})

    async def _settle(self, ident: dict[str, str], captured: dict[str, Any]) -> None:
        where = [self._table.c[k] == v for k, v in ident.items()]
        async with self._engine.begin() as conn:
            if 200 <= captured["status"] < 300:
                kept = [
                    [k.decode("latin-1"), v.decode("latin-1")]
                    for k, v in captured["headers"]
                    if k.lower() in _REPLAYED_HEADERS
                ]
                await conn.execute(
                    self._table.update()
                    .where(*where)
                    .values(
                        status_code=captured["status"],
                        response_headers=kept,
                        response_body=captured["body"],
                    )
                )
            else:
                # Failed requests change nothing, so the same key may simply be retried.
                await conn.execute(self._table.delete().where(*where))


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _problem(send: Send, status: int, detail: str) -> None:
    title = {409: "Conflict", 422: "Unprocessable content"}[status]
    body = json.dumps(
        {
            "type": "urn:attain:problem:idempotency",
            "title": title,
            "status": status,
            "detail": detail,
        }
    ).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM_JSON.encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def document_idempotency_key(openapi: dict[str, Any], *, except_prefix: str) -> dict[str, Any]:
    """State the Idempotency-Key header, and what it can answer, on every POST a token calls."""
    problem = {"content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for path, item in openapi.get("paths", {}).items():
        operation = item.get("post")
        if operation is None or path.startswith(except_prefix):
            continue  # webhooks carry no token, so the middleware never keys them
        operation.setdefault("parameters", []).append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": KEY_MAX_LENGTH},
                "description": (
                    "Retry-safe POST: a retry with the same key and body replays the first 2xx "
                    "answer (with Idempotent-Replayed: true) instead of acting twice"
                ),
            }
        )
        responses = operation.setdefault("responses", {})
        responses.setdefault(
            "409", {"description": "A request with this key is still running, or just failed"}
        ).update(problem)
        responses.setdefault(
            "422", {"description": "This key was used with a different request body"}
        ).update(problem)
    return openapi
