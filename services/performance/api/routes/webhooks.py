"""CRM webhook intake and webhook secret rotation."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from services.performance.adapters.crm import salesforce
from services.performance.adapters.crm.registry import Source
from services.performance.api.deps import NowDep, RuntimeDep
from services.performance.api.schemas import SecretRotated, SecretRotation, WebhookAccepted
from services.performance.handlers.webhooks import (
    IngestResult,
    IngestWebhook,
    IntakeLimits,
    RotateSecret,
    ingest_webhook,
    rotate_secret,
)
from shared.auth import AdminPrincipal
from shared.problems import problem_responses

router = APIRouter(tags=["webhooks"])

_RAW_BODY = {"requestBody": {"required": True, "content": {"application/json": {}}}}
_WEBHOOK_PROBLEMS = problem_responses(
    400,
    401,
    described={
        400: "Malformed delivery (not retried by CRMs)",
        401: "Bad signature or credentials, or stale",
    },
)


async def _ingest(
    request: Request, runtime: RuntimeDep, now: NowDep, org_id: uuid.UUID, source: str
) -> IngestResult:
    body = await request.body()  # verified on the raw bytes, never re-serialised
    url = runtime.settings.public_base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    settings = runtime.settings
    return await ingest_webhook(
        IngestWebhook(
            org_id=org_id, source=source, body=body, headers=dict(request.headers), url=url
        ),
        uow_factory=runtime.uow,
        adapters=runtime.adapters,
        store=runtime.delivery_writer,
        active_secrets=runtime.secret_cache.active,
        now=now,
        limits=IntakeLimits(
            head_bytes=settings.webhook_rejection_head_bytes,
            max_rejections=settings.webhook_rejection_max_rows,
        ),
        on_rejected=lambda source, reason, recorded: runtime.metrics.webhooks_rejected.labels(
            source=source, reason=reason, recorded=str(recorded).lower()
        ).inc(),
    )


def _accepted(result: IngestResult) -> WebhookAccepted:
    return WebhookAccepted(delivery_id=result.delivery_id)


@router.post(
    "/v1/webhooks/{org_id}/generic",
    status_code=202,
    response_model=WebhookAccepted,
    responses=_WEBHOOK_PROBLEMS,
    openapi_extra=_RAW_BODY,
)
async def receive_generic_webhook(
    org_id: uuid.UUID, request: Request, runtime: RuntimeDep, now: NowDep
) -> WebhookAccepted:
    """Receive a sale in our own format, signed per Standard Webhooks 1.0."""
    return _accepted(await _ingest(request, runtime, now, org_id, "generic"))


@router.post(
    "/v1/webhooks/{org_id}/hubspot",
    status_code=202,
    response_model=WebhookAccepted,
    responses=_WEBHOOK_PROBLEMS,
    openapi_extra=_RAW_BODY,
)
async def receive_hubspot_webhook(
    org_id: uuid.UUID, request: Request, runtime: RuntimeDep, now: NowDep
) -> WebhookAccepted:
    """Receive HubSpot deal events (signature v3); the processor reads won deals back later."""
    return _accepted(await _ingest(request, runtime, now, org_id, "hubspot"))


@router.post(
    "/v1/webhooks/{org_id}/pipedrive",
    status_code=202,
    response_model=WebhookAccepted,
    responses=_WEBHOOK_PROBLEMS,
    openapi_extra=_RAW_BODY,
)
async def receive_pipedrive_webhook(
    org_id: uuid.UUID, request: Request, runtime: RuntimeDep, now: NowDep
) -> WebhookAccepted:
    """Receive a Pipedrive v2 deal webhook (HTTP Basic credentials)."""
    return _accepted(await _ingest(request, runtime, now, org_id, "pipedrive"))


@router.post(
    "/v1/webhooks/{org_id}/salesforce",
    status_code=200,
    response_class=Response,
    responses={
        200: {"content": {"text/xml": {}}, "description": "The SOAP acknowledgement"},
        **_WEBHOOK_PROBLEMS,
    },
    openapi_extra={"requestBody": {"required": True, "content": {"text/xml": {}}}},
)
async def receive_salesforce_webhook(
    org_id: uuid.UUID, request: Request, runtime: RuntimeDep, now: NowDep
) -> Response:
    """Receive a Salesforce Outbound Message and acknowledge it with <Ack>true</Ack>."""
    await _ingest(request, runtime, now, org_id, "salesforce")
    return Response(salesforce.ACK_RESPONSE, media_type=salesforce.ACK_CONTENT_TYPE)


@router.put(
    "/v1/webhook-secrets/{source}",
    response_model=SecretRotated,
    responses=problem_responses(401, 403, 422),
)
async def rotate_webhook_secret(
    source: Source,
    body: SecretRotation,
    principal: AdminPrincipal,
    runtime: RuntimeDep,
    now: NowDep,
) -> SecretRotated:
    """Activate a new webhook secret; the previous ones stay valid for the overlap window."""
    result = await rotate_secret(
        RotateSecret(
            source=source,
            secret=body.secret,
            overlap_seconds=body.overlap_seconds,
            api_token=body.api_token,
        ),
        uow=runtime.uow(),
        org_id=principal.org,
        now=now,
        default_overlap_s=runtime.settings.webhook_secret_overlap_s,
        adapters=runtime.adapters,
    )
    runtime.secret_cache.invalidate(org_id=principal.org, source=source)
    return SecretRotated(
        secret_id=result.secret_id,
        source=result.source,
        active_since=result.active_since,
        previous_valid_until=result.previous_valid_until,
    )
