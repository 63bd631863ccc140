"""Settings of the feedback service (environment prefix FEEDBACK_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shared.config import SealingSettings


class Settings(SealingSettings):
    """Feedback service configuration."""

    model_config = SettingsConfigDict(env_prefix="FEEDBACK_")

    service_name: ClassVar[str] = "feedback"
    default_port: ClassVar[int] = 8003
    #: Starts without keys; creating a subscription is then refused in production (409).
    secrets_required_in_production: ClassVar[bool] = False

    dispute_response_window_hours: float = 168.0
    dispute_sweep_interval_s: float = 60.0
    action_item_sweep_interval_s: float = 300.0
    #: Outbound webhooks: how often due deliveries are sent, and how they are retried.
    webhook_poll_interval_s: float = 1.0
    webhook_timeout_s: float = 5.0
    webhook_max_attempts: int = 8
    webhook_backoff_base_s: float = 5.0
    webhook_backoff_max_s: float = 3600.0
    webhook_disable_after_failures: int = 10
    #: Let subscriptions point at loopback addresses (local runs and tests); private and
    #: link-local addresses are refused whatever this says.
    webhook_allow_loopback: bool = False
    #: Where dispute evidence is read from (goals' and performance's internal routes).
    goals_url: str = "http://127.0.0.1:8001"
    performance_url: str = "http://127.0.0.1:8002"
    evidence_timeout_s: float = 5.0
