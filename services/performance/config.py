"""Settings of the performance service (environment prefix PERFORMANCE_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class Settings(ServiceSettings):
    """Performance service configuration."""

    model_config = SettingsConfigDict(env_prefix="PERFORMANCE_")

    service_name: ClassVar[str] = "performance"
    default_port: ClassVar[int] = 8002
