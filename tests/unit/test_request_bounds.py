"""Every string, array and map a client may send is bounded in each service's OpenAPI."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

SERVICES = ("goals", "performance", "feedback")
# Strings whose format or enum already bounds them (pydantic refuses them before storing).
_BOUNDED_FORMATS = {"uuid", "date", "date-time", "time", "duration"}


def _openapi(service: str, tmp_path) -> dict[str, Any]:
    config = importlib.import_module(f"services.{service}.config")
    main = importlib.import_module(f"services.{service}.main")
    settings = config.Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", run_workers=False, env="test"
    )
    return main.create_app(settings).openapi()


def _unbounded(
    schema: dict[str, Any], spec: dict[str, Any], where: str, seen: set[str]
) -> list[str]:
    """Paths of strings without maxLength, arrays without maxItems, maps without maxProperties."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        return _unbounded(
            spec["components"]["schemas"][name], spec, f"{where}->{name}", seen | {name}
        )
    found: list[str] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(schema.get(key, [])):
            found += _unbounded(sub, spec, f"{where}|{i}", seen)
    kind = schema.get("type")
    if kind == "string" and not (
        "maxLength" in schema
        or "enum" in schema
        or "const" in schema
        or schema.get("format") in _BOUNDED_FORMATS
    ):
        found.append(f"{where}: string without maxLength")
    if kind == "array":
        if "maxItems" not in schema:
            found.append(f"{where}: array without maxItems")
        found += _unbounded(schema.get("items", {}), spec, f"{where}[]", seen)
    if kind == "object" or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            found += _unbounded(sub, spec, f"{where}.{name}", seen)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            if "maxProperties" not in schema:
                found.append(f"{where}: map without maxProperties")
            found += _unbounded(extra, spec, f"{where}{{}}", seen)
            names = schema.get("propertyNames")
            if isinstance(names, dict):
                found += _unbounded(names, spec, f"{where}{{key}}", seen)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_string_array_and_map_is_bounded(service, tmp_path):
    spec = _openapi(service, tmp_path)
    found: list[str] = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            for param in op.get("parameters", []):
                found += _unbounded(
                    param.get("schema", {}), spec, f"{where} {param['name']}", set()
                )
            for media in op.get("requestBody", {}).get("content", {}).values():
                found += _unbounded(media.get("schema", {}), spec, f"{where} body", set())
    assert found == []
