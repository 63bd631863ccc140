"""The FastAPI factory every service uses: middleware, problems, health, metrics, admin routes."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AwareDatetime, BaseModel, Field

from shared.auth import AdminPrincipal
from shared.bodylimit import BodyLimitMiddleware, BodyLimits
from shared.domain_errors import InvalidInput, NotFound
from shared.heap import freeze_startup_heap
from shared.http import Cursor, Page, keyset, page_of
from shared.idempotency import IdempotencyMiddleware, document_idempotency_key
from shared.observability import RequestContextMiddleware, configure_logging
from shared.problems import (
    PROBLEM_JSON,
    document_default_problems,
    install_problem_handlers,
    problem_responses,
)
from shared.ratelimit import RateLimitMiddleware, RateLimits
from shared.runtime import ServiceRuntime
from shared.uow import UnitOfWork

#: Routes CRMs call without a token; they get their own body size and rate limits.
WEBHOOK_PREFIX = "/v1/webhooks/"


def create_service_app(
    *,
    runtime: ServiceRuntime[UnitOfWork],
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    tags: Sequence[dict[str, str]] = (),
    configure_logs: bool = True,
) -> FastAPI:
    """Build a service app around its runtime; workers start in the lifespan when configured."""
    settings = runtime.settings
    if configure_logs:
        configure_logging(service=settings.service_name, level=settings.log_level)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.run_workers:
            await runtime.start_workers()
        if settings.gc_freeze_at_start:
            freeze_startup_heap()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        openapi_tags=[*tags, {"name": "operations", "description": "Health, metrics and replay."}],
        generate_unique_id_function=lambda route: route.name,
        responses=problem_responses(401, 413, 422, 429),
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.verifier = runtime.verifier
    install_problem_handlers(app)
    app.add_middleware(
        IdempotencyMiddleware,
        engine=runtime.engine,
        plumbing=runtime.plumbing,
        verifier=runtime.verifier,
    )
    app.add_middleware(
        BodyLimitMiddleware,
        limits=BodyLimits(
            default_bytes=settings.max_body_bytes,
            by_prefix=settings.body_limits_by_prefix(),
            body_timeout_s=settings.body_timeout_s,
            max_header_count=settings.max_header_count,
            max_header_bytes=settings.max_header_bytes,
        ),
        metrics=runtime.metrics,
    )
    if settings.rate_limit_enabled:
        app.add_middleware(
            RateLimitMiddleware,
            limits=RateLimits(
                api_per_token=settings.rate_limit_api_per_token,
                api_per_address=settings.rate_limit_api_per_address,
                webhooks_per_address=settings.rate_limit_webhooks_per_address,
                webhook_refusals_per_address=settings.rate_limit_webhook_refusals_per_address,
                webhook_prefix=WEBHOOK_PREFIX,
            ),
            verifier=runtime.verifier,
            metrics=runtime.metrics,
        )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins or [],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["ETag", "Location", "X-Request-ID", "Idempotent-Replayed", "Retry-After"],
    )
    app.add_middleware(RequestContextMiddleware, metrics=runtime.metrics)
    app.include_router(operations_router())
    for router in routers:
        app.include_router(router)
    _document_shared_problems(app)
    return app


def _document_shared_problems(app: FastAPI) -> None:
    """Generate the OpenAPI once, then add what the shared middleware does to every route."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = document_idempotency_key(generate(), except_prefix=WEBHOOK_PREFIX)
            app.openapi_schema = document_default_problems(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


class Readiness(BaseModel):
    """Readiness of each dependency."""

    status: str = Field(examples=["ok"])
    checks: dict[str, str] = Field(examples=[{"database": "ok", "broker": "ok", "consumer": "ok"}])


class ReplayRequest(BaseModel):
    """Re-publish outbox events created at or after this instant."""

    since: AwareDatetime = Field(
        examples=["2026-12-01T00:00:00Z"], description="An instant with its UTC offset"
    )

    def since_utc(self) -> datetime:
        """The instant in UTC, as the database compares it; a 422 when it has none."""
        try:
            return self.since.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is a valid RFC 3339 text, yet before year 1
            raise InvalidInput("since is out of range", field="since") from None


class ReplayResult(BaseModel):
    """How many events were queued again."""

    requeued: int


class DeadLetterRead(BaseModel):
    """A record a consumer gave up on, with its error."""

    id: str
    consumer: str
    topic: str
    partition: int
    offset: int
    error_type: str
    error: str
    failed_at: datetime
    replayed_at: datetime | None


def get_runtime(request: Request) -> ServiceRuntime[UnitOfWork]:
    """The process's runtime, built by the app factory."""
    runtime: ServiceRuntime[UnitOfWork] = request.app.state.runtime
    return runtime


_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def request_uow(request: Request) -> UnitOfWork:
    """A unit of work for a request: reads get the read pool, so they never wait on a writer."""
    return get_runtime(request).uow(read_only=request.method in _READS)


def operations_router() -> APIRouter:
    """Health, readiness, metrics, outbox replay and dead letters."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Process is alive")
    async def healthz() -> dict[str, str]:
        """Answer while the process runs."""
        return {"status": "ok"}

    @router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
    async def readyz(request: Request) -> JSONResponse:
        """Ready when the database and broker are reachable and the consumer makes progress."""
        checks = await request.app.state.runtime.readiness()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics", response_class=Response, summary="Prometheus metrics")
    async def metrics(request: Request) -> Response:
        """Prometheus text exposition of this service's metrics."""
        registry = request.app.state.runtime.metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @router.post("/v1/admin/outbox/replay", response_model=ReplayResult)
    async def replay_outbox(
        body: ReplayRequest, request: Request, principal: AdminPrincipal
    ) -> ReplayResult:
        """Re-publish this org's events since an instant (same ids: consumers skip what they saw)."""
        relay = request.app.state.runtime.relay
        return ReplayResult(
            requeued=await relay.replay(since=body.since_utc(), tenant_id=str(principal.org))
        )

    @router.get("/v1/admin/dead-letters", response_model=Page[DeadLetterRead])
    async def list_dead_letters(
        request: Request,
        principal: AdminPrincipal,
        limit: int = Query(50, ge=1, le=500),
        cursor: Cursor = None,
    ) -> Page[DeadLetterRead]:
        """This org's records a consumer gave up on, oldest first."""
        runtime: ServiceRuntime[UnitOfWork] = request.app.state.runtime
        table = runtime.plumbing.dead_letter
        mine = sa.select(table).where(table.c.tenant_id == str(principal.org))
        stmt = keyset(mine, [table.c.failed_at, table.c.id], cursor, limit)
        async with runtime.read_engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        items, next_cursor = page_of(rows, limit, lambda r: (r.failed_at.isoformat(), r.id))
        return Page[DeadLetterRead](
            items=[DeadLetterRead.model_validate(r, from_attributes=True) for r in items],
            next_cursor=next_cursor,
        )

    @router.post("/v1/admin/dead-letters/{dead_letter_id}/replay", response_model=DeadLetterRead)
    async def replay_dead_letter(
        dead_letter_id: Annotated[str, Path(max_length=64)],
        request: Request,
        principal: AdminPrincipal,
    ) -> DeadLetterRead:
        """Send a dead letter's original bytes back to its original topic."""
        runtime: ServiceRuntime[UnitOfWork] = request.app.state.runtime
        table = runtime.plumbing.dead_letter
        mine = (table.c.id == dead_letter_id) & (table.c.tenant_id == str(principal.org))
        async with runtime.engine.connect() as conn:
            row = (await conn.execute(sa.select(table).where(mine))).first()
        if row is None:
            raise NotFound("no such dead letter")
        headers = [(k, base64.b64decode(v)) for k, v in row.headers]
        await runtime.dead_letters.republish(
            topic=row.topic, key=row.key, value=row.value, headers=headers
        )
        async with runtime.engine.begin() as conn:
            await conn.execute(
                table.update().where(table.c.id == dead_letter_id).values(replayed_at=sa.func.now())
            )
            row = (await conn.execute(sa.select(table).where(table.c.id == dead_letter_id))).one()
        return DeadLetterRead.model_validate(row, from_attributes=True)

    return router


__all__ = ["PROBLEM_JSON", "create_service_app"]
