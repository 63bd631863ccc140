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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import cached_property
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from services.performance.domain.sales import credited_amounts
from shared.money import to_minor

UNKNOWN_CURRENCY = "XXX"  # ISO 4217 "no currency": the CRM did not say and no team is known yet
SaleKey = tuple[uuid.UUID, str, str]  # (org, source, external_id)
ContributionKey = tuple[uuid.UUID, uuid.UUID, uuid.UUID]  # (member, team, period)
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
class SaleState:
    """A sale with its credits (member, percent, credited minor units), as stored or planned."""

    id: uuid.UUID
    org_id: uuid.UUID
    source: str
    external_id: str
    amount_minor: int
    currency: str
    currency_assumed: bool
    currency_mismatch: bool
    closed_at: datetime
    status: str
    unassigned: bool
    team_id: uuid.UUID | None
    owner_ref: str | None
    owner_email: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    credits: tuple[tuple[uuid.UUID, str, int], ...] = ()

    @property
    def key(self) -> SaleKey:
        """The CRM key of the sale."""
        return (self.org_id, self.source, self.external_id)

    @property
    def counts(self) -> bool:
        """Whether the sale adds to attainment."""
        return self.status == "active" and not self.currency_mismatch and self.team_id is not None


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
        return {key: delta for key, delta in self.done.deltas.items() if delta}

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
        for key, delta in draft.deltas.items():
            self.done.deltas[key] += delta
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
        if change.kind == "reversed":
            if sale is None or sale.status != "active":
                return  # reversing a sale we never counted changes nothing
            self._settle(
                draft,
                sale,
                replace(sale, status="reversed", version=sale.version + 1, updated_at=self.now),
                "reversed",
            )
            return
        closed_at = self._closed_at(org_id, change) or (sale.closed_at if sale else self.now)
        if sale is None:
            self._record(draft, org_id, change, closed_at)
            return
        self._update(draft, sale, change, closed_at)

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

    def _record(
        self, draft: _Changes, org_id: uuid.UUID, change: DealChange, closed_at: datetime
    ) -> None:
        member = self._owner(org_id, change)
        team_currency = (
            self.snapshot.team_currencies.get(member.team_id) if member is not None else None
        )
        currency = change.currency or team_currency or UNKNOWN_CURRENCY
        sale = SaleState(
            id=self._new_id(),
            org_id=org_id,
            source=change.source,
            external_id=change.external_id,
            amount_minor=to_minor(change.amount or Decimal(0), currency),
            currency=currency,
            currency_assumed=change.currency is None and team_currency is None,
            currency_mismatch=False,
            closed_at=closed_at,
            status="active",
            unassigned=member is None,
            team_id=None,
            owner_ref=change.owner_ref,
            owner_email=change.owner_email,
            version=1,
            created_at=self.now,
            updated_at=self.now,
        )
        if member is not None:
            sale = self._credit(self._value(sale, member.team_id), {member.id: Decimal(100)})
        self._settle(draft, None, sale, "recorded")

    def _update(
        self, draft: _Changes, sale: SaleState, change: DealChange, closed_at: datetime
    ) -> None:
        reactivated = sale.status != "active"
        currency = change.currency or sale.currency
        amount_minor = to_minor(change.amount or Decimal(0), currency)
        changed = (amount_minor, currency, closed_at) != (
            sale.amount_minor,
            sale.currency,
            sale.closed_at,
        )
        after = replace(sale, amount_minor=amount_minor, closed_at=closed_at, status="active")
        if change.currency is not None:
            after = replace(after, currency=change.currency, currency_assumed=False)
        if sale.unassigned:
            member = self._owner(sale.org_id, change)
            if member is not None:
                after = self._value(after, member.team_id)
                after = self._credit(after, {member.id: Decimal(100)})
                changed = reactivated = True
        elif changed:
            after = self._credit(after, {m: Decimal(p) for m, p, _ in sale.credits})
            if after.team_id is not None:
                after = self._value(after, after.team_id)
        if not changed and not reactivated:
            if after != sale:  # e.g. an assumed currency confirmed: stored, nothing to announce
                draft.sales[sale.key] = after
            return
        after = replace(after, version=sale.version + 1, updated_at=self.now)
        self._settle(draft, sale, after, "recorded" if reactivated else "adjusted")

    def _value(self, sale: SaleState, team_id: uuid.UUID) -> SaleState:
        """Tie a sale to a team: adopt the team currency if the CRM gave none, flag a mismatch."""
        team_currency = self.snapshot.team_currencies.get(team_id)
        sale = replace(sale, team_id=team_id, unassigned=False)
        if team_currency is None:
            return replace(sale, currency_mismatch=False)
        if sale.currency_assumed:
            sale = replace(sale, currency=team_currency, currency_assumed=False)
        return replace(sale, currency_mismatch=sale.currency != team_currency)

    @staticmethod
    def _credit(sale: SaleState, split: Mapping[uuid.UUID, Decimal]) -> SaleState:
        if len(split) == 1 and next(iter(split.values())) == 100:  # the usual single owner
            amounts = dict.fromkeys(split, sale.amount_minor)
        else:
            amounts = credited_amounts(sale.amount_minor, split)
        return replace(sale, credits=tuple((m, str(p), amounts[m]) for m, p in split.items()))

    def _contributions(self, sale: SaleState | None) -> dict[ContributionKey, int]:
        if sale is None or not sale.counts:
            return {}
        result: dict[ContributionKey, int] = defaultdict(int)
        for member_id, _, minor in sale.credits:
            member = self.snapshot.members.get(member_id)
            team_id = member.team_id if member is not None else sale.team_id
            assert team_id is not None  # a counting sale has a team
            for period in self._periods_of(sale):
                result[(member_id, team_id, period.id)] += minor
        return dict(result)

    def _periods_of(self, sale: SaleState) -> list[PeriodSpan]:
        return [
            p
            for p in self.snapshot.periods.get(sale.org_id, [])
            if p.starts_at <= sale.closed_at < p.ends_at
        ]

    def _settle(
        self, draft: _Changes, before: SaleState | None, after: SaleState, kind: FactKind
    ) -> None:
        draft.sales[after.key] = after
        was, now = self._contributions(before), self._contributions(after)
        for key in was.keys() | now.keys():
            draft.deltas[key] += now.get(key, 0) - was.get(key, 0)
            draft.due.add((after.org_id, key[1], key[2]))
        if after.team_id is None:
            return
        # The most specific period (a quarter rather than the year) names the sale's period.
        period = min(self._periods_of(after), key=lambda p: p.ends_at - p.starts_at, default=None)
        old = before.amount_minor if before is not None and kind == "adjusted" else None
        draft.facts.append(
            SaleFact(
                kind=kind,
                sale=after,
                period_id=period.id if period is not None else None,
                old_amount_minor=old if old is not None else after.amount_minor,
            )
        )
