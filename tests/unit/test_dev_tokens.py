"""The development token command mints tokens the services accept."""

from __future__ import annotations

import subprocess
import sys
import uuid

import jwt
import pytest

from devtools.tokens import DevTokenRefused, mint, signing_key
from shared.auth import TokenVerifier
from shared.config import DEV_JWT_SECRET, ServiceSettings

pytestmark = pytest.mark.unit


def test_dev_token_command_mints_a_token_with_the_requested_claims():
    org, team = uuid.uuid4(), uuid.uuid4()
    result = subprocess.run(
        [sys.executable, "-m", "devtools.tokens", "--org", str(org), "--sub", "m-1",
         "--roles", "manager", "rep", "--teams", str(team)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    principal = TokenVerifier(ServiceSettings()).verify(result.stdout.strip())
    assert principal.org == org
    assert principal.sub == "m-1"
    assert principal.roles == frozenset({"manager", "rep"})
    assert principal.teams == frozenset({team})


def test_dev_token_command_refuses_to_run_in_production():
    result = subprocess.run(
        [sys.executable, "-m", "devtools.tokens"],
        capture_output=True, text=True,
        env={"ATTAIN_ENV": "production", "ATTAIN_JWT_SECRET": "x" * 40, "PATH": ""},
    )  # fmt: skip
    assert result.returncode == 2
    assert "production" in result.stderr


CUSTOM = "a-configured-secret-that-is-not-the-default-0042"


def test_mint_signs_with_the_configured_secret_and_audience(monkeypatch):
    """Without an explicit secret, tokens carry ATTAIN_JWT_SECRET and ATTAIN_JWT_AUDIENCE."""
    monkeypatch.setenv("ATTAIN_JWT_SECRET", CUSTOM)
    monkeypatch.setenv("ATTAIN_JWT_AUDIENCE", "attain-local")
    org = uuid.uuid4()
    token = mint(org=str(org), sub="m-1", roles=["admin"])
    assert TokenVerifier(ServiceSettings()).verify(token).org == org
    assert jwt.decode(token, CUSTOM, algorithms=["HS256"], audience="attain-local")["sub"] == "m-1"
    # The built-in development secret must not verify it: the configured one was used.
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, DEV_JWT_SECRET, algorithms=["HS256"], audience="attain-local")


def test_dev_token_command_uses_the_configured_secret():
    """The command-line minter (used by the walkthrough) signs with ATTAIN_JWT_SECRET."""
    result = subprocess.run(
        [sys.executable, "-m", "devtools.tokens", "--roles", "admin"],
        capture_output=True, text=True, check=True, env={"ATTAIN_JWT_SECRET": CUSTOM, "PATH": ""},
    )  # fmt: skip
    claims = jwt.decode(result.stdout.strip(), CUSTOM, algorithms=["HS256"])
    assert claims["roles"] == ["admin"]


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"ATTAIN_ENV": "production", "ATTAIN_JWT_SECRET": CUSTOM}, "ATTAIN_ENV=production"),
        ({"ATTAIN_ENV": "production"}, "production refuses the development JWT secret"),
        (
            {"ATTAIN_JWT_JWKS_URL": "https://idp.example.com/jwks.json"},
            "ATTAIN_JWT_JWKS_URL is set",
        ),
    ],
)
def test_signing_key_refuses_where_development_tokens_must_not_work(monkeypatch, env, reason):
    """Production and JWKS configurations refuse to mint, saying why, instead of a bad token."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(DevTokenRefused, match=reason):
        signing_key()
    with pytest.raises(DevTokenRefused):
        mint(org=str(uuid.uuid4()), sub="x", roles=["admin"])
