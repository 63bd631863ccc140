"""Market intelligence use cases: share an item with the team, search the team's items."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from services.feedback.adapters.orm import IntelItem
from services.feedback.adapters.repository import normalise_tag
from services.feedback.adapters.unit_of_work import FeedbackUnitOfWork
from services.feedback.domain.competitors import competitor_key
from services.feedback.handlers.access import caller_team_ids, visible_team
from shared.auth import Principal
from shared.domain_errors import InvalidInput
from shared.events.feedback import IntelShared

INTEL_KINDS = ("competitor", "pricing", "customer", "product", "region")


@dataclass(frozen=True, kw_only=True)
class ShareIntel:
    """Share a piece of market intelligence with the team."""

    team_id: UUID
    title: str
    body: str
    kind: str
    tags: list[str] = field(default_factory=list)
    competitor: str | None = None
    sale_ids: list[UUID] = field(default_factory=list)


async def share_intel(
    cmd: ShareIntel, *, uow: FeedbackUnitOfWork, principal: Principal
) -> IntelItem:
    """Store an item and announce it: anyone on the team, its manager or an admin."""
    if cmd.kind not in INTEL_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(INTEL_KINDS)}", field="kind")
    for name in ("title", "body"):
        if not getattr(cmd, name).strip():
            raise InvalidInput(f"{name} is required", field=name)
    tags = list(dict.fromkeys(normalise_tag(t) for t in cmd.tags if t.strip()))
    competitor = " ".join(cmd.competitor.split()) if cmd.competitor else None
    sale_ids = list(dict.fromkeys(cmd.sale_ids))
    async with uow:
        team = await visible_team(uow, principal, cmd.team_id)
        item = await uow.intel.add(
            {
                "id": uuid.uuid4(),
                "org_id": principal.org,
                "team_id": team.id,
                "kind": cmd.kind,
                "title": cmd.title.strip(),
                "body": cmd.body.strip(),
                "tags": tags,
                "author_sub": principal.sub,
                "author_id": principal.member_id,
                "created_at": datetime.now(UTC),
                "competitor": competitor or None,
                "competitor_key": competitor_key(competitor),
                "sale_ids": [str(s) for s in sale_ids],
            }
        )
        uow.emit(
            IntelShared(
                org_id=principal.org,
                team_id=team.id,
                intel_id=item.id,
                kind=item.kind,
                title=item.title,
                tags=item.tags,
                competitor=item.competitor,
                sale_ids=sale_ids,
                author_id=item.author_id,
                shared_at=item.created_at,
            )
        )
        await uow.commit()
        return item


async def search_intel(
    *,
    uow: FeedbackUnitOfWork,
    principal: Principal,
    team_id: UUID | None,
    q: str | None,
    tag: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[IntelItem], str | None]:
    """Search the intel of the caller's teams (one team when given; admins: the whole org)."""
    async with uow:
        if team_id is not None:
            team_ids: list[UUID] | None = [(await visible_team(uow, principal, team_id)).id]
        elif principal.is_admin:
            team_ids = None
        else:
            team_ids = sorted(await caller_team_ids(uow, principal))
        return await uow.intel.search(
            org_id=principal.org, team_ids=team_ids, q=q, tag=tag, cursor=cursor, limit=limit
        )
