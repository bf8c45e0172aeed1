"""Report data sources: figures per person and day, for the people a viewer sees.

The core and plugins declare sources through `register_report_sources`. A
source names its measures and answers, for a viewer's scope and a span of
days, the total of each measure per credited person and day. Reports and
objectives read every figure this way, so a measure a plugin declares (the
billing plugin's invoiced amount) is usable wherever the core's are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo

import peewee as pw
import pluggy

from portal.database import is_sqlite

if TYPE_CHECKING:
    from portal.config import Settings
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
# anything are left out. Must count a record when, and only when, the scope
# covers the person it is credited to (`scope.owner_rule()`), whatever the
# viewer sees of the record's client: the figure is that person's own work, the
# same for every viewer who sees them. Should answer in one query per source
# whatever the number of people.
Totals = Callable[["Scope", date, date, tuple[str, ...]], Iterable[DailyTotal]]


@dataclass(frozen=True)
class ReportSource:
    key: str  # "opportunities"
    label: str  # a msgid
    measures: tuple[Measure, ...]
    totals: Totals


# -- the registry ----------------------------------------------------------------


class Sources:
    """Every report source the running portal knows, and each measure's source.

    Built once at app creation (`app.state.report_sources`); a measure key
    declared twice fails there, not when a report quietly adds two figures.
    """

    def __init__(self, sources: Iterable[ReportSource]) -> None:
        self.sources: tuple[ReportSource, ...] = tuple(sources)
        self.by_measure: dict[str, tuple[ReportSource, Measure]] = {}
        seen: set[str] = set()
        for source in self.sources:
            if source.key in seen:
                raise ValueError(f"report source {source.key!r} declared twice")
            seen.add(source.key)
            for measure in source.measures:
                if measure.key in self.by_measure:
                    raise ValueError(f"measure {measure.key!r} declared twice")
                self.by_measure[measure.key] = (source, measure)

    @classmethod
    def from_plugins(cls, manager: pluggy.PluginManager) -> Sources:
        from portal.plugins import collect

        return cls(collect(manager.hook.register_report_sources))

    def __iter__(self) -> Iterator[ReportSource]:
        return iter(self.sources)

    def measures(self) -> list[Measure]:
        return [measure for _source, measure in self.by_measure.values()]

    def measure(self, key: str) -> Measure | None:
        found = self.by_measure.get(key)
        return found[1] if found else None


def daily_totals(
    sources: Iterable[ReportSource],
    scope: Scope,
    start: date,
    end: date,
    measure_keys: Iterable[str],
) -> list[DailyTotal]:
    """The totals of `measure_keys` per person and day from `start` to `end` included.

    Each source that holds one of the keys is asked once, whatever the number
    of people; a source that answers a key it was not asked for is trimmed.
    """
    wanted = set(measure_keys)
    found: list[DailyTotal] = []
    for source in sources:
        keys = tuple(m.key for m in source.measures if m.key in wanted)
        if not keys:
            continue
        found.extend(row for row in source.totals(scope, start, end, keys) if row.measure in wanted)
    return found


# -- days in the portal's zone ---------------------------------------------------
# Instants are stored in naive UTC; a figure counts on the day it happened where
# the company is. PostgreSQL converts in SQL. SQLite knows no zones, so the span
# is cut where the zone's offset changes (summer time) and each piece shifts by
# its own offset: still one grouped query, grouped by the local date.

_zone = "Europe/Madrid"


def configure(settings: Settings) -> None:
    """Take the portal's time zone; called at app creation."""
    global _zone
    _zone = settings.time_zone


def portal_zone() -> ZoneInfo:
    return ZoneInfo(_zone)


def utc_span(start: date, end: date) -> tuple[datetime, datetime]:
    """Naive-UTC instants from the start of `start` to the end of `end`, local days."""
    zone = portal_zone()

    def midnight(day: date) -> datetime:
        local = datetime.combine(day, time(), zone)
        return local.astimezone(UTC).replace(tzinfo=None)

    return midnight(start), midnight(end + timedelta(days=1))


def local_date(field: pw.Field, since: datetime, until: datetime) -> pw.Node:
    """The local date of `field`, for instants from `since` to `until` (naive UTC)."""
    if not is_sqlite():
        local = pw.NodeList((field, pw.SQL("AT TIME ZONE 'UTC' AT TIME ZONE"), pw.Value(_zone)))
        return pw.Cast(local, "date")
    pieces = offsets(_zone, since, until)
    shifted = [pw.fn.date(field, f"{minutes:+d} minutes") for _until, minutes in pieces]
    if len(pieces) == 1:
        return shifted[0]
    cases = [(field < bound, shift) for (bound, _m), shift in zip(pieces, shifted, strict=True)]
    return pw.Case(None, cases[:-1], shifted[-1])


@lru_cache(maxsize=256)
def offsets(zone_name: str, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
    """(end of piece, offset in minutes) for each stretch of one UTC offset in the span."""
    zone = ZoneInfo(zone_name)

    def minutes(instant: datetime) -> int:
        offset = instant.replace(tzinfo=UTC).astimezone(zone).utcoffset() or timedelta(0)
        return int(offset.total_seconds() // 60)

    pieces: list[tuple[datetime, int]] = []
    current, moment = minutes(since), since
    day, quarter = timedelta(days=1), timedelta(minutes=15)
    while True:
        following = min(moment + day, until)
        if minutes(following) != current:
            # The offset changed within this day: find the quarter hour it did.
            while minutes(moment) == current:
                moment += quarter
            pieces.append((moment, current))
            current = minutes(moment)
            continue
        if following >= until:
            break
        moment = following
    pieces.append((until, current))
    return pieces


def as_date(value: object) -> date:
    """A date column as read back: a date (PostgreSQL) or ISO text (SQLite)."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value))
