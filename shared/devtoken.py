"""Mint development tokens: python -m shared.devtoken --org ... --sub ... --roles manager."""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Sequence

import jwt

from shared.config import DEV_JWT_SECRET, ServiceSettings


def mint(
    *,
    org: str,
    sub: str,
    roles: Sequence[str],
    teams: Sequence[str] = (),
    secret: str = DEV_JWT_SECRET,
    ttl_s: int = 12 * 3600,
) -> str:
    """An HS256 token with the claims the services expect."""
    now = int(time.time())
    claims = {
        "sub": sub,
        "org": org,
        "roles": list(roles),
        "teams": list(teams),
        "iat": now,
        "exp": now + ttl_s,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: print one token."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--org", default=str(uuid.uuid4()))
    parser.add_argument("--sub", default=str(uuid.uuid4()))
    parser.add_argument(
        "--roles", nargs="+", default=["admin"], choices=["admin", "manager", "rep"]
    )
    parser.add_argument("--teams", nargs="*", default=[])
    parser.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds")
    args = parser.parse_args(argv)
    settings = ServiceSettings()
    if settings.env == "production":
        print("refusing to mint development tokens with ATTAIN_ENV=production", file=sys.stderr)
        return 2
    secret = settings.jwt_secret.get_secret_value()
    print(
        mint(
            org=args.org,
            sub=args.sub,
            roles=args.roles,
            teams=args.teams,
            secret=secret,
            ttl_s=args.ttl,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
