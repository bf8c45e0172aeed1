"""What the agenda shows: the days of a view, their occurrences, and what is late.

A series is expanded in its own zone and each occurrence placed on the day it
falls on in the viewer's zone; an all-day task stays on its date for everyone.
Each page reads its tasks in one query, whatever their number.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import peewee as pw

from portal.core import tasks
from portal.core.models import Client, Task, User
from portal.core.tasks import Occurrence
from portal.core.visibility import Scope
from portal.i18n import local_today
from portal.i18n import to_local as shown_local

VIEWS = ("day", "week", "month")
# Rows one agenda page reads at most; a month of a large team stays well under.
AGENDA_ROWS = 3000
OVERDUE_ROWS = 50


@dataclass(frozen=True)
class Item:
    """One occurrence as the viewer sees it."""

    occurrence: Occurrence
    starts: datetime | None  # in the viewer's zone; None when all-day
    overdue: bool

    @property
    def task(self) -> Task:
        return self.occurrence.task


def anchor_day(raw: str | None) -> date:
    try:
        day = date.fromisoformat(raw or "")
    except ValueError:
        return local_today()
    return day if 1900 < day.year < 9000 else local_today()


def span(view: str, anchor: date) -> tuple[date, date, date, date]:
    """First and last day shown, and the anchors of the previous and next pages."""
    if view == "day":
        return anchor, anchor, anchor - timedelta(days=1), anchor + timedelta(days=1)
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        week = timedelta(days=7)
        return first, first + timedelta(days=6), first - week, first + week
    first = anchor.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    return first, following - timedelta(days=1), previous, following


def filtered(scope: Scope, user: User, who: str, assignee: int | None) -> pw.SelectQuery:
    query = (
        Task.select(Task, Client.id, Client.name, User.id, User.name)
        .join(Client, pw.JOIN.LEFT_OUTER, on=(Task.client == Client.id))
        .switch(Task)
        .join(User, on=(Task.assignee == User.id))
    )
    if who == "mine":
        return query.where(Task.assignee == user.id)
    query = scope.tasks(query)
    return query.where(Task.assignee == assignee) if assignee else query


def agenda_items(
    query: pw.SelectQuery, first: date, last: date, zone: str, now: datetime
) -> dict[date, list[Item]]:
    """Every occurrence from `first` to `last` in the viewer's zone, by day, in time order.

    A series is expanded in its own zone, a day either side of the range since
    the viewer's day may start hours before or after the task's.
    """
    start, end = tasks.day_bounds(first, last, zone)
    single = (Task.recurrence == "") & (
        (Task.all_day & Task.due_on.between(first, last))
        | (~Task.all_day & (Task.due_at >= start) & (Task.due_at < end))
    )
    series = (
        (Task.recurrence != "")
        & (Task.status == "open")
        & (Task.due_on <= last + timedelta(days=1))
        & (Task.recurrence_until.is_null() | (Task.recurrence_until >= first - timedelta(days=1)))
    )
    rows = query.where(Task.status != "cancelled", single | series)
    today = local_today()
    days: dict[date, list[Item]] = defaultdict(list)
    margin = timedelta(days=1)
    for task in rows.order_by(Task.due_on, Task.id).limit(AGENDA_ROWS):
        for occurrence in tasks.occurrences_between(task, first - margin, last + margin):
            item = _item(occurrence, now, today)
            day = item.starts.date() if item.starts else occurrence.day
            if first <= day <= last:
                days[day].append(item)
    for items in days.values():
        items.sort(key=lambda i: (i.starts is not None, i.starts or datetime.min, i.task.id))
    return days


def _item(occurrence: Occurrence, now: datetime, today: date) -> Item:
    open_ = occurrence.task.status == "open" and occurrence.is_first
    if occurrence.starts_at is None:
        return Item(occurrence, None, open_ and occurrence.day < today)
    starts = shown_local(occurrence.starts_at)
    return Item(occurrence, starts, open_ and occurrence.starts_at < now)


def overdue(query: pw.SelectQuery, now: datetime) -> list[Task]:
    late = (Task.all_day & (Task.due_on < local_today())) | (~Task.all_day & (Task.due_at < now))
    return list(
        query.where(Task.status == "open", late)
        .order_by(Task.due_on, Task.due_at, Task.id)
        .limit(OVERDUE_ROWS)
    )
