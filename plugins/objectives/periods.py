"""Periods an objective covers: a month, a quarter or a year, and their arithmetic.

A period is named by a short token that also travels in URLs: "2026-12" for a
month, "2026-Q4" for a quarter, "2026" for a year. Days are calendar dates;
which day "today" is depends on the zone of whoever looks (`portal.i18n`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from babel import dates

from portal.i18n import N_, current_language
from portal.i18n import gettext as _

MONTH, QUARTER, YEAR = "month", "quarter", "year"
KINDS = (MONTH, QUARTER, YEAR)
KIND_LABELS = {MONTH: N_("Month"), QUARTER: N_("Quarter"), YEAR: N_("Year")}

_TOKEN = re.compile(r"^(\d{4})(?:-(?:(\d{2})|Q([1-4])))?$")


@dataclass(frozen=True, order=True)
class Period:
    kind: str
    start: date

    @classmethod
    def containing(cls, kind: str, day: date) -> Period:
        if kind == MONTH:
            return cls(kind, day.replace(day=1))
        if kind == QUARTER:
            return cls(kind, date(day.year, (day.month - 1) // 3 * 3 + 1, 1))
        return cls(YEAR, date(day.year, 1, 1))

    @classmethod
    def parse(cls, token: str) -> Period | None:
        """The period a token names; None for anything else."""
        found = _TOKEN.match(token.strip())
        if found is None:
            return None
        year, month, quarter = found.groups()
        if not 1900 <= int(year) <= 2999:
            return None
        if month:
            if not 1 <= int(month) <= 12:
                return None
            return cls(MONTH, date(int(year), int(month), 1))
        if quarter:
            return cls(QUARTER, date(int(year), (int(quarter) - 1) * 3 + 1, 1))
        return cls(YEAR, date(int(year), 1, 1))

    @property
    def months(self) -> int:
        return {MONTH: 1, QUARTER: 3, YEAR: 12}[self.kind]

    @property
    def end(self) -> date:
        """The last day included."""
        month = self.start.month - 1 + self.months
        following = date(self.start.year + month // 12, month % 12 + 1, 1)
        return following - timedelta(days=1)

    @property
    def token(self) -> str:
        if self.kind == MONTH:
            return f"{self.start:%Y-%m}"
        if self.kind == QUARTER:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return str(self.start.year)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def days_left(self, today: date) -> int:
        """Days still to come, today included: none once it is over."""
        if today > self.end:
            return 0
        return (self.end - max(today, self.start)).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def previous(self) -> Period:
        return Period.containing(self.kind, self.start - timedelta(days=1))

    def label(self) -> str:
        """The period in words, in the language of the request."""
        if self.kind == QUARTER:
            number = (self.start.month - 1) // 3 + 1
            return _("Q%(number)s %(year)s", number=number, year=self.start.year)
        if self.kind == YEAR:
            return str(self.start.year)
        locale = "es_ES" if current_language.get() == "es" else "en_GB"
        return dates.format_date(self.start, "LLLL y", locale=locale).capitalize()
