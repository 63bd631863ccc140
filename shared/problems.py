"""RFC 9457 problem+json responses for every error, 422 and 500 included, never a stack trace."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

from shared.domain_errors import DomainError, StaleWrite
from shared.tracing import request_id_var

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    """One invalid field of a request."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    type: str = Field("about:blank", examples=["urn:attain:problem:conflict"])
    title: str = Field(examples=["Conflict"])
    status: int = Field(examples=[409])
    detail: str | None = Field(None, examples=["not every party has been heard"])
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None

    model_config = {"extra": "allow"}


def _slug(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem_response(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str | None = None,
    type_: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build a problem+json response."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": request_id_var.get(),
    }
    body.update(extra)
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem_response(
        request,
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        type_=f"urn:attain:problem:{_slug(type(exc).__name__)}",
        headers=headers,
        **exc.extra,
    )


class RequestRefused(StarletteHTTPException):
    """A refusal raised while a request streams in (too large, too slow): a typed problem."""

    def __init__(
        self,
        status: int,
        *,
        title: str,
        detail: str,
        type_: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.title = title
        self.type_ = type_
        self.extra = extra


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, RequestRefused):
        return problem_response(
            request,
            status=exc.status_code,
            title=exc.title,
            detail=str(exc.detail),
            type_=exc.type_,
            headers=exc.headers,
            **exc.extra,
        )
    from http import HTTPStatus

    title = (
        HTTPStatus(exc.status_code).phrase
        if exc.status_code in HTTPStatus._value2member_map_
        else "Error"
    )
    return problem_response(
        request,
        status=exc.status_code,
        title=title,
        detail=str(exc.detail) if exc.detail else None,
        headers=getattr(exc, "headers", None),
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return problem_response(
        request,
        status=422,
        title="Unprocessable content",
        detail="the request does not match the schema",
        type_="urn:attain:problem:validation",
        errors=errors,
    )


# Transient database conflicts: the transaction rolled back, so retrying is safe.
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def is_transient_db_error(exc: BaseException) -> bool:
    """A deadlock, serialization failure or busy SQLite: nothing was applied; retry."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return sqlstate in _RETRYABLE_SQLSTATES or "database is locked" in str(orig)


def is_unique_violation(exc: BaseException) -> bool:
    """Two requests raced to create or change the same thing; the loser rolled back."""
    if not isinstance(exc, IntegrityError):
        return False
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return sqlstate == "23505" or "UNIQUE constraint failed" in str(orig)


def _lost_race(request: Request) -> JSONResponse:
    """A concurrent writer committed first: 412 if the caller named a version, else 409."""
    if request.headers.get("if-match") is not None:
        return problem_response(
            request,
            status=412,
            title="Precondition failed",
            detail="the resource changed while this request ran; nothing was applied, reload it",
            type_="urn:attain:problem:precondition-failed",
        )
    return problem_response(
        request,
        status=409,
        title="Conflict",
        detail="a concurrent change to the same resource won; nothing was applied, reload and retry",
        type_="urn:attain:problem:concurrent-change",
    )


async def _stale_write(request: Request, exc: Exception) -> JSONResponse:
    # StaleDataError: an ORM UPDATE ... WHERE version = :loaded matched no row (shared.db.Versioned);
    # StaleWrite: the same from a hand-written conditional update.
    assert isinstance(exc, StaleDataError | StaleWrite)
    return _lost_race(request)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if is_unique_violation(exc):
        return _lost_race(request)
    if not is_transient_db_error(exc):
        return await _unexpected(request, exc)
    log.warning("transient database conflict on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        request,
        status=503,
        title="Service unavailable",
        detail="a concurrent change conflicted with this one; nothing was applied, retry",
        type_="urn:attain:problem:retry",
        headers={"Retry-After": "1"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        request,
        status=500,
        title="Internal server error",
        detail="an unexpected error occurred; quote the request id when reporting it",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error type to a problem+json response."""
    app.add_exception_handler(StaleWrite, _stale_write)  # the most specific class wins
    app.add_exception_handler(StaleDataError, _stale_write)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)


_DESCRIPTIONS = {
    400: "The body is not well-formed JSON",
    401: "Missing or invalid token",
    403: "Not allowed for this role",
    404: "Not found (also for other organisations' ids)",
    408: "The body did not arrive in time",
    409: "Conflicts with the current state",
    412: "If-Match does not match the current ETag",
    413: "The request body is larger than this route accepts",
    415: "The body's Content-Type is not one this route reads",
    422: "Invalid input: `errors` names each field (schema), or `detail` the rule (business rule)",
    429: "Rate limit reached; retry after the Retry-After seconds",
    431: "Too many or too large request headers",
    503: "A transient conflict or an unavailable dependency; nothing was applied, retry",
}

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": description}
    for status, description in _DESCRIPTIONS.items()
}


def problem_responses(
    *statuses: int, described: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each status a problem+json, `described` in the route's words."""
    responses: dict[int | str, dict[str, Any]] = {s: PROBLEM_RESPONSES[s] for s in statuses}
    for status, description in (described or {}).items():
        responses[status] = {**PROBLEM_RESPONSES[status], "description": description}
    return responses


# Produced by middleware before any route runs, for every request.
_EVERY_OPERATION = (408, 413, 429, 431)
# Produced by authentication, the request validator and the database for every /v1 operation.
_EVERY_API_OPERATION = (401, 403, 422, 503)


def document_default_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """Add the problems the shared plumbing can answer to each operation that can meet them.

    Routes document their own outcomes (404, 409, 412...); what every route shares (malformed JSON,
    authentication, body limits, rate limits, transient database conflicts) is added here once, so
    the contract cannot drift route by route.
    """
    # The app's own `responses=` (create_service_app) puts Problem into the components.
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path, item in openapi.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "put", "post", "patch", "delete"}:
                continue
            statuses = set(_EVERY_OPERATION)
            if path.startswith("/v1/"):
                statuses |= set(_EVERY_API_OPERATION)
            if "{" in path:
                statuses.add(404)  # an unknown id, or another organisation's
            if "requestBody" in operation:
                statuses |= {400, 422}  # 400: not JSON at all; 422: JSON not matching the schema
            if operation.get("parameters"):
                statuses.add(422)
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                content = response.get("content", {})
                if status.startswith(("4", "5")) and PROBLEM_JSON in content:
                    # Errors are only ever sent as problem+json: one media type, with its schema
                    # (FastAPI would also list application/json and leave problem+json untyped).
                    response["content"] = {PROBLEM_JSON: {"schema": problem_ref}}
            for status in sorted(statuses):
                responses.setdefault(
                    str(status),
                    {
                        "description": _DESCRIPTIONS[status],
                        "content": {PROBLEM_JSON: {"schema": problem_ref}},
                    },
                )
    return openapi


async def send_problem(
    scope: Scope,
    send: Send,
    *,
    status: int,
    title: str,
    detail: str,
    type_: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
    **extra: Any,
) -> None:
    """Answer a problem+json straight from ASGI middleware, before any route runs."""
    body = {
        "type": type_,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": scope.get("path"),
        "request_id": request_id_var.get(),
        **extra,
    }
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
