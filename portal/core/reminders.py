"""Task reminders: claimed once, noted in the portal and emailed.

The worker runs `send_due` every minute. A reminder is claimed with an UPDATE
that changes the row only if it still holds the reminder that was read, so
two workers (or two runs) never send it twice. Rescheduling a task rewrites
`remind_at` (portal.core.tasks.place), so a claim read for the old time
changes nothing and nothing goes out for it. A reminder whose occurrence has
already started by the time the worker reads it (the worker was down, say) is
claimed without sending: "due at 10:00" is no use at noon. Until then it is
sent even if late, and a series' next occurrence likewise: its reminder is
pending from the moment the previous one is claimed until it starts.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from portal.config import Settings
from portal.core import notifications, tasks
from portal.core.models import Task, User
from portal.core.notifications import Note
from portal.database import db
from portal.i18n import N_, current_zone

logger = logging.getLogger(__name__)

DUE = N_("Task due: %(title)s, %(at)s")
# Reminders claimed per run; the rest wait a minute for the next.
BATCH = 500


def due(now: datetime) -> list[Task]:
    """Open tasks of active people whose reminder time has come and not gone out."""
    return list(
        Task.select(Task, User)
        .join(User, on=(Task.assignee == User.id))
        .where(
            Task.remind_at <= now,
            Task.reminded_at.is_null(),
            Task.status == "open",
            User.is_active == True,  # noqa: E712
        )
        .order_by(Task.remind_at, Task.id)
        .limit(BATCH)
    )


def claim(task: Task, now: datetime) -> bool:
    """Take the reminder read in `task` for sending; False when it is gone or moved.

    A recurring task's reminder moves on to the first occurrence starting
    after the one reminded of (and after `now`, when that one has begun)
    instead of being marked sent; a single task's is marked sent. The next
    reminder time may be past already: the next run sends it.
    """
    upcoming = tasks.next_reminder(task, max(now, starts_at(task)))
    changes = {"reminded_at": now} if upcoming is None else {"remind_at": upcoming}
    claimed = (
        Task.update(**changes)
        .where(
            Task.id == task.id,
            Task.remind_at == task.remind_at,
            Task.reminded_at.is_null(),
            Task.status == "open",
        )
        .execute()
    )
    return bool(claimed)


def starts_at(task: Task) -> datetime:
    """The start of the occurrence reminded of; for a series it may follow the pending one."""
    return task.remind_at + timedelta(minutes=task.reminder_minutes or 0)


def note_for(task: Task) -> Note:
    values = {"title": task.title, "at": starts_at(task).isoformat(timespec="minutes")}
    return Note(task.assignee, DUE, values, f"/agenda/tasks/{task.id}")


def send_due(now: datetime) -> list[Note]:
    """Claim, note and queue the email of every reminder due at `now`; return the notes.

    Each claim commits with its note and its email in the outbox, so both
    exist exactly when the reminder was taken, and a mail server that is down
    only delays the email (the outbox retries it).
    """
    sent: list[Note] = []
    for task in due(now):
        with db.atomic():
            # A reminder whose occurrence has begun is claimed (a series moves
            # on to its next one) but no longer sent.
            if not claim(task, now) or starts_at(task) <= now:
                continue
            note = note_for(task)
            notifications.notify([note], kind="task.reminder")
        sent.append(note)
    return sent


def run(settings: Settings, now: datetime) -> int:
    """One pass of the worker: what `jobs.send_reminders` does each minute."""
    # The company's zone for assignees who chose none.
    token = current_zone.set(settings.time_zone)
    try:
        notes = send_due(now)
    finally:
        current_zone.reset(token)
    if notes:
        logger.info("%d task reminders sent", len(notes))
    return len(notes)
