"""Tasks: what a person has to do, when, and when to remind them.

A timed task is planned as a wall-clock time in a zone (the assignee's, or the
company's); the UTC instant is derived from it, so it can always be derived
again: after a clock change a recurring 09:00 meeting is still at 09:00. An
all-day task is a date and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from portal.core.models import Client, Contact, Task, User
from portal.database import utcnow


def to_utc(local: datetime, zone: str) -> datetime:
    """The naive UTC instant of a wall-clock time in `zone`.

    A time that does not exist (skipped by a spring clock change) is read with
    the offset before the change, so it lands in the hour after the gap.
    """
    aware = local.replace(tzinfo=ZoneInfo(zone))
    return aware.astimezone(UTC).replace(tzinfo=None)


def to_local(instant: datetime, zone: str) -> datetime:
    """The naive wall-clock time in `zone` of a naive UTC instant."""
    return instant.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


@dataclass(frozen=True)
class When:
    """When a task is due: a wall-clock time in a zone, or a whole day."""

    day: date
    local_start: datetime | None = None
    zone: str = ""

    @classmethod
    def at(cls, local_start: datetime, zone: str) -> When:
        return cls(local_start.date(), local_start, zone)

    @classmethod
    def all_day(cls, day: date) -> When:
        return cls(day)

    @property
    def is_all_day(self) -> bool:
        return self.local_start is None

    def instant(self) -> datetime | None:
        """The UTC start; None for an all-day task."""
        if self.local_start is None:
            return None
        return to_utc(self.local_start, self.zone)


def place(task: Task, when: When, reminder_minutes: int | None) -> None:
    """Set the task's due fields and its next reminder from `when`.

    A reminder already sent for an earlier time is forgotten: moving a task
    moves its reminder, and nothing is sent for the old time.
    """
    task.all_day = when.is_all_day
    task.due_on = when.day
    task.local_start = when.local_start
    task.time_zone = when.zone
    task.due_at = when.instant()
    task.reminder_minutes = reminder_minutes
    task.remind_at = None
    task.reminded_at = None
    if reminder_minutes is not None and task.due_at is not None:
        task.remind_at = task.due_at - timedelta(minutes=reminder_minutes)


def create(
    assignee: User,
    title: str,
    when: When,
    *,
    kind: str = "call",
    client: Client | None = None,
    contact: Contact | None = None,
    created_by: User | None = None,
    duration_minutes: int = 30,
    reminder_minutes: int | None = None,
    recurrence: str = "",
    notes: str = "",
    source: str = "",
) -> Task:
    """Store a new open task; call inside the caller's transaction."""
    task = Task(
        kind=kind,
        title=title[:200],
        client=client,
        contact=contact,
        assignee=assignee,
        created_by=created_by,
        duration_minutes=duration_minutes,
        recurrence=recurrence,
        notes=notes,
        source=source,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    place(task, when, reminder_minutes)
    task.save(force_insert=True)
    return task
