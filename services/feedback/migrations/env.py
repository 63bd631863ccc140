"""Alembic environment of the feedback service."""

from services.feedback.adapters.orm import metadata
from shared.migrate import run_env

run_env(metadata)
