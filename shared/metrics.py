"""Prometheus metrics of one service, on its own registry (several apps may share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServiceMetrics:
    """Every metric a service exports: HTTP, outbox and consumer counters."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = {"service": service}
        self.http_requests = Counter(
            "http_requests_total", "HTTP requests served.", ["method", "route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.http_latency = Histogram(
            "http_request_duration_seconds", "HTTP request latency.", ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )  # fmt: skip
        self.http_refused = Counter(
            "http_refused_total", "Requests refused by a size, time or rate limit.", ["reason"],
            registry=self.registry,
        )  # fmt: skip
        self.webhooks_rejected = Counter(
            "webhooks_rejected_total",
            "Webhook deliveries refused (no secret, bad signature, malformed); recorded is "
            "false when the audit cap was reached and only this counter saw it.",
            ["source", "reason", "recorded"], registry=self.registry,
        )  # fmt: skip
        self.outbox_pending = Gauge(
            "outbox_pending", "Outbox rows not yet published.", registry=self.registry
        )
        self.outbox_oldest_age = Gauge(
            "outbox_oldest_pending_age_seconds", "Age of the oldest unpublished outbox row.",
            registry=self.registry,
        )  # fmt: skip
        self.events_published = Counter(
            "events_published_total", "Events sent to the broker.", ["type"], registry=self.registry
        )
        self.events_consumed = Counter(
            "events_consumed_total", "Events applied by a consumer.", ["consumer", "type"],
            registry=self.registry,
        )  # fmt: skip
        self.events_duplicate = Counter(
            "events_duplicate_total", "Redelivered events skipped by the inbox.", ["consumer"],
            registry=self.registry,
        )  # fmt: skip
        self.events_dead_lettered = Counter(
            "events_dead_lettered_total", "Events sent to the dead-letter topic.", ["consumer"],
            registry=self.registry,
        )  # fmt: skip
        self.consumer_transactions = Counter(
            "consumer_transactions_total", "Committed consumer transactions (a batch each).",
            ["consumer"], registry=self.registry,
        )  # fmt: skip
        self.info = Gauge(
            "attain_service_info", "Service identity.", ["service"], registry=self.registry
        )
        self.info.labels(**labels).set(1)
