"""Settings of the performance service (environment prefix PERFORMANCE_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.config import SealingSettings


class Settings(SealingSettings):
    """Performance service configuration."""

    model_config = SettingsConfigDict(env_prefix="PERFORMANCE_")

    service_name: ClassVar[str] = "performance"
    default_port: ClassVar[int] = 8002

    #: The URL CRMs call (scheme + host + prefix); HubSpot signs it, so behind a proxy it differs
    #: from the internal request URL.
    public_base_url: str = "http://localhost:8002"
    hubspot_api_base_url: str = "https://api.hubapi.com"
    #: Fallback private-app token when an org stored none with its HubSpot secret.
    hubspot_private_app_token: SecretStr | None = None
    hubspot_timeout_s: float = 5.0
    #: How long a replaced webhook secret stays valid unless the rotation says otherwise.
    webhook_secret_overlap_s: int = 24 * 3600
    #: A refused delivery keeps only an audit record: its size, SHA-256 and first bytes.
    webhook_rejection_head_bytes: int = Field(2048, ge=0, le=16 * 1024)
    #: Records kept at most (about 10 KiB each); past it refusals are only counted in metrics.
    webhook_rejection_max_rows: int = Field(5000, ge=0)
    webhook_rejection_retention_hours: float = Field(24 * 7, gt=0)
    webhook_rejection_purge_interval_s: float = Field(3600.0, gt=0)
    #: How long intake keeps an (org, source)'s opened secrets before reading them again; a
    #: rotation takes effect at once in the process that made it, within this in the others.
    webhook_secret_cache_s: float = Field(1.0, ge=0, le=60)
    #: Group commit of verified deliveries: one transaction per this many rows ...
    webhook_group_commit_rows: int = Field(64, ge=1, le=1000)
    #: ... or per this wait after the first row of a flush, whichever comes first.
    webhook_group_commit_ms: float = Field(2.0, ge=0, le=100)
    #: Deliveries the processor applies per transaction, and its poll when not woken.
    webhook_batch_size: int = Field(100, ge=1, le=1000)
    #: Once the backlog is worked off, the processor waits this long between batches, so a
    #: trickle is applied in few batches and the writer stays free for intake in between.
    webhook_processor_linger_ms: float = Field(100.0, ge=0, le=2000)
    webhook_poll_s: float = Field(0.5, gt=0)
    #: A bulk sale import's body (NDJSON or CSV) may be this large: 50,000 rows of the generic
    #: format are about 10 MiB. Raised deliberately for that one route; the rest keep theirs.
    import_max_body_bytes: int = Field(32 * 1024 * 1024, ge=1)
    #: Import rows the processor applies per transaction (after the webhook deliveries due).
    import_batch_size: int = Field(1000, ge=1, le=5000)
    #: A failed HubSpot deal fetch is retried this often, waiting backoff * 2^n in between.
    hubspot_fetch_attempts: int = Field(5, ge=1)
    hubspot_fetch_backoff_s: float = Field(2.0, ge=0)
    evaluation_interval_s: float = 300.0
    #: Evaluation after sales waits for this much quiet in a (team, period) ...
    evaluation_quiet_s: float = 2.0
    #: ... but never longer than this after the first sale of a burst.
    evaluation_max_delay_s: float = 10.0
    #: How often settled evaluations are looked for, and how many are taken at a time.
    evaluation_due_tick_s: float = 0.5
    evaluation_batch: int = 50
    period_close_interval_s: float = 300.0

    def body_limits_by_prefix(self) -> list[tuple[str, int]]:
        """Webhooks' limit, and the bulk import's larger one."""
        return [("/v1/sales/imports", self.import_max_body_bytes), *super().body_limits_by_prefix()]
