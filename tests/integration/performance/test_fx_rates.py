"""A period's exchange rates: sales in other currencies count at them, re-valued when they change."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from services.performance.adapters.orm import EvaluationDue, FxRate, FxRateChange, SaleValuation
from shared.events.goals import CrmIds, MemberJoined, PeriodDefined, TeamCreated
from tests.harness import as_admin
from tests.integration.performance.conftest import FROZEN, ORG, Q4_END, Q4_START, PerfApp
from tests.integration.performance.test_webhooks import (
    GENERIC_BODY,
    GENERIC_SECRET,
    _sign_generic,
    ana_sales,
    post,
)

pytestmark = pytest.mark.integration
ADMIN = uuid.UUID("a0d1e2f3-0000-4000-8000-00000000ad01")
ADMIN_HEADERS = as_admin(ORG, sub=ADMIN)


async def put_rates(perf: PerfApp, body: dict, headers: dict | None = None, period=None):
    period_id = period or perf.seeded.period_id
    return await perf.client.put(
        f"/v1/periods/{period_id}/fx-rates", json=body, headers=headers or ADMIN_HEADERS
    )


async def usd_sale(perf: PerfApp) -> dict:
    """Ana's 12,500.00 USD sale, delivered by the signed generic webhook and processed."""
    body = GENERIC_BODY.replace(b'"EUR"', b'"USD"')
    signed = _sign_generic(body, "msg_usd_sale", "1796656000")
    assert (await post(perf, "generic", body, signed)).status_code == 202
    await perf.processed()
    [sale] = await ana_sales(perf)
    return sale


async def outbox_types(perf: PerfApp) -> list[str]:
    outbox = perf.runtime.engine  # the outbox shares the service database
    async with outbox.connect() as conn:
        rows = await conn.execute(sa.text("SELECT type FROM outbox ORDER BY created_at"))
        return [r[0] for r in rows]


async def test_a_sale_counts_at_the_period_rate_and_is_revalued_when_the_rate_changes(
    perf_db: PerfApp,
):
    perf = perf_db
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    sale = await usd_sale(perf)
    # Before any rate: kept, flagged, not counted.
    assert sale["currency_mismatch"] is True and sale["counted_amount"] is None
    assert await perf.achieved_total() == 0

    first = await put_rates(perf, {"rates": {"USD": "0.9200"}})
    assert first.status_code == 200, first.text
    assert first.json() | {"updated_at": None} == {
        "period_id": str(perf.seeded.period_id),
        "into": "EUR",
        "rates": {"USD": "0.9200"},
        "updated_at": None,
        "updated_by": str(ADMIN),
        "changed": ["USD"],
        "revalued": 1,
    }
    [sale] = await ana_sales(perf)
    assert (sale["amount"], sale["currency"]) == ("12500.00", "USD")  # the original is kept
    assert (sale["counted_amount"], sale["counted_currency"], sale["fx_rate"]) == (
        "11500.00",
        "EUR",
        "0.9200",
    )
    assert sale["currency_mismatch"] is False and sale["version"] == 2
    assert await perf.achieved_total() == 1_150_000

    # An hour later, 12,500.00 * 0.933337 = 11,666.7125 EUR: rounded once, to 11,666.71.
    perf.runtime.clock = lambda: FROZEN + timedelta(hours=1)
    second = await put_rates(perf, {"rates": {"USD": "0.933337"}})
    assert second.status_code == 200, second.text
    assert await perf.achieved_total() == 1_166_671
    [sale] = await ana_sales(perf)
    assert [v["amount"] for v in sale["valuations"]] == ["11666.71"]

    changes = await perf.client.get(
        f"/v1/periods/{perf.seeded.period_id}/fx-rates/changes", headers=perf.as_admin()
    )
    assert changes.status_code == 200, changes.text
    assert [
        (c["currency"], c["old_rate"], c["new_rate"], c["changed_by"], c["revaluations"])
        for c in changes.json()
    ] == [
        ("USD", "0.9200", "0.933337", str(ADMIN), [_revalued(sale, "11500.00", "11666.71")]),
        ("USD", None, "0.9200", str(ADMIN), [_revalued(sale, None, "11500.00")]),
    ]
    # The usual facts: each re-valuation is a sale adjustment, and the team is evaluated.
    types = await outbox_types(perf)
    assert types.count("attain.performance.sale_adjusted.v1") == 2
    assert await perf.count(EvaluationDue) == 1

    # Removing the rate: the sale is flagged again and counts for nothing.
    removed = await put_rates(perf, {"rates": {}})
    assert removed.json()["changed"] == ["USD"] and removed.json()["rates"] == {}
    [sale] = await ana_sales(perf)
    assert sale["currency_mismatch"] is True and sale["valuations"] == []
    assert await perf.achieved_total() == 0


def _revalued(sale: dict, old: str | None, new: str) -> dict:
    return {"sale_id": sale["id"], "old_counted": old, "new_counted": new, "currency": "EUR"}


async def test_an_unchanged_rate_revalues_nothing_and_a_sale_after_the_rate_is_valued_at_once(
    perf_db: PerfApp,
):
    perf = perf_db
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    assert (await put_rates(perf, {"rates": {"USD": "0.92"}})).status_code == 200
    again = await put_rates(perf, {"rates": {"USD": "0.9200"}})  # the same number
    assert again.json()["changed"] == [] and again.json()["revalued"] == 0
    sale = await usd_sale(perf)
    assert (sale["counted_amount"], sale["fx_rate"], sale["version"]) == ("11500.00", "0.92", 1)
    assert await perf.achieved_total() == 1_150_000
    assert await perf.count(FxRateChange) == 1


async def test_yen_and_dinar_sales_convert_exactly_to_the_minor_unit(perf_db: PerfApp):
    perf = perf_db
    s = await perf.seed()
    yen_team, kenji = uuid.uuid4(), uuid.uuid4()
    await perf.react(
        TeamCreated(
            org_id=ORG, team_id=yen_team, name="Tokyo", currency="JPY", manager_id=s.manager_id
        ),
        MemberJoined(
            org_id=ORG,
            team_id=yen_team,
            member_id=kenji,
            name="Kenji Sato",
            email="kenji@example.com",
            capacity=Decimal(1),
            ramp=Decimal(1),
            crm_ids=CrmIds(),
            version=1,
        ),
    )
    admin = perf.as_admin()
    sales = [
        (s.ana, "1000.125", "KWD"),  # 1,000.125 KWD at 2.9871 = 2,987.4733875 EUR -> 2,987.47
        (s.ana, "1234567", "JPY"),  # 1,234,567 JPY at 0.0061 = 7,530.8587 EUR -> 7,530.86
        (kenji, "12500.00", "USD"),  # 12,500.00 USD at 149.537 = 1,869,212.5 JPY -> 1,869,213
        (kenji, "0.125", "KWD"),  # 0.125 KWD at 487.4 = 60.925 JPY -> 61
    ]
    for member, amount, currency in sales:
        created = await perf.client.post(
            "/v1/sales",
            json={
                "member_id": str(member),
                "amount": amount,
                "currency": currency,
                "closed_at": "2026-11-02T10:00:00Z",
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        assert created.json()["currency_mismatch"] is True
    # Two team currencies: the rates must say which one they convert into.
    ambiguous = await put_rates(perf, {"rates": {"USD": "149.537"}})
    assert ambiguous.status_code == 422 and "into" in ambiguous.json()["detail"]
    into_eur = await put_rates(perf, {"into": "EUR", "rates": {"KWD": "2.9871", "JPY": "0.0061"}})
    assert into_eur.json()["revalued"] == 2
    into_jpy = await put_rates(perf, {"into": "JPY", "rates": {"USD": "149.537", "KWD": "487.4"}})
    assert into_jpy.json()["revalued"] == 2
    achieved = await _achieved_by_member(perf)
    assert achieved == {s.ana: 298_747 + 753_086, kenji: 1_869_213 + 61}
    tables = await perf.client.get(f"/v1/periods/{s.period_id}/fx-rates", headers=perf.as_manager())
    assert tables.status_code == 200
    assert [(t["into"], t["rates"]) for t in tables.json()["tables"]] == [
        ("EUR", {"JPY": "0.0061", "KWD": "2.9871"}),
        ("JPY", {"KWD": "487.4", "USD": "149.537"}),
    ]


async def _achieved_by_member(perf: PerfApp) -> dict[uuid.UUID, int]:
    async with perf.runtime.engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT member_id, achieved_minor FROM attainment"))
        return {uuid.UUID(str(m)): int(a) for m, a in rows if a}


@pytest.mark.parametrize(
    "body",
    [
        {"rates": {"USD": 0.92}},  # a JSON number: digits may already be lost
        {"rates": {"USD": "0"}},
        {"rates": {"USD": "-1"}},
        {"rates": {"USD": "0.12345678901"}},
        {"rates": {"USD": "1e400"}},
        {"rates": {"usd": "0.92"}},
        {"rates": {"ABC": "0.92"}},
        {"rates": {"EUR": "1"}},
        {"rates": {"USD": "NaN"}},
        {"rates": {"USD": "0.92"}, "into": "euro"},
        {"rates": ["USD", "0.92"]},
        {},
    ],
)
async def test_bad_rates_get_a_problem_and_change_nothing(perf_db: PerfApp, body):
    perf = perf_db
    await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    await usd_sale(perf)
    response = await put_rates(perf, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await perf.count(FxRate) == await perf.count(FxRateChange) == 0
    assert await perf.count(SaleValuation) == 0 and await perf.achieved_total() == 0


async def test_only_admins_set_rates_and_an_unknown_period_is_not_found(perf_db: PerfApp):
    perf = perf_db
    s = await perf.seed()
    good = {"rates": {"USD": "0.92"}}
    for headers in (perf.as_manager(), perf.as_rep(s.ana)):
        refused = await put_rates(perf, good, headers=headers)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    changes = await perf.client.get(
        f"/v1/periods/{s.period_id}/fx-rates/changes", headers=perf.as_manager()
    )
    assert changes.status_code == 403
    assert (await put_rates(perf, good, period=uuid.uuid4())).status_code == 404
    other_org = as_admin(uuid.uuid4())
    assert (await put_rates(perf, good, headers=other_org)).status_code == 404
    assert await perf.count(FxRate) == 0


async def test_a_period_whose_bounds_change_values_the_sales_it_now_holds(perf_db: PerfApp):
    perf = perf_db
    s = await perf.seed()
    await perf.set_secret("generic", GENERIC_SECRET)
    await put_rates(perf, {"rates": {"USD": "0.92"}})
    await usd_sale(perf)  # closed 2026-12-07
    assert await perf.achieved_total() == 1_150_000
    moved = PeriodDefined(
        org_id=ORG,
        period_id=s.period_id,
        name="2026-Q4",
        starts_on=date(2026, 10, 1),
        ends_on=date(2026, 11, 30),
        timezone="UTC",
        starts_at=Q4_START,
        ends_at=Q4_END.replace(month=12, year=2026),
    )
    await perf.react(moved)
    assert await perf.achieved_total() == 0 and await perf.count(SaleValuation) == 0
    await perf.react(moved.model_copy(update={"ends_on": date(2026, 12, 31), "ends_at": Q4_END}))
    assert await perf.achieved_total() == 1_150_000 and await perf.count(SaleValuation) == 1


async def test_overlapping_periods_value_a_sale_each_at_its_own_rate(perf_db: PerfApp):
    perf = perf_db
    s = await perf.seed()
    year = uuid.uuid4()
    await perf.react(
        PeriodDefined(
            org_id=ORG,
            period_id=year,
            name="2026",
            starts_on=date(2026, 1, 1),
            ends_on=date(2026, 12, 31),
            timezone="UTC",
            starts_at=Q4_START.replace(month=1),
            ends_at=Q4_END,
        )
    )
    await perf.set_secret("generic", GENERIC_SECRET)
    await usd_sale(perf)
    await put_rates(perf, {"rates": {"USD": "0.92"}})
    await put_rates(perf, {"rates": {"USD": "0.90"}}, period=year)
    [sale] = await ana_sales(perf)
    assert sale["counted_amount"] is None and sale["currency_mismatch"] is False
    assert sorted((v["period_id"], v["amount"]) for v in sale["valuations"]) == sorted(
        [(str(s.period_id), "11500.00"), (str(year), "11250.00")]
    )
    assert await _achieved_by_period(perf) == {s.period_id: 1_150_000, year: 1_125_000}
    # The quarter grows by a day: its figures are rebuilt from its sales, the year's stay.
    await perf.react(
        PeriodDefined(
            org_id=ORG,
            period_id=s.period_id,
            name="2026-Q4",
            starts_on=date(2026, 10, 1),
            ends_on=date(2026, 12, 31),
            timezone="UTC",
            starts_at=Q4_START,
            ends_at=Q4_END.replace(day=2),
        )
    )
    assert await _achieved_by_period(perf) == {s.period_id: 1_150_000, year: 1_125_000}
    assert await perf.count(SaleValuation) == 2


async def _achieved_by_period(perf: PerfApp) -> dict[uuid.UUID, int]:
    async with perf.runtime.engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT period_id, achieved_minor FROM attainment"))
        return {uuid.UUID(str(p)): int(a) for p, a in rows if a}
