"""Bearer JWT authentication: HS256 in development, RS256 via JWKS in production."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.config import ServiceSettings
from shared.domain_errors import DomainError, Forbidden

ROLES = frozenset({"admin", "manager", "rep"})


class Unauthorized(DomainError):
    """Missing or invalid credentials."""

    status = 401
    title = "Unauthorized"


@dataclass(frozen=True)
class Principal:
    """Who is calling: subject (a member id for reps), organisation, roles and teams."""

    sub: str
    org: UUID
    roles: frozenset[str]
    teams: frozenset[UUID]

    @property
    def is_admin(self) -> bool:
        """Org-wide administrator."""
        return "admin" in self.roles

    @property
    def member_id(self) -> UUID | None:
        """The caller as a member (reps and managers use their member id as sub)."""
        try:
            return UUID(self.sub)
        except ValueError:
            return None

    def manages(self, team_id: UUID) -> bool:
        """Admin, or a manager whose token lists this team."""
        return self.is_admin or ("manager" in self.roles and team_id in self.teams)

    def belongs_to(self, team_id: UUID) -> bool:
        """Admin, or anyone whose token lists this team."""
        return self.is_admin or team_id in self.teams


class TokenVerifier:
    """Decodes and checks tokens with pinned algorithms; never accepts 'none'."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._audience = settings.jwt_audience
        if settings.jwt_jwks_url:
            self._jwks: jwt.PyJWKClient | None = jwt.PyJWKClient(
                settings.jwt_jwks_url, cache_keys=True
            )
            self._algorithms = ["RS256"]
            self._secret: str = ""
        else:
            self._jwks = None
            self._algorithms = ["HS256"]
            self._secret = settings.jwt_secret.get_secret_value()

    def verify(self, token: str) -> Principal:
        """Return the principal of a valid token or raise Unauthorized."""
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._secret
            claims = jwt.decode(
                token,
                key=key,
                algorithms=self._algorithms,
                audience=self._audience,
                options={
                    "require": ["exp", "sub", "org"],
                    "verify_aud": self._audience is not None,
                },
            )
            roles = frozenset(claims.get("roles") or [])
            return Principal(
                sub=str(claims["sub"]),
                org=UUID(str(claims["org"])),
                roles=roles & ROLES,
                teams=frozenset(UUID(str(t)) for t in claims.get("teams") or []),
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Unauthorized(f"invalid token: {exc}") from exc


_bearer = HTTPBearer(auto_error=False, description="JWT with claims sub, org, roles, teams, exp")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller, from the Authorization: Bearer header."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token")
    principal: Principal = request.app.state.verifier.verify(credentials.credentials)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only callers holding one of the roles."""

    async def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.roles & set(roles):
            raise Forbidden(f"requires one of the roles: {', '.join(roles)}")
        return principal

    return _check


AdminPrincipal = Annotated[Principal, Depends(require_roles("admin"))]
ManagerPrincipal = Annotated[Principal, Depends(require_roles("admin", "manager"))]
