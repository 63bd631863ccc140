"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "attain-development-secret-change-me-0000"

Environment = Literal["development", "test", "production"]


def _shared(name: str) -> AliasChoices:
    """Read a setting from its unprefixed, cross-service environment variable."""
    return AliasChoices(name, name.lower())


class ServiceSettings(BaseSettings):
    """Configuration of one service; the only place that reads the environment."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000

    env: Environment = Field("development", validation_alias=_shared("ATTAIN_ENV"))
    jwt_secret: SecretStr = Field(
        SecretStr(DEV_JWT_SECRET), validation_alias=_shared("ATTAIN_JWT_SECRET")
    )
    jwt_jwks_url: str | None = Field(None, validation_alias=_shared("ATTAIN_JWT_JWKS_URL"))
    jwt_audience: str | None = Field(None, validation_alias=_shared("ATTAIN_JWT_AUDIENCE"))
    cors_origins: list[str] | None = Field(None, validation_alias=_shared("ATTAIN_CORS_ORIGINS"))
    log_level: str = Field("INFO", validation_alias=_shared("ATTAIN_LOG_LEVEL"))

    database_url: str = ""
    database_pool_size: int = 10
    database_max_overflow: int = 10
    # SQLite: read-only connections beside the single writer, so reads never queue behind it.
    database_read_pool_size: int = 4
    run_workers: bool = True

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=_shared("KAFKA_BOOTSTRAP_SERVERS")
    )
    kafka_enable_idempotence: bool = Field(
        False, validation_alias=_shared("KAFKA_ENABLE_IDEMPOTENCE")
    )
    kafka_session_timeout_ms: int = Field(
        10_000, validation_alias=_shared("KAFKA_SESSION_TIMEOUT_MS")
    )
    kafka_heartbeat_interval_ms: int = Field(
        3_000, validation_alias=_shared("KAFKA_HEARTBEAT_INTERVAL_MS")
    )
    kafka_topic_partitions: int = Field(6, validation_alias=_shared("KAFKA_TOPIC_PARTITIONS"))
    kafka_replication_factor: int = Field(1, validation_alias=_shared("KAFKA_REPLICATION_FACTOR"))
    kafka_send_timeout_s: float = 10.0
    consumer_group: str = ""
    consumer_max_attempts: int = 4
    consumer_retry_backoff_s: float = 0.2
    consumer_stale_after_s: float = 60.0
    consumer_batch_max_records: int = 500
    consumer_batch_max_wait_ms: int = 100
    # One consumer transaction holds SQLite's only writer at most this long, so API writes
    # interleave with a backlog instead of queueing behind all of it.
    consumer_transaction_budget_ms: float = 50.0
    # SIGTERM to exit within 5 s: uvicorn gives requests in flight 1 s, the workers get this.
    shutdown_budget_s: float = 3.0
    outbox_poll_interval_s: float = 0.5
    outbox_batch_size: int = 200
    outbox_retention_hours: float = 24 * 7

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> ServiceSettings:
        if self.env == "production" and not self.jwt_jwks_url:
            if self.jwt_secret.get_secret_value() == DEV_JWT_SECRET:
                raise ValueError(
                    "ATTAIN_ENV=production refuses the development JWT secret: "
                    "set ATTAIN_JWT_JWKS_URL (RS256) or a strong ATTAIN_JWT_SECRET"
                )
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///./.run/{self.service_name}.db"
        if not self.consumer_group:
            self.consumer_group = f"attain-{self.service_name}"
        if self.cors_origins is None:
            self.cors_origins = (
                []
                if self.env == "production"
                else ["http://localhost:3000", "http://localhost:5173", "http://127.0.0.1:3000"]
            )
        return self
