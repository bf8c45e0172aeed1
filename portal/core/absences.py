"""Who stands in for whom while people are away.

Whatever would be handed to a person automatically (a new web lead, say) goes
to `stand_in(person, day)` instead: the delegate they chose for an approved
absence covering that day, following the delegate's own absence in turn.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

import peewee as pw

from portal.core.models import User, VacationRequest
from portal.core.vacations import day_weights, is_working_day


def _away_delegate(user_id: int, on: date) -> User | None:
    """The delegate of the user's approved absence covering `on`, if it names one."""
    absence = (
        VacationRequest.select()
        .where(
            VacationRequest.user == user_id,
            VacationRequest.status == "approved",
            VacationRequest.start <= on,
            VacationRequest.end >= on,
            VacationRequest.delegate.is_null(False),
        )
        .order_by(VacationRequest.id.desc())
        .first()
    )
    return absence.delegate if absence is not None else None


def stand_in(user: User, on: date) -> User:
    """The person who takes `user`'s work on day `on`.

    The user themselves unless an approved absence covers that day (a half day
    counts: the person is not fully there). The chain of delegates is followed
    while each one is away too; an inactive delegate ends it (they can receive
    nothing), and so does a delegate already met, so a loop of people away
    hands the work to the last one reached before the loop closes.
    """
    chosen = user
    seen = {user.id}
    while True:
        delegate = _away_delegate(chosen.id, on)
        if delegate is None or not delegate.is_active or delegate.id in seen:
            return chosen
        seen.add(delegate.id)
        chosen = delegate


@dataclass(frozen=True)
class Away:
    """One person away on one day of the calendar."""

    name: str
    half: str  # "" for the whole day, else "morning" or "afternoon"


@dataclass(frozen=True)
class Day:
    day: date
    working: bool
    away: list[Away]


def month_days(people: pw.SelectQuery, first: date) -> list[Day]:
    """Every day of the month starting `first`, with who of `people` is away.

    `people` is a query of users (the viewer's scope); only approved absences show.
    """
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    ids = people.select(User.id)
    absences = (
        VacationRequest.select(VacationRequest, User)
        .join(User, on=(VacationRequest.user == User.id))
        .where(
            VacationRequest.status == "approved",
            VacationRequest.start <= last,
            VacationRequest.end >= first,
            VacationRequest.user.in_(ids),
        )
        .order_by(User.name, VacationRequest.start)
    )
    by_day: dict[date, list[Away]] = {}
    for absence in absences:
        for day, weight in day_weights(
            absence.start, absence.end, absence.first_half, absence.last_half
        ):
            if first <= day <= last:
                half = "" if weight == 1 else _half_of(absence, day)
                by_day.setdefault(day, []).append(Away(absence.user.name, half))
    days = []
    for number in range(1, last.day + 1):
        day = first.replace(day=number)
        days.append(Day(day, is_working_day(day), by_day.get(day, [])))
    return days


def _half_of(absence: VacationRequest, day: date) -> str:
    return absence.first_half if day == absence.start else absence.last_half
