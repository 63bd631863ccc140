"""Competitors: how a team fares against each one, from the deals won and lost against them.

Names are matched without regard to case or spacing (``"Globex"`` and ``" globex "`` are one
competitor, shown by the name its latest deal used). Amounts are summed exactly in minor units,
per currency: a competitor met in two currencies has one standing per currency.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

TOP_REASONS = 3


class CompetitorDealFacts(Protocol):
    """What the summary reads of one deal won or lost against a competitor."""

    @property
    def competitor(self) -> str | None: ...
    @property
    def competitor_key(self) -> str | None: ...
    @property
    def outcome(self) -> str: ...
    @property
    def amount_minor(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def reasons(self) -> Sequence[str]: ...
    @property
    def closed_at(self) -> datetime: ...


@dataclass(frozen=True)
class ReasonCount:
    """A loss reason and how many deals lost to the competitor gave it."""

    reason: str
    deals: int


@dataclass(frozen=True)
class CompetitorStanding:
    """Deals won and lost against one competitor, in one currency."""

    competitor_key: str
    competitor: str
    currency: str
    won_deals: int
    won_minor: int
    lost_deals: int
    lost_minor: int
    top_loss_reasons: list[ReasonCount]


def competitor_key(name: str | None) -> str | None:
    """The matching key of a competitor's name: case-folded, inner spaces collapsed."""
    if name is None:
        return None
    key = " ".join(name.split()).casefold()
    return key or None


def standings(
    deals: Iterable[CompetitorDealFacts], *, top: int = TOP_REASONS
) -> list[CompetitorStanding]:
    """Sum the won and lost deals per competitor and currency; the most lost against first."""
    groups: dict[tuple[str, str], list[CompetitorDealFacts]] = {}
    for deal in deals:
        if deal.outcome not in ("won", "lost") or deal.competitor_key is None:
            continue
        groups.setdefault((deal.competitor_key, deal.currency), []).append(deal)
    result = [_standing(key, currency, rows, top) for (key, currency), rows in groups.items()]
    return sorted(
        result, key=lambda s: (-s.lost_minor, -s.lost_deals, s.competitor_key, s.currency)
    )


def _standing(
    key: str, currency: str, rows: list[CompetitorDealFacts], top: int
) -> CompetitorStanding:
    won = [r for r in rows if r.outcome == "won"]
    lost = [r for r in rows if r.outcome == "lost"]
    # Each lost deal counts a reason once, however often it repeats it.
    reasons = Counter(reason for r in lost for reason in dict.fromkeys(r.reasons))
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:top]
    latest = max(rows, key=lambda r: r.closed_at)
    return CompetitorStanding(
        competitor_key=key,
        competitor=latest.competitor or key,
        currency=currency,
        won_deals=len(won),
        won_minor=sum(r.amount_minor for r in won),
        lost_deals=len(lost),
        lost_minor=sum(r.amount_minor for r in lost),
        top_loss_reasons=[ReasonCount(reason=r, deals=n) for r, n in ranked],
    )
