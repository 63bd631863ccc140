"""Composition root of the feedback service: the one place that wires infrastructure."""

from __future__ import annotations

from services.feedback.adapters.orm import metadata, plumbing
from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.feedback.config import Settings
from services.feedback.handlers import events as reactions
from services.feedback.handlers.competitors import on_sale_fact
from services.feedback.handlers.disputes import on_change_request_disputed
from services.feedback.handlers.jobs import close_expired, deliver_webhooks, overdue_action_items
from shared.events.goals import (
    ChangeRequestDisputed,
    MemberJoined,
    MemberLeft,
    MemberUpdated,
    TargetChanged,
    TargetsRebalanced,
    TeamCreated,
    TeamUpdated,
)
from shared.events.performance import (
    AttainmentChanged,
    SaleAdjusted,
    SaleLost,
    SaleRecorded,
    SaleReversed,
    ShortfallDetected,
    ShortfallRecovered,
    TeamShortfallsDetected,
)
from shared.runtime import PeriodicJob, ServiceRuntime
from shared.secrets import SecretBox


def build_runtime(settings: Settings) -> ServiceRuntime[FeedbackUnitOfWork]:
    """Build the runtime (database, outbox relay, consumer, jobs) of one process."""
    return ServiceRuntime(
        settings=settings,
        metadata=metadata,
        plumbing=plumbing,
        uow_class=FeedbackUnitOfWork,
        handlers={
            TeamCreated: reactions.on_team_created,
            TeamUpdated: reactions.on_team_updated,
            MemberJoined: reactions.on_member_joined,
            MemberUpdated: reactions.on_member_updated,
            MemberLeft: reactions.on_member_left,
            TeamShortfallsDetected: reactions.on_team_shortfalls_detected,
            # Still accepted until no producer emits it (performance stopped with this release).
            ShortfallDetected: reactions.on_shortfall_detected,
            ShortfallRecovered: reactions.on_shortfall_recovered,
            AttainmentChanged: reactions.on_attainment_changed,
            TargetChanged: reactions.on_target_changed,
            TargetsRebalanced: reactions.on_targets_rebalanced,
            # Deals won and lost against competitors, for the team's competitor view.
            SaleRecorded: on_sale_fact,
            SaleAdjusted: on_sale_fact,
            SaleReversed: on_sale_fact,
            SaleLost: on_sale_fact,
            ChangeRequestDisputed: on_change_request_disputed,
        },
        jobs=(
            PeriodicJob(
                name="close-expired-disputes",
                interval_s=settings.dispute_sweep_interval_s,
                run=close_expired,
            ),
            PeriodicJob(
                name="overdue-action-items",
                interval_s=settings.action_item_sweep_interval_s,
                run=overdue_action_items,
            ),
            PeriodicJob(
                name="deliver-webhooks",
                interval_s=settings.webhook_poll_interval_s,
                run=deliver_webhooks,
            ),
        ),
        uow_options={"secrets": SecretBox(settings.secrets_key_list())},
    )
