"""Tasks: what a person has to do, when, and when to remind them.

A timed task is planned as a wall-clock time in a zone (the assignee's, or the
company's); the UTC instant is derived from it, so it can always be derived
again: after a clock change a recurring 09:00 meeting is still at 09:00. An
all-day task is a date and nothing else.

A recurring task is one row standing for its next pending occurrence: the
agenda and the calendar feed expand the later ones, and completing the
occurrence moves the row on to the following one (see `complete`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from portal import events
from portal.core.models import Activity, Client, Contact, Task, User
from portal.database import db, utcnow

STEP_DAYS = {"daily": 1, "weekly": 7}
# How far a series is followed before giving up (a monthly task on the 31st
# skips months; nothing else comes near this).
MAX_REPEATS = 100_000
# What a completed task's activity is, by the task's kind, unless the user says.
OUTCOME_KINDS = {"call": "call", "visit": "visit", "email": "email", "meeting": "visit"}


class Conflict(Exception):
    """The task changed (or went) since the form was loaded."""


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


def when_of(task: Task) -> When:
    """The task's due time as planned."""
    if task.all_day or task.local_start is None:
        return When.all_day(task.due_on)
    return When.at(task.local_start, task.time_zone)


def place(
    task: Task, when: When, reminder_minutes: int | None, now: datetime | None = None
) -> None:
    """Set the task's due fields and its next reminder from `when`.

    A reminder already sent for an earlier time is forgotten: moving a task
    moves its reminder, and nothing is sent for the old time. A reminder is
    worth sending only until its occurrence starts, so a task entered for a
    time already begun gets none (a series: that of the next occurrence still
    to start, sent at once if its reminder time has passed).
    """
    now = now or utcnow()
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
        if task.due_at <= now:
            task.remind_at = next_reminder(task, now)


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
    recurrence_until: date | None = None,
    notes: str = "",
    source: str = "",
    now: datetime | None = None,
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
        recurrence_until=recurrence_until,
        notes=notes,
        source=source,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    place(task, when, reminder_minutes, now)
    task.save(force_insert=True)
    return task


# ---------------------------------------------------------------- repetition


@dataclass(frozen=True)
class Occurrence:
    """One time a task is due: its planned day and, when timed, its instants."""

    task: Task
    day: date
    local_start: datetime | None
    starts_at: datetime | None  # naive UTC; None when all-day

    @property
    def is_first(self) -> bool:
        """Whether this is the occurrence the task row stands for (the pending one)."""
        return self.day == self.task.due_on


def _repeat_day(anchor: date, recurrence: str, n: int) -> date | None:
    """The day of the n-th repetition after `anchor`; None when there is none.

    A monthly series keeps its day of the month and skips months without it
    (a task on the 31st has no February), as calendars read RRULE.
    """
    if recurrence in STEP_DAYS:
        try:
            return anchor + timedelta(days=STEP_DAYS[recurrence] * n)
        except OverflowError:
            return None
    year, month = divmod(anchor.year * 12 + anchor.month - 1 + n, 12)
    try:
        return anchor.replace(year=year, month=month + 1)
    except ValueError:
        return None


def _skip_to(anchor: date, recurrence: str, day: date) -> int:
    """A repetition number at or just before `day`, so a long series is not walked."""
    if day <= anchor:
        return 0
    if recurrence in STEP_DAYS:
        return max(0, (day - anchor).days // STEP_DAYS[recurrence] - 1)
    return max(0, (day.year - anchor.year) * 12 + day.month - anchor.month - 1)


def occurrence_on(task: Task, day: date) -> Occurrence:
    if task.all_day or task.local_start is None:
        return Occurrence(task, day, None, None)
    local = datetime.combine(day, task.local_start.time())
    return Occurrence(task, day, local, to_utc(local, task.time_zone))


def repetitions(task: Task, start: int = 0) -> Iterator[Occurrence]:
    """The task's occurrences in order from repetition `start`, to the series' end."""
    if not task.recurrence:
        if start == 0:
            yield occurrence_on(task, task.due_on)
        return
    for n in range(start, start + MAX_REPEATS):
        day = _repeat_day(task.due_on, task.recurrence, n)
        if day is None:
            if task.recurrence in STEP_DAYS:
                return
            continue
        if task.recurrence_until is not None and day > task.recurrence_until:
            return
        yield occurrence_on(task, day)


def occurrences_between(task: Task, first: date, last: date) -> Iterator[Occurrence]:
    """Occurrences planned from `first` to `last` (days in the task's own zone)."""
    start = _skip_to(task.due_on, task.recurrence, first) if task.recurrence else 0
    for occurrence in repetitions(task, start):
        if occurrence.day > last:
            return
        if occurrence.day >= first:
            yield occurrence


def following(task: Task, now: datetime) -> Occurrence | None:
    """The occurrence to move on to from the pending one; None when the series ends.

    That is the next one still to come: occurrences missed meanwhile (a daily
    call nobody closed for a week) are skipped, not left to close one by one.
    An all-day occurrence on today's date (UTC) is still to come.
    """
    if not task.recurrence:
        return None
    start = max(1, _skip_to(task.due_on, task.recurrence, now.date() - timedelta(days=2)))
    for occurrence in repetitions(task, start):
        if occurrence.starts_at is None and occurrence.day >= now.date():
            return occurrence
        if occurrence.starts_at is not None and occurrence.starts_at > now:
            return occurrence
    return None


def next_reminder(task: Task, after: datetime) -> datetime | None:
    """When to remind of the first later occurrence that starts after `after`.

    What counts is the occurrence's start, not its reminder time: like a
    single task's, a reminder is worth sending until its occurrence starts,
    so the time returned may be past already (the worker then sends it at once).
    """
    if not task.recurrence or task.reminder_minutes is None or task.all_day:
        return None
    before = timedelta(minutes=task.reminder_minutes)
    # Two days back covers any zone's offset between the UTC and the local date.
    start = max(1, _skip_to(task.due_on, task.recurrence, after.date() - timedelta(days=2)))
    for occurrence in repetitions(task, start):
        if occurrence.starts_at is not None and occurrence.starts_at > after:
            return occurrence.starts_at - before
    return None


# ---------------------------------------------------------------- changes


def save(task: Task, values: dict, when: When, *, expected_version: int) -> None:
    """Store an edited task, unless someone saved it since `expected_version`.

    The reminder moves only when the time or the reminder changed: editing
    the notes of a task whose reminder went out does not send it again. The
    same instant entered from another zone keeps the zone it was planned in.
    """
    moved = not _same_time(when, when_of(task))
    moved = moved or values.get("reminder_minutes", task.reminder_minutes) != task.reminder_minutes
    for name, value in values.items():
        setattr(task, name, value)
    if moved:
        place(task, when, task.reminder_minutes)
    columns = {
        **values,
        **_due_columns(task),
        "updated_at": utcnow(),
        "version": expected_version + 1,
    }
    changed = (
        Task.update(**columns).where(Task.id == task.id, Task.version == expected_version).execute()
    )
    if not changed:
        raise Conflict()
    task.version = expected_version + 1


def _same_time(one: When, other: When) -> bool:
    if one.is_all_day or other.is_all_day:
        return one.is_all_day == other.is_all_day and one.day == other.day
    return one.instant() == other.instant()


def _due_columns(task: Task) -> dict:
    names = ("all_day", "due_on", "local_start", "time_zone", "due_at", "remind_at", "reminded_at")
    return {name: getattr(task, name) for name in names}


def complete(
    task: Task,
    actor: User,
    *,
    outcome_kind: str,
    notes: str,
    expected_version: int,
    now: datetime | None = None,
) -> Activity | None:
    """Mark the pending occurrence done and log its outcome on the client, in one step.

    The activity and the task's change commit together or not at all. A
    recurring task moves on to its next occurrence still to come, at the same
    local time, and closes only when the series has no more.
    """
    now = now or utcnow()
    with db.atomic():
        activity = None
        if task.client_id is not None:
            activity = Activity.create(
                client=task.client_id, author=actor.id, kind=outcome_kind,
                subject=task.title[:200], notes=notes, happened_at=now,
            )  # fmt: skip
            events.emit(
                "activity_logged",
                activity_id=activity.id,
                client_id=task.client_id,
                actor_id=actor.id,
            )
        columns: dict = {"updated_at": now, "version": expected_version + 1}
        if activity is not None:
            columns["outcome"] = activity.id
        elif notes:
            # No client to log it on: the outcome stays with the task.
            columns["notes"] = (task.notes + "\n\n" + notes).strip()
        upcoming = following(task, now)
        if upcoming is None:
            columns.update(status="done", completed_at=now)
        else:
            sent_until = task.remind_at if task.reminded_at is None else None
            place(task, when_of_occurrence(upcoming), task.reminder_minutes, now)
            # The worker may already have moved the reminder past this occurrence.
            if sent_until is not None and task.remind_at is not None:
                task.remind_at = max(task.remind_at, sent_until)
            columns.update(_due_columns(task))
        changed = (
            Task.update(**columns)
            .where(Task.id == task.id, Task.version == expected_version, Task.status == "open")
            .execute()
        )
        if not changed:
            raise Conflict()
    return activity


def when_of_occurrence(occurrence: Occurrence) -> When:
    if occurrence.local_start is None:
        return When.all_day(occurrence.day)
    return When.at(occurrence.local_start, occurrence.task.time_zone)


def reassign(leaver: User, successor: User) -> int:
    """Give the leaver's open tasks to the successor; call inside the caller's transaction.

    The version bump makes a form opened on one of them meanwhile reload.
    """
    return (
        Task.update(assignee=successor.id, version=Task.version + 1, updated_at=utcnow())
        .where(Task.assignee == leaver.id, Task.status == "open")
        .execute()
    )


def day_bounds(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    """The UTC instants where `first` begins and the day after `last` begins in `zone`."""
    start = to_utc(datetime.combine(first, time()), zone)
    end = to_utc(datetime.combine(last + timedelta(days=1), time()), zone)
    return start, end
