"""Alembic environment of the performance service."""

from services.performance.adapters.orm import metadata
from shared.migrate import run_env

run_env(metadata)
