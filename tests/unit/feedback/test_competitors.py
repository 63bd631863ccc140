"""The competitor summary and the previous meeting occurrence, as pure functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from services.feedback.domain.competitors import competitor_key, standings
from services.feedback.handlers.meetings import previous_occurrence

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


@dataclass
class Deal:
    competitor: str | None
    outcome: str
    amount_minor: int
    currency: str = "EUR"
    reasons: list[str] = field(default_factory=list)
    closed_at: datetime = T0

    @property
    def competitor_key(self) -> str | None:
        return competitor_key(self.competitor)


def test_names_match_without_case_or_spacing() -> None:
    assert competitor_key("  Globex   Corp ") == competitor_key("globex corp") == "globex corp"
    assert competitor_key("   ") is None and competitor_key(None) is None


def test_sums_exactly_per_competitor_and_currency_most_lost_first() -> None:
    rows = standings(
        [
            Deal("Initech", "lost", 50_000),
            Deal("Globex", "lost", 3_100_001, reasons=["price", "price", "timing"]),
            Deal("globex", "lost", 99, reasons=["price"], closed_at=T0 + timedelta(days=1)),
            Deal("Globex", "won", 2_400_000),
            Deal("Globex", "lost", 10_000, currency="USD"),
            Deal("Globex", "none", 1_000_000),
            Deal(None, "lost", 7),
        ]
    )
    assert [(s.competitor, s.currency) for s in rows] == [
        ("globex", "EUR"),
        ("Initech", "EUR"),
        ("Globex", "USD"),
    ]
    globex = rows[0]
    assert (globex.won_deals, globex.won_minor) == (1, 2_400_000)
    assert (globex.lost_deals, globex.lost_minor) == (2, 3_100_100)
    # A reason repeated within one deal counts once.
    assert [(r.reason, r.deals) for r in globex.top_loss_reasons] == [("price", 2), ("timing", 1)]


def test_keeps_the_top_reasons_only_ties_by_name() -> None:
    [row] = standings([Deal("Globex", "lost", 1, reasons=["d", "c", "b", "a"])], top=2)
    assert [r.reason for r in row.top_loss_reasons] == ["a", "b"]


@pytest.mark.parametrize(
    ("cadence", "before", "expected"),
    [
        pytest.param("weekly", T0 + timedelta(days=10), T0 + timedelta(days=7), id="weekly"),
        pytest.param("weekly", T0 + timedelta(days=7), T0, id="weekly-exactly-at-next"),
        pytest.param("biweekly", T0 + timedelta(days=30), T0 + timedelta(days=28), id="biweekly"),
        pytest.param("monthly", datetime(2027, 1, 2, 9, tzinfo=UTC), T0.replace(month=12), id="m"),
        pytest.param("monthly", datetime(2026, 12, 2, 8, tzinfo=UTC), T0, id="monthly-before-day"),
        pytest.param("none", T0 + timedelta(days=90), T0, id="one-off"),
        pytest.param("weekly", T0, None, id="not-yet"),
    ],
)
def test_previous_occurrence_is_the_last_one_strictly_before(
    cadence: str, before: datetime, expected: datetime | None
) -> None:
    assert previous_occurrence(scheduled_at=T0, cadence=cadence, before=before) == expected
