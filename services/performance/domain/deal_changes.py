"""CRM deal changes of a whole batch planned in memory: the sales, credits and deltas to write.

``DealBook.apply`` replays the deal changes of one delivery (or import row) in order against
the sales known so far, exactly as applying them one by one would, and collects what the batch
must write: new and changed sales with their credits, attainment deltas per (member, team,
period), the (team, period) pairs to evaluate, and the facts to emit. A change that cannot be
applied (an amount past its currency's bound) leaves the book as it was.

Where a sale's value is decided (``_value``) is the one place a per-sale valuation step, such
as a currency conversion, belongs; a new kind of change is one more branch of ``_change``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import cached_property
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from services.performance.domain.attainment import (
    ContributionKey,
    Contributions,
    contributions,
    delta,
)
from services.performance.domain.sale import Assignee, DealTerms, SaleChange, SaleState, TeamRef

SaleKey = tuple[uuid.UUID, str, str]  # (org, source, external_id)
FactKind = Literal["recorded", "adjusted", "reversed"]


class DealChange(Protocol):
    """What the book reads of a CRM deal change (an adapter's ``DealEvent``)."""

    @property
    def source(self) -> str: ...
    @property
    def external_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def amount(self) -> Decimal | None: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def closed_at(self) -> datetime | None: ...
    @property
    def closed_on(self) -> date | None: ...
    @property
    def owner_ref(self) -> str | None: ...
    @property
    def owner_email(self) -> str | None: ...
    @property
    def competitor(self) -> str | None: ...
    @property
    def reasons(self) -> Sequence[str]: ...


def record_deal(
    change: DealChange,
    *,
    id: uuid.UUID,
    org_id: uuid.UUID,
    closed_at: datetime,
    assignee: Assignee | None,
    at: datetime,
) -> SaleChange:
    """The sale of a deal first heard of; one first heard of as lost is kept lost."""
    return SaleState.record(
        id=id,
        org_id=org_id,
        source=change.source,
        external_id=change.external_id,
        amount=change.amount,
        currency=change.currency,
        closed_at=closed_at,
        assignee=assignee,
        owner_ref=change.owner_ref,
        owner_email=change.owner_email,
        competitor=change.competitor,
        lost_for=change.reasons if change.kind == "lost" else None,
        at=at,
    )


def apply_deal(
    sale: SaleState,
    change: DealChange,
    *,
    closed_at: datetime,
    team: TeamRef | None,
    assignee: Assignee | None,
    at: datetime,
) -> SaleChange:
    """A deal change of a known sale: reversed, lost, or its current (won) terms."""
    if change.kind == "reversed":  # a lost deal reopened leaves the lost deals too
        return sale.reverse(at=at)
    terms = DealTerms(change.amount, change.currency, closed_at, change.competitor)
    if change.kind == "lost":
        return sale.mark_lost(terms, reasons=change.reasons, team=team, assignee=assignee, at=at)
    return sale.adjust(terms, team=team, assignee=assignee, at=at)


@dataclass(frozen=True)
class PeriodSpan:
    """An org period's bounds."""

    id: uuid.UUID
    org_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    starts_on: date
    ends_on: date
    timezone: str


@dataclass(frozen=True)
class MemberRef:
    """A member as deal changes need them: their team, and whether CRM owners map to them."""

    id: uuid.UUID
    org_id: uuid.UUID
    team_id: uuid.UUID
    email: str
    crm: Mapping[str, str | None]
    active: bool


@dataclass(frozen=True)
class SaleFact:
    """A fact to emit: the sale as it was right after the change, and the periods it falls in."""

    kind: FactKind
    sale: SaleState
    period_id: uuid.UUID | None
    old_amount_minor: int


@dataclass(frozen=True)
class Snapshot:
    """What the batch read before planning: the sales of its deals, members, teams, periods."""

    sales: Mapping[SaleKey, SaleState]
    members: Mapping[uuid.UUID, MemberRef]
    team_currencies: Mapping[uuid.UUID, str]
    periods: Mapping[uuid.UUID, list[PeriodSpan]]  # by org, ordered by start

    def owner(
        self, org_id: uuid.UUID, source: str, owner_ref: str | None, email: str | None
    ) -> MemberRef | None:
        """The active member a CRM owner maps to: by the source's CRM id, else by e-mail."""
        if owner_ref:
            found = self._by_crm.get((org_id, source, owner_ref))
            if found is not None:
                return found
        if email:
            return self._by_email.get((org_id, email.strip().lower()))
        return None

    @cached_property
    def _by_crm(self) -> dict[tuple[uuid.UUID, str, str], MemberRef]:
        index: dict[tuple[uuid.UUID, str, str], MemberRef] = {}
        for member in self.members.values():
            for source, ref in member.crm.items():
                if member.active and ref:
                    index.setdefault((member.org_id, source, ref), member)
        return index

    @cached_property
    def _by_email(self) -> dict[tuple[uuid.UUID, str], MemberRef]:
        index: dict[tuple[uuid.UUID, str], MemberRef] = {}
        for member in self.members.values():
            if member.active:
                index.setdefault((member.org_id, member.email.lower()), member)
        return index


@dataclass
class _Changes:
    """The writes of one delivery, kept apart until it applied whole."""

    sales: dict[SaleKey, SaleState] = field(default_factory=dict)
    deltas: dict[ContributionKey, int] = field(default_factory=lambda: defaultdict(int))
    due: set[tuple[uuid.UUID, uuid.UUID, uuid.UUID]] = field(
        default_factory=set
    )  # org, team, period
    facts: list[SaleFact] = field(default_factory=list)


class DealBook:
    """Sales of a batch as they stand after each change applied so far."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        now: datetime,
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        self.snapshot = snapshot
        self.now = now
        self._new_id = new_id
        self._owners: dict[tuple[uuid.UUID, str, str | None, str | None], MemberRef | None] = {}
        self.done = _Changes()

    # -- the batch's writes -----------------------------------------------------------------

    def stored(self, key: SaleKey) -> SaleState | None:
        """The sale as the batch read it (None for one it creates)."""
        return self.snapshot.sales.get(key)

    def current(self, key: SaleKey) -> SaleState | None:
        """The sale as it stands after the changes applied so far."""
        return self.done.sales.get(key) or self.snapshot.sales.get(key)

    def changed_sales(self) -> list[tuple[SaleState | None, SaleState]]:
        """(as read, as planned) of every sale the batch created or changed."""
        return [
            (self.stored(key), sale)
            for key, sale in self.done.sales.items()
            if sale != self.stored(key)
        ]

    @property
    def deltas(self) -> dict[ContributionKey, int]:
        """Attainment change per (member, team, period), zero ones left out."""
        return {key: minor for key, minor in self.done.deltas.items() if minor}

    @property
    def due(self) -> set[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
        """(org, team, period) pairs whose evaluation the batch asks for."""
        return self.done.due

    @property
    def facts(self) -> list[SaleFact]:
        """Facts in the order their changes applied."""
        return self.done.facts

    # -- applying ---------------------------------------------------------------------------

    def apply(self, org_id: uuid.UUID, changes: Iterable[DealChange]) -> None:
        """Apply the changes of one delivery in order; on any error the book is left unchanged."""
        draft = _Changes()
        for change in changes:
            self._change(draft, org_id, change)
        self.done.sales.update(draft.sales)
        for key, minor in draft.deltas.items():
            self.done.deltas[key] += minor
        self.done.due |= draft.due
        self.done.facts.extend(draft.facts)

    def exists(self, key: SaleKey) -> bool:
        """Whether the deal already is a sale (stored, or created earlier in the batch)."""
        return self.current(key) is not None

    def _lookup(self, draft: _Changes, key: SaleKey) -> SaleState | None:
        return draft.sales.get(key) or self.current(key)

    def _owner(self, org_id: uuid.UUID, change: DealChange) -> MemberRef | None:
        cache_key = (org_id, change.source, change.owner_ref, change.owner_email)
        if cache_key not in self._owners:
            self._owners[cache_key] = self.snapshot.owner(
                org_id, change.source, change.owner_ref, change.owner_email
            )
        return self._owners[cache_key]

    def _change(self, draft: _Changes, org_id: uuid.UUID, change: DealChange) -> None:
        key = (org_id, change.source, change.external_id)
        sale = self._lookup(draft, key)
        if change.kind == "reversed" and sale is None:
            return  # reversing a sale we never kept changes nothing
        closed_at = self._closed_at(org_id, change) or (sale.closed_at if sale else self.now)
        if sale is None:
            assignee = self._assignee(org_id, change)
            self._settle(
                draft,
                record_deal(
                    change, id=self._new_id(), org_id=org_id, closed_at=closed_at,
                    assignee=assignee, at=self.now,
                ),
            )  # fmt: skip
            return
        team = self._team(sale.team_id)
        assignee = self._assignee(org_id, change) if sale.unassigned else None
        self._settle(
            draft,
            apply_deal(
                sale, change, closed_at=closed_at, team=team, assignee=assignee, at=self.now
            ),
        )

    def _team(self, team_id: uuid.UUID | None) -> TeamRef | None:
        if team_id is None:
            return None
        return TeamRef(team_id, self.snapshot.team_currencies.get(team_id))

    def _assignee(self, org_id: uuid.UUID, change: DealChange) -> Assignee | None:
        member = self._owner(org_id, change)
        if member is None:
            return None
        return Assignee(
            member.id, TeamRef(member.team_id, self.snapshot.team_currencies.get(member.team_id))
        )

    def _closed_at(self, org_id: uuid.UUID, change: DealChange) -> datetime | None:
        if change.closed_at is not None:
            return change.closed_at.astimezone(UTC)
        if change.closed_on is None:
            return None
        # A date-only close starts at that day's start in the time zone of a period holding it.
        timezone = next(
            (
                p.timezone
                for p in self.snapshot.periods.get(org_id, [])
                if p.starts_on <= change.closed_on <= p.ends_on
            ),
            "UTC",
        )
        day_start = datetime.combine(change.closed_on, time(), tzinfo=ZoneInfo(timezone))
        return day_start.astimezone(UTC)

    def _periods_of(self, sale: SaleState) -> list[PeriodSpan]:
        return [
            p
            for p in self.snapshot.periods.get(sale.org_id, [])
            if p.starts_at <= sale.closed_at < p.ends_at
        ]

    def _contributions(self, sale: SaleState | None) -> Contributions:
        if sale is None or not sale.counts:
            return {}
        team_of = {
            share.member_id: member.team_id
            for share in sale.credits
            if (member := self.snapshot.members.get(share.member_id)) is not None
        }
        period_ids = [p.id for p in self._periods_of(sale)]
        return contributions(sale, period_ids=period_ids, counted={}, team_of=team_of)

    def _settle(self, draft: _Changes, change: SaleChange) -> None:
        after = change.after
        if change.kind is None:
            if after != change.before:  # e.g. an assumed currency confirmed: stored, not announced
                draft.sales[_key(after)] = after
            return
        draft.sales[_key(after)] = after
        moved = delta(self._contributions(change.before), self._contributions(after))
        for key, minor in moved.items():
            draft.deltas[key] += minor
            draft.due.add((after.org_id, key[1], key[2]))
        fact = change.fact
        if fact is None or fact == "lost":  # lost deals take the change-by-change path
            return
        # The most specific period (a quarter rather than the year) names the sale's period.
        period = min(self._periods_of(after), key=lambda p: p.ends_at - p.starts_at, default=None)
        draft.facts.append(
            SaleFact(
                kind=fact,
                sale=after,
                period_id=period.id if period is not None else None,
                old_amount_minor=change.old_amount_minor,
            )
        )


def _key(sale: SaleState) -> SaleKey:
    """The CRM key of a sale (every sale of a deal change has an external id)."""
    assert sale.external_id is not None
    return (sale.org_id, sale.source, sale.external_id)
