"""The sale aggregate: every change of a sale's status, amount, team, credit and version.

A ``SaleState`` is a frozen value; each change is a method returning a ``SaleChange`` (the sale
before and after, and what kind of change to announce). The change-by-change handlers map it to
and from the table row; the set-based batch planner (``deal_changes``) keeps it as it is. Both
therefore follow the same rules. Times are passed in, never read here.

Lost deals are sales in the ``lost`` state, which never count: a deal first heard of as lost is
recorded lost; a won sale that is lost stops counting and becomes lost (the version bumped, as
any other change); a lost deal won later is re-activated, and one reopened is reversed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from services.performance.domain.sales import HUNDRED, credited_amounts, move_credit
from shared.money import to_minor

UNKNOWN_CURRENCY = "XXX"  # ISO 4217 "no currency": the CRM did not say and no team is known yet
ChangeKind = Literal["recorded", "adjusted", "reversed", "lost"]


class Share(NamedTuple):
    """A member's share of a sale: percent (decimal text) and credited minor units."""

    member_id: uuid.UUID
    percent: str
    credited_minor: int


@dataclass(frozen=True)
class TeamRef:
    """The team a sale is tied to, with its currency (None: the team is not known here yet)."""

    id: uuid.UUID
    currency: str | None


@dataclass(frozen=True)
class Assignee:
    """The member a CRM owner maps to, and their team: who an unassigned sale goes to."""

    member_id: uuid.UUID
    team: TeamRef


@dataclass(frozen=True)
class DealTerms:
    """What a CRM deal now says of its sale (None: the CRM did not say)."""

    amount: Decimal | None
    currency: str | None
    closed_at: datetime
    competitor: str | None = None

    def unpacked(self) -> tuple[Decimal | None, str | None, datetime, str | None]:
        """(amount, currency, closed_at, competitor)."""
        return self.amount, self.currency, self.closed_at, self.competitor


@dataclass(frozen=True, kw_only=True)
class SaleState:
    """A sale with its credits, as stored or planned."""

    id: uuid.UUID
    org_id: uuid.UUID
    source: str
    external_id: str | None
    amount_minor: int
    currency: str
    currency_assumed: bool
    currency_mismatch: bool
    closed_at: datetime
    # active | reversed | lost (a closed-lost deal: kept for the competitor view, never counted)
    status: str
    unassigned: bool
    team_id: uuid.UUID | None
    owner_ref: str | None
    owner_email: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    competitor: str | None = None
    loss_reasons: tuple[str, ...] = ()
    credits: tuple[Share, ...] = ()

    @property
    def counts(self) -> bool:
        """Whether the sale adds to attainment as sold (in its team's currency)."""
        return self.status == "active" and not self.currency_mismatch and self.team_id is not None

    @property
    def converts(self) -> bool:
        """Whether it counts only where a period's rate values it (another currency)."""
        return self.status == "active" and self.currency_mismatch and self.team_id is not None

    @property
    def split(self) -> dict[uuid.UUID, Decimal]:
        """Member -> percent of the credit."""
        return {share.member_id: Decimal(share.percent) for share in self.credits}

    # -- changes ----------------------------------------------------------------------------

    @classmethod
    def record(
        cls,
        *,
        id: uuid.UUID,
        org_id: uuid.UUID,
        source: str,
        external_id: str | None,
        amount: Decimal | None,
        currency: str | None,
        closed_at: datetime,
        assignee: Assignee | None,
        split: Mapping[uuid.UUID, Decimal] | None = None,
        owner_ref: str | None = None,
        owner_email: str | None = None,
        competitor: str | None = None,
        lost_for: Sequence[str] | None = None,
        at: datetime,
    ) -> SaleChange:
        """A new sale, credited to the assignee (or ``split``); lost if ``lost_for`` is given."""
        team_currency = assignee.team.currency if assignee is not None else None
        chosen = currency or team_currency or UNKNOWN_CURRENCY
        sale = cls(
            id=id,
            org_id=org_id,
            source=source,
            external_id=external_id,
            amount_minor=to_minor(amount or Decimal(0), chosen),
            currency=chosen,
            currency_assumed=currency is None and team_currency is None,
            currency_mismatch=False,
            closed_at=closed_at,
            status="active" if lost_for is None else "lost",
            unassigned=assignee is None,
            team_id=None,
            owner_ref=owner_ref,
            owner_email=owner_email,
            version=1,
            created_at=at,
            updated_at=at,
            competitor=competitor,
            loss_reasons=tuple(lost_for or ()),
        )
        if assignee is not None:
            sale = sale._changed(team=assignee.team, split=split or {assignee.member_id: HUNDRED})
        return SaleChange("recorded" if lost_for is None else "lost", None, sale)

    def adjust(
        self, terms: DealTerms, *, team: TeamRef | None, assignee: Assignee | None, at: datetime
    ) -> SaleChange:
        """A won deal's new terms: re-activates a sale not active, credits an unassigned one.

        ``team`` is the sale's own team; ``assignee`` is used only while the sale is unassigned.
        Nothing new announces nothing, though a confirmed currency is still kept.
        """
        amount, currency, closed_at, competitor = terms.unpacked()
        reactivated = self.status != "active"
        chosen = currency or self.currency
        amount_minor = to_minor(amount or Decimal(0), chosen)
        changed = (amount_minor, chosen, closed_at) != (
            self.amount_minor,
            self.currency,
            self.closed_at,
        )
        fields: dict[str, Any] = {
            "amount_minor": amount_minor,
            "closed_at": closed_at,
            "status": "active",
            "loss_reasons": (),
        }
        if currency is not None:
            fields.update(currency=currency, currency_assumed=False)
        if competitor is not None:
            changed |= competitor != self.competitor
            fields["competitor"] = competitor
        tie, split = None, None
        if self.unassigned:
            if assignee is not None:
                tie, split = assignee.team, {assignee.member_id: HUNDRED}
                changed = reactivated = True
        elif changed:
            tie, split = (team if self.team_id is not None else None), self.split
        if not changed and not reactivated:
            return SaleChange(None, self, self._changed(**fields))
        after = self._changed(at=at, team=tie, split=split, **fields)
        return SaleChange("recorded" if reactivated else "adjusted", self, after)

    def reverse(self, *, at: datetime) -> SaleChange:
        """The deal was reversed (or a lost one reopened): the sale stops counting."""
        if self.status == "reversed":
            return SaleChange(None, self, self)  # reversing twice changes nothing
        return SaleChange("reversed", self, self._changed(at=at, status="reversed"))

    def mark_lost(
        self,
        terms: DealTerms,
        *,
        reasons: Sequence[str],
        team: TeamRef | None,
        assignee: Assignee | None,
        at: datetime,
    ) -> SaleChange:
        """The deal closed lost: the sale stops counting and keeps why; a repeat changes nothing."""
        amount, currency, closed_at, competitor = terms.unpacked()
        chosen = currency or self.currency
        fields: dict[str, Any] = {
            "status": "lost",
            "amount_minor": to_minor(amount or Decimal(0), chosen),
            "currency": chosen,
            "closed_at": closed_at,
            "competitor": competitor if competitor is not None else self.competitor,
            "loss_reasons": tuple(reasons),
        }
        newly_assigned = self.unassigned and assignee is not None
        if replace(self, **fields) == self and not newly_assigned:
            return SaleChange(None, self, self)  # a repeat: nothing new, and nobody new to credit
        if currency is not None:
            fields["currency_assumed"] = False
        tie, split = None, None
        if assignee is not None and self.unassigned:
            tie, split = assignee.team, {assignee.member_id: HUNDRED}
        elif (fields["amount_minor"], chosen) != (self.amount_minor, self.currency):
            tie, split = (team if self.team_id is not None else None), self.split
        return SaleChange("lost", self, self._changed(at=at, team=tie, split=split, **fields))

    def assign(
        self, *, split: Mapping[uuid.UUID, Decimal], team: TeamRef, at: datetime
    ) -> SaleChange:
        """Credit the sale to members of a team: an unassigned sale is thereby recorded."""
        after = self._changed(at=at, team=team, split=split)
        return SaleChange("adjusted" if self.team_id is not None else "recorded", self, after)

    def move_credit(
        self, *, to_member_id: uuid.UUID, percent: Decimal, team: TeamRef | None, at: datetime
    ) -> SaleChange:
        """Move percent points of credit to a member; an unassigned sale goes to ``team``."""
        split = move_credit(self.split, to_member_id=to_member_id, percent=percent)
        tie = team if self.team_id is None else None
        return SaleChange("adjusted", self, self._changed(at=at, team=tie, split=split))

    def revalued(self, *, at: datetime) -> SaleChange:
        """A rate change re-valued the sale: the same terms under a new version."""
        return SaleChange("adjusted", self, self._changed(at=at))

    # -- internals --------------------------------------------------------------------------

    def _changed(
        self,
        *,
        at: datetime | None = None,
        team: TeamRef | None = None,
        split: Mapping[uuid.UUID, Decimal] | None = None,
        **fields: Any,
    ) -> SaleState:
        """One copy with ``fields``, tied to ``team``, credited by ``split``, a new version at ``at``.

        Tying adopts the team's currency if the CRM gave none and flags a currency mismatch.
        """
        if team is not None:
            currency = fields.get("currency", self.currency)
            fields.update(team_id=team.id, unassigned=False, currency_mismatch=False)
            if team.currency is not None:
                if fields.get("currency_assumed", self.currency_assumed):
                    currency = team.currency
                    fields.update(currency=currency, currency_assumed=False)
                fields["currency_mismatch"] = currency != team.currency
        if split is not None:
            fields["credits"] = _shares(fields.get("amount_minor", self.amount_minor), split)
        if at is not None:
            fields.update(version=self.version + 1, updated_at=at)
        return replace(self, **fields)


def _shares(amount_minor: int, split: Mapping[uuid.UUID, Decimal]) -> tuple[Share, ...]:
    if len(split) == 1 and next(iter(split.values())) == HUNDRED:  # the usual single owner
        amounts = dict.fromkeys(split, amount_minor)
    else:
        amounts = credited_amounts(amount_minor, split)
    return tuple(Share(m, str(p), amounts[m]) for m, p in split.items())


@dataclass(frozen=True)
class SaleChange:
    """One change of a sale: its kind (None: nothing to announce), and the sale before and after."""

    kind: ChangeKind | None
    before: SaleState | None
    after: SaleState

    @property
    def fact(self) -> ChangeKind | None:
        """The fact to emit: none for an unassigned sale; any change of a lost deal is a loss."""
        if self.kind is None or self.after.team_id is None:
            return None
        return "lost" if self.after.status == "lost" else self.kind

    @property
    def old_amount_minor(self) -> int:
        """The amount before the change (the amount itself for a new sale)."""
        return (self.before or self.after).amount_minor

    @property
    def credits_changed(self) -> bool:
        """Whether the credit rows are to be (re)written."""
        return self.before is None or self.before.credits != self.after.credits
