"""Service-to-service reads: short-lived tokens signed with ATTAIN_SERVICE_SECRET.

User tokens never open these routes: the service secret is not the user-token secret (nor the
identity provider's key), and each token names its caller, the one service it is for, its org
and a one-minute expiry. The routes are kept out of the public OpenAPI documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth import Unauthorized

PREFIX = "/internal/v1"
_LIFETIME = timedelta(seconds=60)
_bearer = HTTPBearer(auto_error=False)


def _audience(service: str) -> str:
    return f"attain-internal:{service}"


def service_token(*, secret: str, caller: str, service: str, org: UUID) -> str:
    """A token letting `caller` read `service`'s internal routes for one org, for a minute."""
    now = datetime.now(UTC)
    claims = {
        "iss": caller,
        "aud": _audience(service),
        "org": str(org),
        "iat": int(now.timestamp()),
        "exp": int((now + _LIFETIME).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass(frozen=True)
class ServiceCaller:
    """Another Attain service reading on behalf of one org."""

    name: str
    org: UUID


async def service_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ServiceCaller:
    """The calling service, from a token signed with the service secret for this service."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing service token")
    settings = request.app.state.runtime.settings
    if not settings.service_secret_usable():
        raise Unauthorized("set ATTAIN_SERVICE_SECRET: production refuses the development one")
    try:
        claims = jwt.decode(
            credentials.credentials,
            settings.service_secret.get_secret_value(),
            algorithms=["HS256"],
            audience=_audience(settings.service_name),
            options={"require": ["exp", "iss", "aud", "org"]},
        )
        return ServiceCaller(name=str(claims["iss"]), org=UUID(str(claims["org"])))
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise Unauthorized(f"invalid service token: {exc}") from exc


InternalCaller = Annotated[ServiceCaller, Depends(service_caller)]
