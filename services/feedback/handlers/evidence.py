"""A target or credit dispute's evidence pack: gathered from its owners, frozen in a hash chain.

Feedback reads the evidence from the services that own it (goals: the target's derivation,
ledger rows and rebalance snapshots; performance: the sale, its credits and the raw
signature-checked CRM deliveries) with a short-lived service token, when the pack is asked for.
What it has not recorded yet is appended to the dispute's chain and never rewritten, so later
changes add entries and an earlier entry stays as it was first seen.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.exc import IntegrityError

from services.feedback.adapters.evidence_sources import EvidenceSources, Item, SourceUnavailable
from services.feedback.adapters.orm import DisputeEvidence
from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.feedback.domain.dispute import Dispute
from services.feedback.domain.evidence import Entry, append, canonical, first_broken, visible_to
from services.feedback.handlers.access import actor_of
from shared.auth import Principal
from shared.domain_errors import Conflict, NotFound
from shared.timeutil import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvidencePack:
    """The chain as the caller may see it: their entries in full, the others as hashes only."""

    dispute_id: UUID
    entries: list[Entry]
    shown: frozenset[int]
    broken_at: int | None
    unavailable: list[str]

    @property
    def head(self) -> str | None:
        """The hash of the last entry: one value that pins the whole chain."""
        return self.entries[-1].hash if self.entries else None


async def _load(uow: FeedbackUnitOfWork, principal: Principal, dispute_id: UUID) -> Dispute:
    dispute = await uow.disputes.get(org_id=principal.org, dispute_id=dispute_id)
    if dispute is None or not dispute.can_view(actor_of(principal)):
        raise NotFound("dispute not found")
    if not dispute.related:
        raise Conflict(
            "an evidence pack is kept for disputes about a target or a sale; this one names neither"
        )
    return dispute


async def _gather(sources: EvidenceSources, dispute: Dispute) -> tuple[str, list[Item] | None]:
    related = dispute.related or {}
    if "target_id" in related:
        return "goals", await sources.target(org=dispute.org_id, target_id=related["target_id"])
    return "performance", await sources.sale(org=dispute.org_id, sale_id=related["sale_id"])


def _entry(row: DisputeEvidence) -> Entry:
    return Entry(body=json.loads(row.body), prev_hash=row.prev_hash, hash=row.hash)


async def _record(
    uow: FeedbackUnitOfWork, dispute: Dispute, source: str, items: list[Item]
) -> list[Entry]:
    """Append what the chain does not hold yet; the chain after it."""
    chain = [
        _entry(r) for r in await uow.disputes.evidence(org_id=dispute.org_id, dispute_id=dispute.id)
    ]
    added = append(chain, items, source=source, recorded_at=utcnow().isoformat())
    if added:
        await uow.disputes.append_evidence(
            [
                DisputeEvidence(
                    dispute_id=dispute.id,
                    seq=e.seq,
                    org_id=dispute.org_id,
                    key=str(e.body["key"]),
                    body=canonical(e.body).decode(),
                    prev_hash=e.prev_hash,
                    hash=e.hash,
                )
                for e in added
            ]
        )
        await uow.commit()
    return chain + added


async def evidence_pack(
    dispute_id: UUID,
    *,
    uow_factory: Callable[[], FeedbackUnitOfWork],
    principal: Principal,
    sources: EvidenceSources,
) -> EvidencePack:
    """The dispute's evidence chain, topped up from its sources, as far as the caller may see."""
    async with uow_factory() as uow:
        dispute = await _load(uow, principal, dispute_id)
    unavailable: list[str] = []
    source, items = "", None
    try:
        # Outside any transaction: a slow source never holds the database.
        source, items = await _gather(sources, dispute)
    except SourceUnavailable as exc:
        log.warning("dispute %s: evidence source unavailable: %s", dispute.id, exc)
        unavailable.append(str(exc).split(":")[0])
    for attempt in (1, 2):
        try:
            async with uow_factory() as uow:
                chain = await _record(uow, dispute, source, items or [])
            break
        except IntegrityError:
            # Another request appended the same head first: read its chain and top it up.
            if attempt == 2:
                raise
    actor = actor_of(principal)
    sees_all = actor.is_admin or actor.manages(dispute.team_id)
    member = str(actor.member_id) if actor.member_id else None
    shown = frozenset(e.seq for e in chain if visible_to(e, sees_all=sees_all, member_id=member))
    return EvidencePack(
        dispute_id=dispute.id,
        entries=chain,
        shown=shown,
        broken_at=first_broken(chain),
        unavailable=unavailable,
    )
