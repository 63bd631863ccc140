"""Ports come from settings for `make run` and `make demo`; a taken port or production mode fails clearly."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from pydantic import ValidationError

from devtools.broker import free_port
from devtools.tokens import DevTokenRefused
from scripts import demo, run
from scripts.run import PortTaken, Stack, check_ports_free
from scripts.scenario import Attain, default_urls
from shared.config import LocalStackSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def listener() -> Iterator[int]:
    """A port something really listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_port_base_moves_every_service_and_the_broker(monkeypatch):
    """ATTAIN_PORT_BASE puts goals, performance, feedback on BASE..BASE+2; the broker moves too."""
    monkeypatch.setenv("ATTAIN_PORT_BASE", "18101")
    monkeypatch.setenv("ATTAIN_BROKER_PORT", "18199")
    assert LocalStackSettings().ports() == {"goals": 18101, "performance": 18102, "feedback": 18103}
    assert default_urls()["feedback"] == "http://127.0.0.1:18103"
    stack = Stack(db="sqlite")
    assert stack.ports == {"goals": 18101, "performance": 18102, "feedback": 18103}
    assert stack.broker_port == 18199
    assert stack.url("performance") == "http://127.0.0.1:18102"


def test_defaults_are_the_documented_ports(monkeypatch):
    """Without settings the stack keeps 8001-8003 and broker 9092, as the README says."""
    monkeypatch.delenv("ATTAIN_PORT_BASE", raising=False)
    monkeypatch.delenv("ATTAIN_BROKER_PORT", raising=False)
    settings = LocalStackSettings()
    assert settings.urls() == {
        "goals": "http://127.0.0.1:8001",
        "performance": "http://127.0.0.1:8002",
        "feedback": "http://127.0.0.1:8003",
    }
    assert settings.broker_port == 9092


def test_a_broker_port_among_the_service_ports_is_refused(monkeypatch):
    """A broker port inside BASE..BASE+2 is named as a clash rather than failing at start-up."""
    monkeypatch.setenv("ATTAIN_PORT_BASE", "18101")
    monkeypatch.setenv("ATTAIN_BROKER_PORT", "18102")
    with pytest.raises(ValidationError, match="ATTAIN_BROKER_PORT=18102 is one of the service"):
        LocalStackSettings()


def test_a_taken_port_is_named(listener):
    """check_ports_free names the port something listens on and leaves free ones alone."""
    spare = free_port()
    check_ports_free({"goals": spare})
    with pytest.raises(PortTaken, match=f"performance port {listener} "):
        check_ports_free({"goals": spare, "performance": listener})


def test_stack_start_fails_at_once_on_a_taken_port(listener, tmp_path):
    """Stack.start refuses before starting a broker or a service when a port is taken."""
    stack = Stack(
        db="sqlite",
        ports={"goals": free_port(), "performance": free_port(), "feedback": listener},
        run_dir=tmp_path,
        broker_port=free_port(),
    )
    stack.external_broker = None
    with pytest.raises(PortTaken, match=f"feedback port {listener}"):
        stack.start()
    assert stack.broker is None and not stack.services


def test_make_run_exits_naming_the_taken_port(listener, tmp_path):
    """`python -m scripts.run` with ATTAIN_PORT_BASE on a taken port exits 2 within seconds."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "scripts.run", "--run-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "ATTAIN_PORT_BASE": str(listener),
             "ATTAIN_BROKER_PORT": str(free_port())},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"goals port {listener}" in result.stderr
    assert "ATTAIN_PORT_BASE" in result.stderr
    # "At once": no broker, migration or service was started first.
    assert time.monotonic() - started < 30
    assert not (tmp_path / "broker.log").exists()


def test_demo_looks_for_the_stack_on_the_configured_ports(monkeypatch, capsys):
    """`make demo` without --goals etc. calls the ports of ATTAIN_PORT_BASE."""
    base = free_port()
    monkeypatch.setenv("ATTAIN_PORT_BASE", str(base))
    for name in ("GOALS", "PERFORMANCE", "FEEDBACK"):
        monkeypatch.delenv(f"ATTAIN_{name}_URL", raising=False)
    assert demo.main([]) == 2
    assert f"goals at http://127.0.0.1:{base} does not answer" in capsys.readouterr().err


def test_demo_refuses_in_production(monkeypatch, capsys):
    """In production the demo stops before any call, saying development tokens are refused."""
    monkeypatch.setenv("ATTAIN_ENV", "production")
    monkeypatch.setenv("ATTAIN_JWT_SECRET", "a-strong-production-secret-0123456789")
    assert demo.main([]) == 2
    err = capsys.readouterr().err
    assert "refusing to mint development tokens with ATTAIN_ENV=production" in err
    with pytest.raises(DevTokenRefused):
        Attain()


def banner_of(tmp_path: Path) -> None:
    """What `make run` prints once the stack is up (the stack itself is not started)."""
    stack = Stack(db="sqlite", ports={"goals": 18301, "performance": 18302, "feedback": 18303},
                  run_dir=tmp_path, broker_port=18399)  # fmt: skip
    stack.env["KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:18399"
    run._banner(stack)


def test_banner_prints_the_moved_urls_and_a_token_of_the_configured_secret(
    monkeypatch, tmp_path, capsys
):
    """The printed docs URLs follow the ports and the admin token verifies with ATTAIN_JWT_SECRET."""
    monkeypatch.setenv("ATTAIN_JWT_SECRET", "banner-secret-0123456789-0123456789")
    monkeypatch.delenv("ATTAIN_JWT_AUDIENCE", raising=False)
    banner_of(tmp_path)
    out = capsys.readouterr().out
    assert "performance  http://127.0.0.1:18302/docs" in out
    assert "broker       127.0.0.1:18399" in out
    token = out.split("export TOKEN=")[1].split()[0]
    claims = jwt.decode(token, "banner-secret-0123456789-0123456789", algorithms=["HS256"])
    assert claims["roles"] == ["admin"]


def test_banner_in_production_says_why_there_is_no_token(monkeypatch, tmp_path, capsys):
    """With ATTAIN_ENV=production `make run` prints the refusal instead of a token."""
    monkeypatch.setenv("ATTAIN_ENV", "production")
    monkeypatch.setenv("ATTAIN_JWT_SECRET", "a-strong-production-secret-0123456789")
    banner_of(tmp_path)
    out = capsys.readouterr().out
    assert "export TOKEN" not in out
    assert (
        "No development token: refusing to mint development tokens with ATTAIN_ENV=production"
        in out
    )
