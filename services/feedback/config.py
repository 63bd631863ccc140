"""Settings of the feedback service (environment prefix FEEDBACK_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class Settings(ServiceSettings):
    """Feedback service configuration."""

    model_config = SettingsConfigDict(env_prefix="FEEDBACK_")

    service_name: ClassVar[str] = "feedback"
    default_port: ClassVar[int] = 8003
