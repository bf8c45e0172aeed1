"""Report data sources: figures per person and day, limited to what a viewer sees.

The core and plugins declare sources through `register_report_sources`. A
source names its measures and answers, for a viewer's scope and a span of
days, the total of each measure per credited person and day. Reports and
objectives read every figure this way, so a measure a plugin declares (the
billing plugin's invoiced amount) is usable wherever the core's are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from portal.core.visibility import Scope

MONEY = "money"
COUNT = "count"


@dataclass(frozen=True)
class Measure:
    """One figure a source totals, such as the value of won opportunities."""

    key: str  # unique across sources, dotted: "opportunities.won_value"
    label: str  # a msgid, translated where it is shown
    unit: str = COUNT  # MONEY (a Decimal in the portal's currency) or COUNT


class DailyTotal(NamedTuple):
    measure: str  # a Measure key
    user_id: int  # the person credited (owner, author, assignee…)
    day: date  # in the portal's time zone
    value: Decimal


# (scope, first day, last day included, measure keys) -> totals; days without
# anything are left out. Must admit only records the scope admits, and should
# answer in one query per source whatever the number of people.
Totals = Callable[["Scope", date, date, tuple[str, ...]], Iterable[DailyTotal]]


@dataclass(frozen=True)
class ReportSource:
    key: str  # "opportunities"
    label: str  # a msgid
    measures: tuple[Measure, ...]
    totals: Totals
