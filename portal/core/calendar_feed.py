"""A personal iCalendar feed of one user's tasks, at a secret address.

The address carries a random token; only its SHA-256 is stored (as for
sessions and emailed links), so the address is shown once, when it is made,
and a copy of the database opens no feed. Making a new address ends the old.
The feed holds only the tasks assigned to its user, whatever they may see.

The text is written with the `icalendar` package: a recurring 09:00 meeting
must be sent with its zone (DTSTART;TZID=…) and that zone's rules
(VTIMEZONE), or a phone would keep it at the same UTC hour across a clock
change; the package derives those rules from the zone database.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
import peewee as pw

from portal.core.models import CalendarFeed, Client, Profile, Task, User
from portal.core.permissions import Grants
from portal.database import db

# Done tasks stay in the feed this long, so the phone does not lose the week.
DONE_KEPT = timedelta(days=30)
# The zone rules the feed carries: from a year back to a few years ahead.
RULES_YEARS = 5


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(user: User) -> str:
    """A new secret token for the user's feed; the previous address stops working."""
    token = secrets.token_urlsafe(32)
    with db.atomic():
        CalendarFeed.delete().where(CalendarFeed.user == user.id).execute()
        CalendarFeed.create(user=user.id, token_hash=_hash(token))
    return token


def revoke(user: User) -> int:
    return CalendarFeed.delete().where(CalendarFeed.user == user.id).execute()


def exists(user: User) -> bool:
    return CalendarFeed.select().where(CalendarFeed.user == user.id).exists()


def owner(token: str) -> User | None:
    """The active user whose feed `token` opens, if their profile holds the agenda."""
    if not token or len(token) > 100:
        return None
    found = (
        User.select(User, Profile)
        .join(Profile)
        .switch(User)
        .join(CalendarFeed, on=(CalendarFeed.user == User.id))
        .where(CalendarFeed.token_hash == _hash(token), User.is_active == True)  # noqa: E712
        .first()
    )
    if found is None or not Grants.of(found).has("menu.agenda"):
        return None
    return found


def feed_tasks(user: User, now: datetime) -> list[Task]:
    return list(
        Task.select(Task, Client.id, Client.name)
        .join(Client, pw.JOIN.LEFT_OUTER, on=(Task.client == Client.id))
        .where(
            Task.assignee == user.id,
            (Task.status == "open")
            | ((Task.status == "done") & (Task.completed_at >= now - DONE_KEPT)),
        )
        .order_by(Task.due_on, Task.id)
    )


def calendar(user: User, tasks: list[Task], *, base_url: str, now: datetime) -> bytes:
    """The RFC 5545 text of the feed: CRLF lines folded at 75 octets, text escaped."""
    host = urlsplit(base_url).hostname or "cartera"
    feed = icalendar.Calendar()
    feed.add("prodid", "-//Cartera//Agenda//ES")
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    feed.add("method", "PUBLISH")
    feed.add("x-wr-calname", f"Cartera · {user.name}")
    stamp = now.replace(tzinfo=UTC)
    for task in tasks:
        feed.add_component(_event(task, host, base_url, stamp))
    today = now.date()
    feed.add_missing_timezones(
        first_date=date(today.year - 1, 1, 1), last_date=date(today.year + RULES_YEARS, 1, 1)
    )
    return feed.to_ical()


def _event(task: Task, host: str, base_url: str, stamp: datetime) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", f"task-{task.id}@{host}")
    event.add("dtstamp", stamp)
    event.add("last-modified", task.updated_at.replace(tzinfo=UTC))
    event.add("sequence", task.version)
    summary = task.title
    client = getattr(task, "client", None) if task.client_id else None
    if client is not None:
        summary += f" · {client.name}"
    event.add("summary", summary)
    if task.notes:
        event.add("description", task.notes)
    event.add("url", f"{base_url}/agenda/tasks/{task.id}")
    event.add("status", "CANCELLED" if task.status == "cancelled" else "CONFIRMED")
    if task.all_day or task.local_start is None:
        event.add("dtstart", task.due_on)
        event.add("dtend", task.due_on + timedelta(days=1))
    else:
        zone = ZoneInfo(task.time_zone)
        event.add("dtstart", task.local_start.replace(tzinfo=zone))
        event.add("duration", timedelta(minutes=max(task.duration_minutes, 0)))
    if task.status == "open" and task.recurrence:
        rule: dict[str, object] = {"freq": task.recurrence}
        if task.recurrence_until is not None:
            rule["until"] = _until(task)
        event.add("rrule", rule)
    if task.status == "open" and task.reminder_minutes is not None and not task.all_day:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", task.title)
        alarm.add("trigger", timedelta(minutes=-task.reminder_minutes))
        event.add_component(alarm)
    return event


def _until(task: Task) -> date | datetime:
    """UNTIL in the form DTSTART asks for: a date, or the series' last instant in UTC."""
    last = task.recurrence_until
    if task.all_day or task.local_start is None:
        return last
    end_of_day = datetime.combine(last, datetime.max.time()).replace(microsecond=0)
    return end_of_day.replace(tzinfo=ZoneInfo(task.time_zone)).astimezone(UTC)
