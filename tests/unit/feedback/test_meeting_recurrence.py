"""The next occurrence of a recurring meeting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.feedback.handlers.meetings import next_occurrence

pytestmark = pytest.mark.unit
NOW = datetime(2025, 3, 12, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("first", "cadence", "expected"),
    [
        (datetime(2025, 3, 20, 9, tzinfo=UTC), "none", datetime(2025, 3, 20, 9, tzinfo=UTC)),
        (datetime(2025, 3, 1, 9, tzinfo=UTC), "none", None),
        (datetime(2025, 3, 3, 9, tzinfo=UTC), "weekly", datetime(2025, 3, 17, 9, tzinfo=UTC)),
        (datetime(2025, 3, 3, 9, tzinfo=UTC), "biweekly", datetime(2025, 3, 17, 9, tzinfo=UTC)),
        (datetime(2025, 3, 12, 12, tzinfo=UTC), "weekly", datetime(2025, 3, 12, 12, tzinfo=UTC)),
        (datetime(2025, 1, 31, 9, tzinfo=UTC), "monthly", datetime(2025, 3, 31, 9, tzinfo=UTC)),
        (datetime(2024, 12, 10, 9, tzinfo=UTC), "monthly", datetime(2025, 4, 10, 9, tzinfo=UTC)),
    ],
)
def test_next_occurrence_is_the_first_at_or_after_now(first, cadence, expected):
    assert next_occurrence(scheduled_at=first, cadence=cadence, now=NOW) == expected
