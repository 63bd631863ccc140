"""The feedback service's FastAPI app: uvicorn services.feedback.main:create_app --factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.feedback.api.routes import ROUTERS, TAGS
from services.feedback.bootstrap import build_runtime
from services.feedback.config import Settings
from shared.app import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; background workers run in its lifespan unless <SVC>_RUN_WORKERS=false."""
    settings = settings or Settings()
    return create_service_app(
        runtime=build_runtime(settings),
        title="Attain feedback",
        description="Disputes where everyone is heard, coaching, meetings and market intelligence.",
        routers=ROUTERS,
        tags=TAGS,
    )
