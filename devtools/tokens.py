"""Mint development tokens: python -m devtools.tokens --org ... --sub ... --roles manager.

Tokens are signed with the same settings the services verify them with (ATTAIN_JWT_SECRET,
ATTAIN_JWT_AUDIENCE), so they work with any configured secret. Minting is refused in production
and when the services only accept RS256 tokens from a JWKS.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import jwt
from pydantic import ValidationError

from shared.config import ServiceSettings


class DevTokenRefused(RuntimeError):
    """The configuration forbids development tokens, or the services would reject them."""


@dataclass(frozen=True)
class SigningKey:
    """What a development token is signed with, as the services will verify it."""

    secret: str
    audience: str | None = None


def signing_key() -> SigningKey:
    """The HS256 secret and audience the services use, read through their settings class."""
    try:
        settings = ServiceSettings()
    except ValidationError as error:
        # The settings refuse production with the development secret: say so without a trace.
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        raise DevTokenRefused(f"refusing to mint development tokens: {reasons}") from None
    if settings.env == "production":
        raise DevTokenRefused(
            "refusing to mint development tokens with ATTAIN_ENV=production: "
            "issue tokens from your identity provider instead"
        )
    if settings.jwt_jwks_url:
        raise DevTokenRefused(
            f"refusing to mint development tokens: ATTAIN_JWT_JWKS_URL is set "
            f"({settings.jwt_jwks_url}), so the services accept only RS256 tokens from that "
            "issuer; unset it for a local run"
        )
    return SigningKey(settings.jwt_secret.get_secret_value(), settings.jwt_audience)


def mint(
    *,
    org: str,
    sub: str,
    roles: Sequence[str],
    teams: Sequence[str] = (),
    secret: str | None = None,
    key: SigningKey | None = None,
    ttl_s: int = 12 * 3600,
) -> str:
    """An HS256 token with the claims the services expect (signed per the settings by default)."""
    if key is None:
        key = SigningKey(secret) if secret is not None else signing_key()
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": sub,
        "org": org,
        "roles": list(roles),
        "teams": list(teams),
        "iat": now,
        "exp": now + ttl_s,
    }
    if key.audience:
        claims["aud"] = key.audience
    return jwt.encode(claims, key.secret, algorithm="HS256")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: print one token."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--org", default=str(uuid.uuid4()))
    parser.add_argument("--sub", default=str(uuid.uuid4()))
    parser.add_argument(
        "--roles", nargs="+", default=["admin"], choices=["admin", "manager", "rep"]
    )
    parser.add_argument("--teams", nargs="*", default=[])
    parser.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds")
    args = parser.parse_args(argv)
    try:
        key = signing_key()
    except DevTokenRefused as error:
        print(error, file=sys.stderr)
        return 2
    print(
        mint(
            org=args.org,
            sub=args.sub,
            roles=args.roles,
            teams=args.teams,
            key=key,
            ttl_s=args.ttl,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
