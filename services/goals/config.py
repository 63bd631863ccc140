"""Settings of the goals service (environment prefix GOALS_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class Settings(ServiceSettings):
    """Goals service configuration."""

    model_config = SettingsConfigDict(env_prefix="GOALS_")

    service_name: ClassVar[str] = "goals"
    default_port: ClassVar[int] = 8001
    # How often expired offer rounds are looked for (and settled over what was accepted).
    offer_sweep_interval_s: float = 60.0
