"""The performance service's FastAPI app: uvicorn services.performance.main:create_app --factory."""

from __future__ import annotations

from fastapi import FastAPI

from services.performance.api.routes import ROUTERS, TAGS
from services.performance.bootstrap import build_runtime
from services.performance.config import Settings
from shared.app import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; background workers run in its lifespan unless <SVC>_RUN_WORKERS=false."""
    settings = settings or Settings()
    return create_service_app(
        runtime=build_runtime(settings),
        title="Attain performance",
        description="CRM webhooks, sales, attainment and pace, shortfall detection.",
        routers=ROUTERS,
        tags=TAGS,
    )
