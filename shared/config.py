"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from typing import ClassVar, Literal

from limits import parse
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.secrets import parse_keys

DEV_JWT_SECRET = "attain-development-secret-change-me-0000"
DEV_SERVICE_SECRET = "attain-development-service-secret-0000"

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
    #: Signs the short-lived tokens one service reads another's internal routes with; production
    #: never accepts the development one (see shared/internal.py).
    service_secret: SecretStr = Field(
        SecretStr(DEV_SERVICE_SECRET), validation_alias=_shared("ATTAIN_SERVICE_SECRET")
    )
    jwt_audience: str | None = Field(None, validation_alias=_shared("ATTAIN_JWT_AUDIENCE"))
    cors_origins: list[str] | None = Field(None, validation_alias=_shared("ATTAIN_CORS_ORIGINS"))
    log_level: str = Field("INFO", validation_alias=_shared("ATTAIN_LOG_LEVEL"))

    database_url: str = ""
    database_pool_size: int = 10
    database_max_overflow: int = 10
    # SQLite: read-only connections beside the single writer, so reads never queue behind it.
    database_read_pool_size: int = 4
    run_workers: bool = True
    #: Freeze what start-up built so full garbage collections stop scanning it (shared/heap.py).
    gc_freeze_at_start: bool = True

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

    #: Request bodies past these sizes are refused with 413 while they stream in. The JSON API
    #: takes small documents; webhook deliveries are sized from the CRM formats (the largest is a
    #: Salesforce Outbound Message: at most 100 notifications of ~1-2 KiB each).
    max_body_bytes: int = Field(1024 * 1024, ge=1)
    webhook_max_body_bytes: int = Field(256 * 1024, ge=1)
    #: The whole body must arrive within this (a total deadline, so a byte-a-second client fails).
    body_timeout_s: float = Field(30.0, gt=0)
    max_header_count: int = Field(100, ge=1)
    max_header_bytes: int = Field(16 * 1024, ge=1024)

    def body_limits_by_prefix(self) -> list[tuple[str, int]]:
        """Route classes whose bodies have their own limit: (path prefix, max bytes)."""
        return [("/v1/webhooks/", self.webhook_max_body_bytes)]

    #: Rate limits ("<count>/<second|minute|hour>"), counted per process. Generous by default:
    #: they stop floods, not clients; tests lower them.
    rate_limit_enabled: bool = True
    rate_limit_api_per_token: str = "1200/minute"
    rate_limit_api_per_address: str = "300/minute"  # API calls without a valid token
    rate_limit_webhooks_per_address: str = "1200/minute"
    rate_limit_webhook_refusals_per_address: str = "60/minute"

    @field_validator(
        "rate_limit_api_per_token",
        "rate_limit_api_per_address",
        "rate_limit_webhooks_per_address",
        "rate_limit_webhook_refusals_per_address",
    )
    @classmethod
    def _rate_limit_parses(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError as error:
            raise ValueError(f"not a rate limit like '60/minute': {value!r}") from error
        return value

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

    def service_secret_usable(self) -> bool:
        """Whether internal tokens may be signed and accepted: never the dev secret in production."""
        secret = self.service_secret.get_secret_value()
        return self.env != "production" or secret not in (DEV_SERVICE_SECRET, "")


class SealingSettings(ServiceSettings):
    """Settings of a service that seals secrets at rest under Fernet keys from its environment."""

    #: Whether production refuses to start without a key (else the service refuses, per write,
    #: only what it cannot seal).
    secrets_required_in_production: ClassVar[bool] = True

    #: Fernet keys, comma-separated; the first seals, all open (rotation: put the new key first,
    #: keep the old until rows are resealed).
    secrets_keys: SecretStr | None = None

    @model_validator(mode="after")
    def _keys_parse_and_production_has_one(self) -> SealingSettings:
        variable = f"{self.model_config.get('env_prefix', '')}SECRETS_KEYS"
        try:
            keys = self.secrets_key_list()
        except ValueError:
            raise ValueError(
                f"{variable} must be comma-separated Fernet keys "
                "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())')"
            ) from None
        if self.secrets_required_in_production and self.env == "production" and not keys:
            raise ValueError(
                f"ATTAIN_ENV=production refuses to store secrets in plaintext: set {variable}"
            )
        return self

    def secrets_key_list(self) -> list[str]:
        """The configured Fernet keys, sealing key first."""
        return parse_keys(self.secrets_keys.get_secret_value() if self.secrets_keys else None)


#: The services of a local stack, in port order from ATTAIN_PORT_BASE.
LOCAL_SERVICES = ("goals", "performance", "feedback")


class LocalStackSettings(BaseSettings):
    """Where `make run` listens and where `make demo` and the walkthrough look for it."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    port_base: int = Field(8001, ge=1, le=65535 - 2, validation_alias=_shared("ATTAIN_PORT_BASE"))
    broker_port: int = Field(9092, ge=1, le=65535, validation_alias=_shared("ATTAIN_BROKER_PORT"))

    @model_validator(mode="after")
    def _broker_apart_from_services(self) -> LocalStackSettings:
        # Caught here, the clash is named; at start-up it would look like a taken port.
        if self.broker_port in self.ports().values():
            raise ValueError(
                f"ATTAIN_BROKER_PORT={self.broker_port} is one of the service ports "
                f"{self.port_base}-{self.port_base + 2} (ATTAIN_PORT_BASE={self.port_base})"
            )
        return self

    def ports(self) -> dict[str, int]:
        """Each service's port: goals on the base, performance and feedback on the next two."""
        return {name: self.port_base + i for i, name in enumerate(LOCAL_SERVICES)}

    def urls(self) -> dict[str, str]:
        """Each service's base URL on the loopback interface."""
        return {name: f"http://127.0.0.1:{port}" for name, port in self.ports().items()}
