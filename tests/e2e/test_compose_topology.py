"""The compose topology, started without Docker: what docker-compose.yml describes, as processes.

The test reads docker-compose.yml and .env.example and runs each service as a local process with
its own `command` and `environment`: Apache Kafka (the Maven-built broker, same version as the
image), PostgreSQL with the databases of deploy/postgres-init.sql and the role compose's
postgres image would create, the one-shot init, an API and a worker per service (performance's
worker twice, as `deploy.replicas` says), and nginx with the repository's own deploy/nginx.conf.
Compose host names (kafka, postgres, goals-api, ...) become loopback addresses. Then the loop
runs through the gateway's prefixes only, and each service's docs open behind its prefix.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.fernet import Fernet

from devtools.broker import free_port, wait_for_port
from devtools.kafka import KafkaCluster, start_kafka
from devtools.postgres import LocalPostgres, pg_bin, start_postgres
from devtools.tokens import mint
from scripts.scenario import (
    DEFAULT_THRESHOLDS,
    Attain,
    followed_targets,
    half_elapsed_period,
    money,
    set_up_team,
    wait_for,
)
from tests.e2e.conftest import record_note

pytestmark = [pytest.mark.e2e, pytest.mark.kafka]
ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("goals", "performance", "feedback")
CONTAINER_PORT = "8000"


def dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file, as compose reads them (comments and blanks skipped)."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def interpolate(value: Any, variables: dict[str, str], hosts: dict[str, str]) -> str:
    """${VAR} from the env file, then compose host:port pairs mapped to loopback."""
    text = re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)], str(value))
    for compose_address, local in hosts.items():
        text = text.replace(compose_address, local)
    return text


def nginx_binary() -> str:
    """nginx from Debian's packages, or a failure that says how to get it."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        pytest.fail("nginx not found: install it with `apt-get install -y nginx` (.ci/run does)")
    return found


@dataclass
class Topology:
    """The running processes of the compose file and where the gateway listens."""

    run_dir: Path
    kafka: KafkaCluster
    postgres: LocalPostgres
    secret: str
    gateway: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    api_ports: dict[str, int] = field(default_factory=dict)

    def spawn(self, name: str, command: Sequence[str], env: dict[str, str]) -> None:
        """Start one process with its log in the run dir."""
        log = open(self.run_dir / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            list(command), env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def dead(self) -> list[str]:
        """Names of processes that exited."""
        return [n for n, p in self.processes.items() if p.poll() is not None]

    def stop(self) -> None:
        """Gateway and services first (consumers commit on SIGTERM), then Kafka and PostgreSQL."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.kafka.stop()
        self.postgres.stop()

    def tails(self, lines: int = 25) -> str:
        """The end of every process log."""
        out = []
        for name in self.processes:
            text = (self.run_dir / f"{name}.log").read_text(errors="replace").splitlines()
            out.append(f"----- {name}\n" + "\n".join(text[-lines:]))
        return "\n".join(out)


def local_command(command: Sequence[str], port: int | None) -> list[str]:
    """A container command as a local one: this interpreter, loopback host, its own port."""
    argv = [str(a) for a in command]
    if argv[0] == "uvicorn":
        argv = [sys.executable, "-m", "uvicorn", *argv[1:]]
    elif argv[0] == "python":
        argv = [sys.executable, *argv[1:]]
    for flag, value in (("--host", "127.0.0.1"), ("--port", str(port))):
        if flag in argv:
            argv[argv.index(flag) + 1] = value
    return argv


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    """The compose healthcheck: /readyz answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url}/readyz not 200 after {timeout}s")


def start_topology(run_dir: Path) -> Topology:
    """Start everything docker-compose.yml describes, in its depends_on order."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services: dict[str, dict] = compose["services"]
    variables = dotenv(ROOT / ".env.example")
    # What an operator does with the file, as it says: the placeholder becomes a generated key.
    variables["PERFORMANCE_SECRETS_KEYS"] = Fernet.generate_key().decode()
    kafka = start_kafka(run_dir / "kafka")
    postgres = start_postgres()
    topology = Topology(run_dir, kafka, postgres, variables["ATTAIN_JWT_SECRET"])
    try:
        _start(topology, services, variables)
    except BaseException:
        print(topology.tails())
        topology.stop()
        raise
    return topology


def _start(topology: Topology, services: dict[str, dict], variables: dict[str, str]) -> None:
    postgres = topology.postgres
    # What the postgres image does with POSTGRES_USER/PASSWORD, then its init scripts.
    user, password = variables["POSTGRES_USER"], variables["POSTGRES_PASSWORD"]
    postgres._psql(f"CREATE ROLE \"{user}\" LOGIN SUPERUSER PASSWORD '{password}'")
    (mount,) = [v for v in services["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v]
    init_sql = ROOT / mount.split(":")[0]
    subprocess.run(
        [pg_bin("psql"), "-h", "127.0.0.1", "-p", str(postgres.port), "-U", user,
         "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-f", str(init_sql)],
        check=True, capture_output=True, env={**os.environ, "PGPASSWORD": password},
    )  # fmt: skip
    apis = [n for n, s in services.items() if n.endswith("-api")]
    topology.api_ports = {n: free_port() for n in apis}
    hosts = {"kafka:9092": topology.kafka.bootstrap_servers}
    hosts["postgres:5432"] = f"127.0.0.1:{postgres.port}"
    hosts.update({f"{n}:{CONTAINER_PORT}": f"127.0.0.1:{p}" for n, p in topology.api_ports.items()})

    def env_of(name: str) -> dict[str, str]:
        declared = services[name].get("environment", {})
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            **{k: interpolate(v, variables, hosts) for k, v in declared.items()},
        }

    # init: a one-shot that must complete before any API or worker starts.
    init = services["init"]
    result = subprocess.run(
        local_command(init["command"], None), env=env_of("init"), cwd=ROOT,
        capture_output=True, text=True, check=False, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, f"init failed:\n{result.stdout}\n{result.stderr}"
    for name, spec in services.items():
        if "build" not in spec or name == "init":
            continue
        replicas = int(spec.get("deploy", {}).get("replicas", 1))
        for i in range(replicas):
            label = name if replicas == 1 else f"{name}-{i + 1}"
            port = topology.api_ports.get(name)
            topology.spawn(label, local_command(spec["command"], port), env_of(name))
    for name, port in topology.api_ports.items():
        wait_ready(f"http://127.0.0.1:{port}", topology.processes[name])
    _start_gateway(topology, services["gateway"], hosts)


def _start_gateway(topology: Topology, gateway: dict, hosts: dict[str, str]) -> None:
    (mount,) = [v for v in gateway["volumes"] if "nginx" in v]
    site = (ROOT / mount.split(":")[0]).read_text()
    for compose_address, local in hosts.items():
        site = site.replace(f"server {compose_address};", f"server {local};")
    assert not re.search(r"server [a-z-]+:\d+;", site), "an upstream host was not mapped"
    (published,) = gateway["ports"]
    listen = published.split(":")[-1]
    port = free_port()
    site = site.replace(f"listen {listen};", f"listen 127.0.0.1:{port};")
    d = topology.run_dir / "nginx"
    d.mkdir()
    (d / "default.conf").write_text(site)
    # The nginx image's main config is stock; only paths change so it runs unprivileged here.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (d / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\n"
        f"error_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n"
        f"  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n"
        f"  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n"
        f"  include {d}/default.conf;\n}}\n"
    )
    topology.spawn("gateway", [nginx_binary(), "-p", str(d), "-c", str(d / "nginx.conf")], {})
    wait_for_port(port, timeout=15)
    topology.gateway = f"http://127.0.0.1:{port}"


class GatewayAttain(Attain):
    """The scenario client with tokens signed by the .env secret (production refuses dev ones)."""

    secret = ""

    def token(self, *, roles, sub=None, teams=()) -> str:
        """A token of this org signed with the deployment's secret."""
        return mint(
            org=self.org,
            sub=sub or str(uuid.uuid4()),
            roles=list(roles),
            teams=list(teams),
            secret=self.secret,
        )


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    """Everything compose starts, started here as processes."""
    started = time.monotonic()
    running = start_topology(tmp_path_factory.mktemp("compose"))
    record_note("compose", f"topology up without Docker in {time.monotonic() - started:.1f} s")
    yield running
    if running.dead():
        print(running.tails())
    running.stop()


def test_the_loop_runs_through_the_gateway_of_the_compose_topology(topology):
    """Plan, sales, shortfall, rebalance, check-in: every call through nginx's prefixes."""
    GatewayAttain.secret = topology.secret
    urls = {name: f"{topology.gateway}/{name}" for name in SERVICES}
    assert httpx.get(f"{topology.gateway}/healthz").text == "ok\n"
    with GatewayAttain(urls) as api:
        api.check_running()
        starts_on, ends_on = half_elapsed_period()
        period = api.define_period("Compose period", starts_on, ends_on)
        loop = set_up_team(api, name="Compose", period=period, policy="auto")
        team, period_id = loop.team, period["id"]
        api.set_generic_secret()
        closed_at = datetime.now(UTC) - timedelta(days=3)
        expected = {r.id: Decimal(0) for r in team.reps}
        for name, amount in (("Ana", "75000.00"), ("Ben", "60000.00")):
            rep = team.rep(name)
            api.deliver(api.sale_delivery(email=rep.email, amount=amount, closed_at=closed_at))
            expected[rep.id] += Decimal(amount)

        def achieved() -> bool:
            rows = api.attainment(team, period_id)
            return {m: money(r["achieved"]) for m, r in rows.items()} == expected

        wait_for(achieved, what="both sales in attainment")
        api.set_thresholds(team, DEFAULT_THRESHOLDS)
        api.evaluate(team, period_id)
        cleo = team.rep("Cleo").id

        def rebalanced() -> Any:
            result = followed_targets(api, team, period_id)()
            return result if result and result[0][cleo]["version"] > 1 else None

        targets, _ = wait_for(rebalanced, what="the rebalanced targets in performance", timeout=60)
        (rebalance,) = api.rebalances(team)
        assert rebalance["status"] == "applied" and rebalance["giver_id"] == cleo
        total = sum((money(t["amount"]) for t in targets.values()), Decimal(0))
        assert total == money(loop.plan["target"])
        check_ins = wait_for(
            lambda: api.feedback(team, cleo, kind="check_in"), what="Cleo's check-in", timeout=60
        )
        assert len(check_ins) == 1
    assert topology.dead() == [], topology.tails()


@pytest.mark.parametrize("service", SERVICES)
def test_each_services_docs_open_behind_its_gateway_prefix(topology, service):
    """/<service>/docs loads and points at /<service>/openapi.json, which is served too."""
    docs = httpx.get(f"{topology.gateway}/{service}/docs", timeout=10)
    assert docs.status_code == 200
    assert f"/{service}/openapi.json" in docs.text
    spec = httpx.get(f"{topology.gateway}/{service}/openapi.json", timeout=10)
    assert spec.status_code == 200 and spec.json()["paths"]
