"""One service as a real uvicorn process (no broker), and a raw HTTP client that can misbehave."""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx

from devtools.broker import free_port
from shared.serving import uvicorn_command

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServiceProcess:
    """A running service: its URL, process and SQLite file."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    db_path: Path
    log_path: Path

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def memory_kib(self, field: str = "VmHWM") -> int:
        """A memory figure of the process from /proc (VmHWM: peak resident set, VmRSS: now)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} for pid {self.process.pid}")

    def log(self) -> str:
        """What the process wrote so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_service(name: str, run_dir: Path, **env: str) -> ServiceProcess:
    """Migrate a fresh SQLite database and serve one service with the production uvicorn flags."""
    db_path = run_dir / f"{name}.db"
    full_env = {
        **_base_env(),
        f"{name.upper()}_DATABASE_URL": f"sqlite+aiosqlite:///{db_path}",
        f"{name.upper()}_RUN_WORKERS": "false",
        "ATTAIN_LOG_LEVEL": "WARNING",
        **env,
    }
    subprocess.run(
        [sys.executable, "-m", "shared.migrate", name, "upgrade"],
        env=full_env, cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    log_path = run_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            uvicorn_command(name, host="127.0.0.1", port=port),
            env=full_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    service = ServiceProcess(name, port, process, db_path, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {service.log()[-2000:]}")
        try:
            if httpx.get(f"{service.url}/healthz", timeout=2).status_code == 200:
                return service
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    service.stop()
    raise RuntimeError(f"{name} did not start: {service.log()[-2000:]}")


def _base_env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONUNBUFFERED": "1"}


@dataclass
class RawResponse:
    """What came back on a raw connection."""

    status: int
    headers: dict[str, str]
    body: bytes
    sent: int  # body bytes the client managed to send

    def json(self) -> dict:
        """The body as JSON."""
        import json

        return json.loads(self.body)


def raw_request(
    port: int,
    head: str,
    chunks: Iterable[bytes] = (),
    *,
    chunked: bool = False,
    pause_s: float = 0.0,
    timeout_s: float = 60.0,
) -> RawResponse:
    """Send a request head, then body chunks until the server answers or closes; read the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    sent = 0
    try:
        sock.sendall(head.encode("latin-1"))
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered before the body was complete: stop sending
            frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += len(chunk)
            if pause_s:
                time.sleep(pause_s)
        data = b""
        while True:
            try:
                part = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not part:
                break
            data += part
            if _complete(data):
                break
    finally:
        sock.close()
    return _parse(data, sent)


def _complete(data: bytes) -> bool:
    if b"\r\n\r\n" not in data:
        return False
    head, body = data.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def _parse(data: bytes, sent: int) -> RawResponse:
    if not data:
        return RawResponse(status=0, headers={}, body=b"", sent=sent)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    # A 100 Continue may precede the real answer.
    while lines[0].split()[1] == "100" and body:
        head, _, body = body.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(status=int(lines[0].split()[1]), headers=headers, body=body, sent=sent)


def post_head(path: str, *, length: int | None, headers: dict[str, str] | None = None) -> str:
    """A POST request head; chunked when length is None."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return "\r\n".join(lines) + "\r\n\r\n"
