"""Routers of the feedback service, in the order they appear in OpenAPI."""

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
TAGS: list[dict[str, str]] = []
