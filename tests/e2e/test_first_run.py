"""The README walkthrough and `make demo` pass against `scripts.run` on moved ports with a custom secret."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import jwt
import pytest

from devtools.broker import free_port
from scripts.run import PortTaken, check_ports_free

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-first-run-secret-not-the-development-one-7731"
AUDIENCE = "attain-first-run"
WALKTHROUGH = re.compile(
    r"<!-- walkthrough:begin -->\s*```bash\n(?P<script>.*?)```\s*<!-- walkthrough:end -->", re.S
)


@dataclass
class RunningStack:
    """A `python -m scripts.run` process and what it was started with."""

    process: subprocess.Popen[str]
    env: dict[str, str]
    base: int
    broker_port: int
    output: list[str]
    run_dir: Path

    def banner(self) -> str:
        """Everything the process printed so far."""
        return "".join(self.output)


def readme_walkthrough() -> str:
    """The shell block between the walkthrough markers of the README (exactly one)."""
    blocks = WALKTHROUGH.findall((ROOT / "README.md").read_text())
    assert len(blocks) == 1, "README.md must hold one ```bash block between the walkthrough markers"
    return blocks[0]


def free_port_base() -> tuple[int, int]:
    """A base with three consecutive free ports, and a free broker port apart from them."""
    for _ in range(50):
        base = free_port()
        broker = free_port()
        ports = {"goals": base, "performance": base + 1, "feedback": base + 2, "broker": broker}
        if base + 2 > 65535 or broker in range(base, base + 3):
            continue
        try:
            check_ports_free(ports)
        except PortTaken:
            continue
        return base, broker
    raise RuntimeError("no three consecutive free ports found")


def clean_env(**extra: str) -> dict[str, str]:
    """The test runner's environment without Attain settings that would change the outcome."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ATTAIN_") and not k.endswith("_DATABASE_URL")
    }
    return {**env, "ATTAIN_ENV": "development", **extra}


def print_logs(run_dir: Path, lines: int = 40) -> None:
    """The tail of each log the stack wrote (shown when a test fails)."""
    for path in sorted(run_dir.glob("*.log")):
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        print(f"\n----- {path} (last {len(tail)} lines)\n" + "\n".join(tail))


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """`python -m scripts.run` on a moved port base and broker port, with a custom secret."""
    base, broker = free_port_base()
    run_dir = tmp_path_factory.mktemp("first-run")
    env = clean_env(
        ATTAIN_PORT_BASE=str(base),
        ATTAIN_BROKER_PORT=str(broker),
        ATTAIN_JWT_SECRET=SECRET,
        ATTAIN_JWT_AUDIENCE=AUDIENCE,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.run", "--run-dir", str(run_dir)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output: list[str] = []
    # A reader thread keeps the pipe drained for the whole module, not only until the banner.
    reader = threading.Thread(target=lambda: output.extend(iter(process.stdout.readline, "")))
    reader.start()
    stack = RunningStack(process, env, base, broker, output, run_dir)
    deadline = time.monotonic() + 180
    while "Ctrl-C stops everything" not in stack.banner():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            reader.join(timeout=5)
            print_logs(run_dir)
            pytest.fail(f"scripts.run did not come up:\n{stack.banner()}")
        time.sleep(0.2)
    yield stack
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    reader.join(timeout=10)


def test_make_run_prints_the_moved_urls_and_a_token_of_the_custom_secret(running):
    """The banner names the configured ports, and its admin token is signed with the custom secret."""
    banner = running.banner()
    for offset, name in enumerate(("goals", "performance", "feedback")):
        assert re.search(rf"{name}\s+http://127\.0\.0\.1:{running.base + offset}/docs", banner)
    if "KAFKA_BOOTSTRAP_SERVERS" not in running.env:
        assert f"127.0.0.1:{running.broker_port}" in banner
    token = re.search(r"export TOKEN=(\S+)", banner).group(1)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert claims["roles"] == ["admin"]


def test_readme_walkthrough_passes_on_moved_ports_with_a_custom_secret(running):
    """The README's own shell block, run by bash with -euo pipefail, reaches every step's outcome."""
    assert (ROOT / ".venv" / "bin" / "python").exists(), "the walkthrough calls .venv/bin/python"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_walkthrough()],
        cwd=ROOT, env=running.env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = result.stdout
    if result.returncode != 0:
        print_logs(running.run_dir)
    assert result.returncode == 0, f"stdout:\n{out}\nstderr:\n{result.stderr}"
    assert result.stdout.count('"applied":1') == 2, out  # both signed sales were applied
    assert '"published"' in out and '"auto"' in out
    assert '"status": "struggling"' in out
    assert '"status": "applied"' in out  # the shortfall was moved
    assert '"kind": "check_in"' in out
    assert '"status": 409' in out  # no decision before every party is heard
    assert '"decided"' in out.splitlines()
    # Coaching: Cleo's proposed 1:1 shows her check-in, is held, and starts her episode's story.
    assert "short of target" in out
    assert '"held"' in out.splitlines()
    assert '"description": "Call ACME"' in out
    assert '"first_conversation": "one_on_one_held"' in out
    # Section 8: Ben's relief is absorbed by the team, Dev joins with a prorated target.
    assert '"team"' in out.splitlines() and '"relief": "' in out
    plan = json.loads(out[out.rindex('{\n  "target"') :])
    assert Decimal(plan["target"]) > Decimal("250000.00")  # Dev's target raised the total


def test_demo_passes_with_the_custom_secret(running):
    """`python -m scripts.demo` with the stack's secret and port base runs the whole story."""
    result = subprocess.run(
        [sys.executable, "-m", "scripts.demo"],
        cwd=ROOT, env=running.env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert f"answer at http://127.0.0.1:{running.base}, " in result.stdout
    assert "The whole loop ran in" in result.stdout


def test_demo_with_the_development_secret_is_told_to_use_the_stacks_secret(running):
    """Without the stack's secret the demo's first call is rejected, and the hint says why."""
    env = clean_env(ATTAIN_PORT_BASE=str(running.base))
    result = subprocess.run(
        [sys.executable, "-m", "scripts.demo"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "answered 401" in result.stderr
    assert "same ATTAIN_JWT_SECRET" in result.stderr
