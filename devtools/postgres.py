"""A throwaway PostgreSQL server from the installed binaries, for tests and local runs."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devtools.broker import free_port, wait_for_port

_SEARCH = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/local/bin", "/usr/bin")


def pg_bin(name: str) -> str:
    """Locate a PostgreSQL server binary."""
    # Any other Debian server version too, as `make doctor` (scripts/doctor.py) accepts it.
    others = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in (*_SEARCH, *others):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found; install the PostgreSQL server binaries")
    return found


def _run_as() -> str | None:
    """PostgreSQL refuses to run as root: pick an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
            return user
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged user exists to run PostgreSQL")


@dataclass
class LocalPostgres:
    """A running server in a temporary directory on a loopback port."""

    datadir: Path
    port: int
    user: str | None

    def url(self, database: str = "postgres", *, driver: str = "postgresql+asyncpg") -> str:
        """SQLAlchemy URL of a database on this server."""
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        """Create a database (ignoring 'already exists')."""
        result = self._psql(f'CREATE DATABASE "{name}"', check=False)
        if result.returncode != 0 and b"already exists" not in result.stderr:
            raise RuntimeError(result.stderr.decode())

    def _psql(self, sql: str, *, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = [
            pg_bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-c",
            sql,
        ]
        return subprocess.run(command, capture_output=True, check=check)

    def stop(self) -> None:
        """Stop the server and delete its data."""
        _as(
            self.user,
            [pg_bin("pg_ctl"), "-D", str(self.datadir / "data"), "-m", "immediate", "stop"],
            check=False,
        )
        shutil.rmtree(self.datadir, ignore_errors=True)


def _as(
    user: str | None, command: list[str], *, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    prefix = ["runuser", "-u", user, "--"] if user else []
    return subprocess.run([*prefix, *command], capture_output=True, check=check)


def start_postgres(*, port: int | None = None, base: Path | None = None) -> LocalPostgres:
    """initdb into a temp dir and start the server on 127.0.0.1 with trust auth."""
    user = _run_as()
    port = port or free_port()
    root = Path(tempfile.mkdtemp(prefix="attain-pg-", dir=base))
    root.chmod(0o755)
    if user:
        shutil.chown(root, user=user)
    data = root / "data"
    _as(
        user,
        [
            pg_bin("initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200"
    )
    result = _as(
        user,
        [pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"],
        check=False,
    )
    if result.returncode != 0:
        log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
        raise RuntimeError(f"PostgreSQL did not start: {result.stderr.decode()} {log}")
    wait_for_port(port)
    return LocalPostgres(datadir=root, port=port, user=user)
