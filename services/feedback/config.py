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

    dispute_response_window_hours: float = 168.0
    dispute_sweep_interval_s: float = 60.0
    action_item_sweep_interval_s: float = 300.0
