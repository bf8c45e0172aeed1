"""A client's life as a buyer: figures drawn from its sales, as pure functions.

Sales come from the `client_sales` hook: the core answers with the client's won
opportunities (`portal.core.purchases`), and a plugin adds its own (billing: its
invoices and credit notes). Everything here works on that list and on "today" in
the user's zone, so each figure can be checked by hand. The rules, the lifetime
value's among them, are written out in docs/lifecycle.md.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

# The lifetime value adds this many more years at the client's yearly rate.
HORIZON_YEARS = 3
# Past twice its usual gap without buying, a client has lapsed; never sooner
# than this, so a weekly buyer on holiday is not written off.
MIN_SILENCE_DAYS = 90
# A client that has bought on a single day has no rhythm yet: a year of grace.
FIRST_SILENCE_DAYS = 365
DAYS_PER_YEAR = Decimal("365.25")
LATEST_SHOWN = 5

_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")
_ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Sale:
    """One sale to a client, as the core or a plugin reports it.

    `amount` is what the client owes for it, tax aside as the source keeps it;
    zero or negative for a credit note, which lowers revenue but is no purchase.
    `source` is the label shown beside it ("Invoice F-2026/0012"), already in the
    user's language. `url` is a path inside the portal where it can be opened
    (empty: nowhere). `opportunity_id` names the won opportunity the sale
    settles: a plugin's sale that names one replaces that opportunity's own.
    """

    day: date
    amount: Decimal
    source: str
    url: str = ""
    opportunity_id: int | None = None

    @property
    def link(self) -> str:
        """`url` when it is a path of this site; anything else is not linked."""
        url = self.url
        if url.startswith("/") and not url.startswith(("//", "/\\")):
            return url
        return ""


@dataclass(frozen=True)
class WonOpportunity(Sale):
    """The core's own sale: an opportunity marked won, on the day it closed."""


@dataclass(frozen=True)
class Figures:
    """What the client page shows; money rounded half-up to the cent.

    `purchases` counts sales with a positive amount up to today; the dates and
    averages are `None` until there is one (and the gap until two buying days).
    `tenure` is (years, months, days) from the first purchase to today.
    """

    latest: tuple[Sale, ...]
    purchases: int
    first_purchase: date | None
    last_purchase: date | None
    revenue: Decimal
    average_purchase: Decimal | None
    average_gap_days: Decimal | None
    days_since_last: int | None
    tenure: tuple[int, int, int] | None
    this_year: Decimal
    same_period_last_year: Decimal
    last_year: Decimal
    change_percent: Decimal | None
    yearly_revenue: Decimal | None
    active: bool
    lifetime_value: Decimal | None


def merged(sales: Iterable[Sale]) -> list[Sale]:
    """Every source's sales, less won opportunities that a plugin's sale settles.

    An invoice issued for a won opportunity stands for the same purchase, so the
    opportunity stops counting once any plugin names it.
    """
    sales = list(sales)
    settled = {
        sale.opportunity_id
        for sale in sales
        if sale.opportunity_id is not None and not isinstance(sale, WonOpportunity)
    }
    return [
        sale
        for sale in sales
        if not (isinstance(sale, WonOpportunity) and sale.opportunity_id in settled)
    ]


def figures(sales: Iterable[Sale], today: date) -> Figures:
    """The client's figures as of `today`; sales dated later do not count yet."""
    counted = sorted(
        (sale for sale in sales if sale.day <= today),
        key=lambda sale: sale.day,
        reverse=True,
    )
    bought = [sale for sale in counted if sale.amount > 0]
    revenue = sum((sale.amount for sale in counted), _ZERO)
    this_year, same_period, last_year = _years(counted, today)
    change = None
    if same_period > 0:
        change = _round((this_year - same_period) * 100 / same_period, _TENTH)

    first = min((sale.day for sale in bought), default=None)
    last = max((sale.day for sale in bought), default=None)
    days = sorted({sale.day for sale in bought})
    gap = None
    if len(days) > 1:
        gap = _round(Decimal((days[-1] - days[0]).days) / (len(days) - 1), _TENTH)

    yearly = value = None
    active = False
    if first is not None and last is not None:
        active = _still_buying(days, today)
        yearly = _round(revenue / max(Decimal(1), (today - first).days / DAYS_PER_YEAR))
        value = _round(revenue)
        if active and yearly > 0:
            value = _round(revenue + yearly * HORIZON_YEARS)
    return Figures(
        latest=tuple(counted[:LATEST_SHOWN]),
        purchases=len(bought),
        first_purchase=first,
        last_purchase=last,
        revenue=_round(revenue),
        average_purchase=_round(revenue / len(bought)) if bought else None,
        average_gap_days=gap,
        days_since_last=(today - last).days if last else None,
        tenure=_tenure(first, today) if first else None,
        this_year=_round(this_year),
        same_period_last_year=_round(same_period),
        last_year=_round(last_year),
        change_percent=change,
        yearly_revenue=yearly,
        active=active,
        lifetime_value=value,
    )


def _still_buying(days: list[date], today: date) -> bool:
    """Whether the silence since the last buying day is within the client's rhythm."""
    silence = (today - days[-1]).days
    if len(days) == 1:
        return silence <= FIRST_SILENCE_DAYS
    span = (days[-1] - days[0]).days
    # silence <= 2 × span / gaps, kept in whole numbers.
    return silence <= MIN_SILENCE_DAYS or silence * (len(days) - 1) <= 2 * span


def _years(sales: list[Sale], today: date) -> tuple[Decimal, Decimal, Decimal]:
    """Revenue this year to date, last year to the same day, and all last year."""
    same_day = same_day_a_year_before(today)
    this_year = same_period = last_year = _ZERO
    for sale in sales:
        if sale.day.year == today.year:
            this_year += sale.amount
        elif sale.day.year == today.year - 1:
            last_year += sale.amount
            if sale.day <= same_day:
                same_period += sale.amount
    return this_year, same_period, last_year


def same_day_a_year_before(day: date) -> date:
    """The same date a year earlier; 29 February falls back to the 28th."""
    if day.month == 2 and day.day == 29:
        return date(day.year - 1, 2, 28)
    return day.replace(year=day.year - 1)


def _tenure(start: date, end: date) -> tuple[int, int, int]:
    """Whole years, months and days from `start` to `end`, by the calendar.

    A month from the 31st ends on the last day of a shorter month, and a year
    from 29 February ends on 28 February when there is no 29th.
    """
    months = (end.year - start.year) * 12 + end.month - start.month
    month_end = calendar.monthrange(end.year, end.month)[1]
    if end.day < start.day and end.day != month_end:
        months -= 1
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    anniversary = date(year, month + 1, min(start.day, calendar.monthrange(year, month + 1)[1]))
    return months // 12, months % 12, (end - anniversary).days


def _round(value: Decimal, step: Decimal = _CENT) -> Decimal:
    return value.quantize(step, rounding=ROUND_HALF_UP)
