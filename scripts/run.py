"""`make run`: broker, topics, migrations and the three services, supervised until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import ValidationError

from devtools.broker import LocalBroker, free_port, start_broker
from devtools.postgres import LocalPostgres, start_postgres
from devtools.tokens import DevTokenRefused, mint
from scripts.infra import create_topics, migrate_all
from shared.config import LOCAL_SERVICES, LocalStackSettings
from shared.serving import uvicorn_command

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
#: The default ports; `make run` itself reads them from LocalStackSettings (ATTAIN_PORT_BASE).
SERVICES = {name: 8001 + i for i, name in enumerate(LOCAL_SERVICES)}
LOCAL_KAFKA = {"KAFKA_SESSION_TIMEOUT_MS": "2000", "KAFKA_HEARTBEAT_INTERVAL_MS": "200"}


class PortTaken(RuntimeError):
    """A port the stack needs is already in use."""


def check_ports_free(ports: dict[str, int], host: str = "127.0.0.1") -> None:
    """Raise PortTaken naming every port something already listens on."""
    taken = []
    for what, port in ports.items():
        with socket.socket() as sock:
            # SO_REUSEADDR as uvicorn sets it: a port in TIME_WAIT is free, a listener is not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as error:
                taken.append(f"{what} port {port} ({error.strerror or error})")
    if taken:
        raise PortTaken(
            f"cannot start: {', '.join(taken)} on {host}. Stop what holds it, or move the stack "
            "with ATTAIN_PORT_BASE (services on BASE..BASE+2) and ATTAIN_BROKER_PORT."
        )


class Stack:
    """The processes of a local run and how to (re)start them."""

    def __init__(
        self,
        *,
        db: str,
        ports: dict[str, int] | None = None,
        run_dir: Path = RUN_DIR,
        broker_port: int | None = None,
    ) -> None:
        self.db = db
        if ports is None or broker_port is None:
            # What is not given comes from the settings (ATTAIN_PORT_BASE, ATTAIN_BROKER_PORT).
            local = LocalStackSettings()
            ports = ports or local.ports()
            broker_port = broker_port or local.broker_port
        self.ports = ports
        self.run_dir = run_dir
        self.broker_port = broker_port
        self.broker: LocalBroker | None = None
        self.postgres: LocalPostgres | None = None
        self.services: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {**os.environ, **LOCAL_KAFKA, "PYTHONUNBUFFERED": "1"}
        self.external_broker = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        self.broker_started_at = datetime.now(UTC)

    def start(self) -> None:
        """Bring everything up and wait until each service is ready."""
        self.run_dir.mkdir(exist_ok=True)
        needed = {name: self.ports[name] for name in SERVICES}
        if self.external_broker is None:
            needed["broker"] = self.broker_port
        # Fail before anything starts, naming the port, rather than as a service that never
        # becomes ready with the reason buried in its log.
        check_ports_free(needed)
        # HubSpot signs the URL it calls: on moved ports the local public URL moves too.
        self.env.setdefault("PERFORMANCE_PUBLIC_BASE_URL", self.url("performance"))
        # A local stack's subscribers (the demo's, the tests') listen on 127.0.0.1.
        self.env.setdefault("FEEDBACK_WEBHOOK_ALLOW_LOOPBACK", "true")
        # Feedback reads dispute evidence from goals and performance, wherever they listen.
        self.env.setdefault("FEEDBACK_GOALS_URL", self.url("goals"))
        self.env.setdefault("FEEDBACK_PERFORMANCE_URL", self.url("performance"))
        if self.external_broker is None:
            self.broker = start_broker(port=self.broker_port, log_path=self.run_dir / "broker.log")
            self.env["KAFKA_BOOTSTRAP_SERVERS"] = self.broker.bootstrap_servers
            self.broker_started_at = datetime.now(UTC)
        if self.db == "sqlite":
            for name in SERVICES:
                self.env.setdefault(
                    f"{name.upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{self.run_dir / name}.db"
                )
        if self.db == "postgres":
            if self.postgres is None:
                self.postgres = start_postgres(base=self.run_dir)
            for name in SERVICES:
                self.postgres.create_database(name)
                self.env[f"{name.upper()}_DATABASE_URL"] = self.postgres.url(name)
        create_topics(self.env["KAFKA_BOOTSTRAP_SERVERS"], self.env)
        migrate_all(self.env)
        for name in SERVICES:
            self.services[name] = self._start_service(name)
        for name in SERVICES:
            self.wait_ready(name)

    def url(self, name: str) -> str:
        """Base URL of a service."""
        return f"http://127.0.0.1:{self.ports[name]}"

    def restart(self, name: str, *, kill: bool = False) -> None:
        """Stop a service (SIGKILL when kill, else SIGTERM), start it again and wait for it."""
        process = self.services[name]
        process.kill() if kill else process.terminate()
        process.wait(timeout=30)
        self.services[name] = self._start_service(name)
        self.wait_ready(name)

    def wait_ready(self, name: str, timeout: float = 90.0) -> None:
        """Block until the service answers /readyz with 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url(name)}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} was not ready after {timeout}s; see {self.run_dir}/{name}.log")

    def _start_service(self, name: str) -> subprocess.Popen[bytes]:
        port = self.ports[name]
        log = open(self.run_dir / f"{name}.log", "ab")
        command = uvicorn_command(name, host="127.0.0.1", port=port, extra=("--no-access-log",))
        return subprocess.Popen(
            command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )

    def supervise(self) -> None:
        """Restart the whole stack if the broker dies (memory storage), a service if it dies."""
        while True:
            time.sleep(1)
            if self.broker is not None and not self.broker.alive():
                print("broker died: restarting the stack and re-publishing its history")
                lost_since = self.broker_started_at
                self.stop(keep_postgres=True)
                self.start()
                self.replay(since=lost_since)
                continue
            for name, process in list(self.services.items()):
                if process.poll() is not None:
                    print(
                        f"{name} exited with {process.returncode}: restarting it (see {self.run_dir}/{name}.log)"
                    )
                    self.services[name] = self._start_service(name)

    def replay(self, *, since: datetime) -> None:
        """The broker kept everything in memory: send every event since it started again."""
        for name in SERVICES:
            command = [
                sys.executable,
                "-m",
                "shared.ops",
                name,
                "replay",
                "--since",
                since.isoformat(),
            ]
            subprocess.run(command, env=self.env, cwd=ROOT, check=False)

    def stop(self, *, keep_postgres: bool = False) -> None:
        """Stop services first (they commit offsets), then the broker."""
        for process in self.services.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.services.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.services.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        if self.postgres is not None and not keep_postgres:
            self.postgres.stop()
            self.postgres = None


def isolated_stack(db: str, run_dir: Path, **env: str) -> Stack:
    """A stack on free ports with databases of its own, for tests and benchmarks (not started).

    SQLite files live in run_dir; PostgreSQL is a throwaway server. Scheduled evaluation stays
    out of the way, so the caller decides when pace is judged.
    """
    stack = Stack(
        db=db,
        ports={name: free_port() for name in SERVICES},
        run_dir=run_dir,
        broker_port=free_port(),
    )
    if db == "postgres":
        # Its data directory must be reachable by the unprivileged user PostgreSQL runs as when
        # we are root, which pytest's private temporary directories are not: it stays in /tmp.
        stack.postgres = start_postgres()
    else:
        for name in SERVICES:
            stack.env[f"{name.upper()}_DATABASE_URL"] = f"sqlite+aiosqlite:///{run_dir / name}.db"
    stack.env["PERFORMANCE_EVALUATION_INTERVAL_S"] = "3600"
    stack.env.update(env)
    return stack


def _banner(stack: Stack) -> None:
    print("\nAttain is running:")
    for name in SERVICES:
        print(f"  {name:<12} {stack.url(name)}/docs")
    print(f"  {'broker':<12} {stack.env['KAFKA_BOOTSTRAP_SERVERS']}")
    org = os.environ.get("ATTAIN_DEMO_ORG", str(uuid.uuid4()))
    try:
        admin = mint(org=org, sub=str(uuid.uuid4()), roles=["admin"])
        print(f"\nDevelopment admin token (org {org}):\n  export TOKEN={admin}\n")
    except DevTokenRefused as error:
        print(f"\nNo development token: {error}\n")
    print(f"Logs in {stack.run_dir}/*.log. Ctrl-C stops everything.", flush=True)


def main() -> int:
    """Entry point of `make run`."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="databases and logs")
    args = parser.parse_args()
    try:
        stack = Stack(db=args.db, run_dir=args.run_dir.resolve())
    except ValidationError as error:
        print(f"make run: invalid local stack settings: {error}", file=sys.stderr)
        return 2
    # A stack started with `&` inherits SIGINT as ignored; restore it so kill -INT works too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        stack.start()
        _banner(stack)
        stack.supervise()
    except PortTaken as error:
        print(f"make run: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopping...")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
