"""The development token command mints tokens the services accept."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from shared.auth import TokenVerifier
from shared.config import ServiceSettings

pytestmark = pytest.mark.unit


def test_devtoken_command_mints_a_token_with_the_requested_claims():
    org, team = uuid.uuid4(), uuid.uuid4()
    result = subprocess.run(
        [sys.executable, "-m", "shared.devtoken", "--org", str(org), "--sub", "m-1",
         "--roles", "manager", "rep", "--teams", str(team)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    principal = TokenVerifier(ServiceSettings()).verify(result.stdout.strip())
    assert principal.org == org
    assert principal.sub == "m-1"
    assert principal.roles == frozenset({"manager", "rep"})
    assert principal.teams == frozenset({team})


def test_devtoken_command_refuses_to_run_in_production():
    result = subprocess.run(
        [sys.executable, "-m", "shared.devtoken"],
        capture_output=True, text=True,
        env={"ATTAIN_ENV": "production", "ATTAIN_JWT_SECRET": "x" * 40, "PATH": ""},
    )  # fmt: skip
    assert result.returncode == 2
    assert "production" in result.stderr
