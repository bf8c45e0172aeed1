"""Lifecycle figures against values worked out by hand, edge cases included."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portal.core.lifecycle import (
    Sale,
    WonOpportunity,
    figures,
    merged,
    same_day_a_year_before,
)

TODAY = date(2026, 3, 2)


def sale(day: date, amount: str, source: str = "Invoice", **extra: object) -> Sale:
    return Sale(day, Decimal(amount), source, **extra)  # type: ignore[arg-type]


def test_no_sales_gives_no_purchase_figures_and_zero_revenue() -> None:
    result = figures([], TODAY)

    assert result.purchases == 0
    assert result.first_purchase is result.last_purchase is None
    assert result.average_purchase is result.average_gap_days is None
    assert result.tenure is result.lifetime_value is result.yearly_revenue is None
    assert (result.revenue, result.this_year, result.last_year) == (Decimal("0.00"),) * 3
    assert result.change_percent is None
    assert not result.active and result.latest == ()


def test_a_single_purchase_has_no_gap_and_a_year_of_grace() -> None:
    result = figures([sale(date(2025, 6, 10), "1200")], TODAY)

    assert result.purchases == 1
    assert result.first_purchase == result.last_purchase == date(2025, 6, 10)
    assert result.average_purchase == Decimal("1200.00")
    assert result.average_gap_days is None
    # 20 days left of June, then July to February and 2 days of March.
    assert result.days_since_last == 265
    assert result.tenure == (0, 8, 20)
    assert result.last_year == Decimal("1200.00")
    assert result.this_year == result.same_period_last_year == Decimal("0.00")
    assert result.change_percent is None
    # Less than a year as a customer counts as one year: 1,200 a year.
    assert result.yearly_revenue == Decimal("1200.00")
    assert result.active
    assert result.lifetime_value == Decimal("4800.00")


def test_a_history_with_same_day_purchases_a_credit_note_and_a_zero_sale() -> None:
    sales = [
        sale(date(2024, 3, 1), "400"),
        sale(date(2024, 3, 1), "100"),
        sale(date(2025, 1, 15), "900"),
        sale(date(2025, 2, 10), "-150", "Credit note"),
        sale(date(2025, 3, 1), "0"),
        sale(date(2026, 1, 20), "650"),
        sale(date(2026, 5, 1), "999"),  # not yet
    ]

    result = figures(sales, TODAY)

    # Four sales with a positive amount; the two of 1 March 2024 are two purchases.
    assert result.purchases == 4
    assert (result.first_purchase, result.last_purchase) == (date(2024, 3, 1), date(2026, 1, 20))
    # 400 + 100 + 900 - 150 + 0 + 650; the sale of May is in the future.
    assert result.revenue == Decimal("1900.00")
    assert result.average_purchase == Decimal("475.00")
    # Three buying days: 365 days to 1 March 2025, 325 more to 20 January 2026.
    assert result.average_gap_days == Decimal("345.0")
    assert result.days_since_last == 41
    assert result.tenure == (2, 0, 1)
    assert result.this_year == Decimal("650.00")
    assert result.last_year == result.same_period_last_year == Decimal("750.00")
    # (650 - 750) / 750 = -13.33 %
    assert result.change_percent == Decimal("-13.3")
    # 1,900 over 731 days: 1,900 × 365.25 / 731 = 949.3502…
    assert result.yearly_revenue == Decimal("949.35")
    assert result.active
    assert result.lifetime_value == Decimal("4748.05")
    assert [s.day for s in result.latest] == [
        date(2026, 1, 20),
        date(2025, 3, 1),
        date(2025, 2, 10),
        date(2025, 1, 15),
        date(2024, 3, 1),
    ]


def test_purchases_all_on_one_day_have_no_average_gap() -> None:
    result = figures([sale(date(2026, 2, 1), "10.00"), sale(date(2026, 2, 1), "30.00")], TODAY)

    assert result.purchases == 2
    assert result.average_purchase == Decimal("20.00")
    assert result.average_gap_days is None
    assert result.tenure == (0, 1, 1)


def test_money_rounds_half_up_at_the_cent() -> None:
    result = figures([sale(date(2026, 2, 1), "0.01"), sale(date(2026, 2, 2), "0.04")], TODAY)

    # 0.025 would become 0.02 by banker's rounding.
    assert result.average_purchase == Decimal("0.03")
    assert result.average_gap_days == Decimal("1.0")


def test_a_lapsed_client_is_worth_what_it_bought_and_empty_years_are_zero() -> None:
    sales = [sale(date(2023, 1, 10), "300"), sale(date(2023, 4, 10), "300.50")]

    result = figures(sales, TODAY)

    assert result.average_gap_days == Decimal("90.0")
    assert not result.active
    assert result.lifetime_value == Decimal("600.50")
    assert result.this_year == result.last_year == result.same_period_last_year == Decimal("0")
    assert result.change_percent is None


def test_only_credit_notes_are_no_purchase() -> None:
    result = figures([sale(date(2026, 1, 5), "-50", "Credit note")], TODAY)

    assert result.purchases == 0
    assert result.revenue == result.this_year == Decimal("-50.00")
    assert result.lifetime_value is None
    assert len(result.latest) == 1


def test_credit_notes_above_purchases_add_nothing_for_the_years_ahead() -> None:
    sales = [sale(date(2026, 1, 5), "100"), sale(date(2026, 2, 5), "-300", "Credit note")]

    result = figures(sales, TODAY)

    assert result.purchases == 1 and result.active
    assert result.average_purchase == Decimal("-200.00")
    assert result.lifetime_value == Decimal("-200.00")


@pytest.mark.parametrize(
    ("silence", "active"),
    [(200, True), (201, False)],
)
def test_a_client_is_active_until_twice_its_usual_gap(silence: int, active: bool) -> None:
    last = date(2025, 1, 1)
    sales = [sale(date(2024, 9, 23), "10"), sale(last, "10")]  # 100 days apart
    today = date.fromordinal(last.toordinal() + silence)

    assert figures(sales, today).active is active


@pytest.mark.parametrize(("silence", "active"), [(90, True), (91, False)])
def test_a_frequent_buyer_has_at_least_ninety_days(silence: int, active: bool) -> None:
    last = date(2025, 1, 11)
    sales = [sale(date(2025, 1, 1), "10"), sale(last, "10")]  # 10 days apart
    today = date.fromordinal(last.toordinal() + silence)

    assert figures(sales, today).active is active


@pytest.mark.parametrize(("silence", "active"), [(365, True), (366, False)])
def test_after_a_single_buying_day_a_client_has_a_year(silence: int, active: bool) -> None:
    day = date(2025, 1, 1)
    today = date.fromordinal(day.toordinal() + silence)

    assert figures([sale(day, "10")], today).active is active


def test_leap_days_in_the_same_period_and_in_tenure() -> None:
    assert same_day_a_year_before(date(2028, 2, 29)) == date(2027, 2, 28)
    assert same_day_a_year_before(date(2026, 3, 2)) == date(2025, 3, 2)

    on_leap_day = figures(
        [sale(date(2027, 2, 28), "100"), sale(date(2027, 3, 1), "50")], date(2028, 2, 29)
    )
    assert on_leap_day.same_period_last_year == Decimal("100.00")
    assert on_leap_day.last_year == Decimal("150.00")

    bought_on_leap_day = [sale(date(2024, 2, 29), "100")]
    assert figures(bought_on_leap_day, date(2025, 2, 28)).tenure == (1, 0, 0)
    assert figures(bought_on_leap_day, date(2025, 2, 27)).tenure == (0, 11, 29)
    # From 31 January a month ends on the last day of February.
    assert figures([sale(date(2024, 1, 31), "1")], date(2024, 2, 29)).tenure == (0, 1, 0)
    assert figures([sale(date(2023, 1, 31), "1")], date(2023, 2, 27)).tenure == (0, 0, 27)


def test_a_plugin_sale_settling_an_opportunity_replaces_it() -> None:
    won = WonOpportunity(date(2026, 1, 5), Decimal("100"), "Won", opportunity_id=7)
    other = WonOpportunity(date(2026, 1, 6), Decimal("200"), "Won", opportunity_id=8)
    invoice = sale(date(2026, 1, 20), "121", url="/invoices/3", opportunity_id=7)
    loose = sale(date(2026, 1, 21), "50")

    assert merged([won, other, invoice, loose]) == [other, invoice, loose]
    assert merged([won, other]) == [won, other]


def test_only_links_inside_the_portal_are_linked() -> None:
    assert sale(TODAY, "1", url="/invoices/3").link == "/invoices/3"
    for url in ("", "javascript:alert(1)", "//elsewhere.example/x", "https://x.example/", "/\\x"):
        assert sale(TODAY, "1", url=url).link == ""
