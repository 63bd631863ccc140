"""The goals service's FastAPI app: uvicorn services.goals.main:create_app --factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.goals.api.routes import ROUTERS, TAGS
from services.goals.bootstrap import build_runtime
from services.goals.config import Settings
from shared.app import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; background workers run in its lifespan unless <SVC>_RUN_WORKERS=false."""
    settings = settings or Settings()
    return create_service_app(
        runtime=build_runtime(settings),
        title="Attain goals",
        description="Team targets, fair breakdown, acknowledgement, target history, rebalancing.",
        routers=ROUTERS,
        tags=TAGS,
    )
