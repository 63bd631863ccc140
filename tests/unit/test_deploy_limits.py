"""The gateway, images and compose commands carry the same limits as the services' settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from limits import parse

from services.performance.config import Settings as PerformanceSettings
from shared.app import WEBHOOK_PREFIX
from shared.config import ServiceSettings
from shared.serving import MAX_HEADER_BYTES, UVICORN_FLAGS

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
NGINX = (ROOT / "deploy" / "nginx.conf").read_text()
_UNITS = {"": 1, "k": 1024, "m": 1024 * 1024}


def _size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([km]?)", text.lower()).groups()
    return int(number) * _UNITS[unit]


def _directive(name: str, text: str = NGINX) -> str:
    """The first value of a directive: server-wide ones precede the locations."""
    values = re.findall(rf"^\s*{name}\s+([^;]+);", text, flags=re.M)
    assert values, f"no {name}"
    return values[0].strip()


def _location(prefix: str) -> str:
    match = re.search(rf"location {re.escape(prefix)} \{{(.*?)\}}", NGINX, flags=re.S)
    assert match, f"no location {prefix}"
    return match.group(1)


def _contains(command: list[str], flags: tuple[str, ...]) -> bool:
    return any(tuple(command[i : i + len(flags)]) == flags for i in range(len(command)))


def test_every_api_command_serves_with_the_shared_uvicorn_flags():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    apis = {n: s for n, s in compose["services"].items() if n.endswith("-api")}
    assert len(apis) == 3
    for name, service in apis.items():
        assert _contains(service["command"], UVICORN_FLAGS), name
    [cmd] = re.findall(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), flags=re.M)
    assert _contains(yaml.safe_load(cmd), UVICORN_FLAGS)


def test_apis_trust_forwarded_addresses_from_the_gateway_only():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    gateway = compose["services"]["gateway"]["networks"]["default"]["ipv4_address"]
    for name, service in compose["services"].items():
        if name.endswith("-api"):
            command = service["command"]
            assert command[command.index("--forwarded-allow-ips") + 1] == gateway, name
    assert "proxy_set_header X-Forwarded-For   $remote_addr;" in NGINX


def test_gateway_body_limits_match_the_settings():
    defaults = ServiceSettings()
    assert _size(_directive("client_max_body_size")) == defaults.max_body_bytes
    webhooks = _location(f"/performance{WEBHOOK_PREFIX}")
    assert _size(_directive("client_max_body_size", webhooks)) == defaults.webhook_max_body_bytes
    imports = _location("/performance/v1/sales/imports")
    import_limit = PerformanceSettings().import_max_body_bytes
    assert _size(_directive("client_max_body_size", imports)) == import_limit
    assert int(_directive("client_body_timeout").rstrip("s")) <= defaults.body_timeout_s
    assert int(_directive("client_header_timeout").rstrip("s")) <= defaults.body_timeout_s
    count, size = _directive("large_client_header_buffers").split()
    assert int(count) * _size(size) <= MAX_HEADER_BYTES == defaults.max_header_bytes


def test_gateway_webhook_rate_matches_the_per_address_setting():
    webhooks = _location(f"/performance{WEBHOOK_PREFIX}")
    zone = re.search(r"limit_req zone=(\w+)", webhooks).group(1)
    rate = re.search(rf"zone={zone}:\S+ rate=(\d+)r/s", NGINX).group(1)
    per_minute = parse(ServiceSettings().rate_limit_webhooks_per_address)
    assert per_minute.amount / per_minute.get_expiry() == int(rate)


def test_every_gateway_refusal_is_a_problem_document():
    for status in ("408", "413", "429"):
        named = re.search(rf"error_page {status} = (@\w+);", NGINX).group(1)
        body = _location(named)
        assert "default_type application/problem+json;" in body
        assert f"return {status} " in body and f'"status":{status}' in body
