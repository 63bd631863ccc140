"""Alembic environment of the goals service."""

from services.goals.adapters.orm import metadata
from shared.migrate import run_env

run_env(metadata)
