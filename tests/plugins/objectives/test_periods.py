"""Period maths: boundaries of months, quarters and years, and days left."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugins.objectives.periods import KINDS, MONTH, QUARTER, YEAR, Period
from portal import i18n


@pytest.mark.parametrize(
    ("kind", "day", "start", "end"),
    [
        (MONTH, date(2024, 2, 14), date(2024, 2, 1), date(2024, 2, 29)),  # leap year
        (MONTH, date(2025, 2, 28), date(2025, 2, 1), date(2025, 2, 28)),
        (MONTH, date(2025, 12, 31), date(2025, 12, 1), date(2025, 12, 31)),
        (QUARTER, date(2025, 3, 31), date(2025, 1, 1), date(2025, 3, 31)),
        (QUARTER, date(2025, 4, 1), date(2025, 4, 1), date(2025, 6, 30)),
        (QUARTER, date(2025, 11, 15), date(2025, 10, 1), date(2025, 12, 31)),
        (YEAR, date(2024, 7, 4), date(2024, 1, 1), date(2024, 12, 31)),
    ],
)
def test_period_boundaries(kind: str, day: date, start: date, end: date) -> None:
    period = Period.containing(kind, day)
    assert (period.start, period.end) == (start, end)
    assert Period.parse(period.token) == period


def test_tokens_name_the_period() -> None:
    assert Period.containing(MONTH, date(2025, 3, 9)).token == "2025-03"
    assert Period.containing(QUARTER, date(2025, 8, 9)).token == "2025-Q3"
    assert Period.containing(YEAR, date(2025, 8, 9)).token == "2025"
    for bad in ("2025-13", "2025-Q5", "25", "2025-00", "", "2025-03; drop", "x"):
        assert Period.parse(bad) is None


@given(kind=st.sampled_from(KINDS), day=st.dates(date(1990, 1, 1), date(2100, 12, 31)))
def test_periods_tile_the_calendar(kind: str, day: date) -> None:
    period = Period.containing(kind, day)
    assert period.contains(day)
    following = Period.containing(kind, date.fromordinal(period.end.toordinal() + 1))
    assert following.previous() == period
    assert period.days == (period.end - period.start).days + 1


def test_days_left_counts_today_and_stops_at_the_end() -> None:
    march = Period.containing(MONTH, date(2025, 3, 1))
    assert march.days_left(date(2025, 2, 20)) == 31  # not started: all of it
    assert march.days_left(date(2025, 3, 1)) == 31
    assert march.days_left(date(2025, 3, 31)) == 1
    assert march.days_left(date(2025, 4, 1)) == 0


def test_today_depends_on_the_users_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 23:30 UTC on 31 March it is already April in Madrid but not in Mexico."""
    instant = datetime(2025, 3, 31, 23, 30, tzinfo=ZoneInfo("UTC"))

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return instant.astimezone(tz)  # type: ignore[arg-type]

    monkeypatch.setattr(i18n, "datetime", Frozen)
    march = Period.containing(MONTH, date(2025, 3, 1))
    token = i18n.current_zone.set("Europe/Madrid")
    try:
        assert march.days_left(i18n.local_today()) == 0
    finally:
        i18n.current_zone.reset(token)
    token = i18n.current_zone.set("America/Mexico_City")
    try:
        assert march.days_left(i18n.local_today()) == 1
    finally:
        i18n.current_zone.reset(token)
