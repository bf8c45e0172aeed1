"""Task reminders: claimed once, noted in the portal, then emailed.

The worker runs `send_due` every minute. A reminder is claimed with an UPDATE
that changes the row only if it still holds the reminder that was read, so
two workers (or two runs) never send it twice. Rescheduling a task rewrites
`remind_at` (portal.core.tasks.place), so a claim read for the old time
changes nothing and nothing goes out for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from portal.config import Settings
from portal.core import notifications, tasks
from portal.core.models import Task, User
from portal.core.notifications import Note
from portal.database import db
from portal.i18n import N_, current_zone
from portal.mail import Mailer

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

    A recurring task's reminder moves on to its next occurrence instead of
    being marked sent; a single task's is marked sent.
    """
    upcoming = tasks.next_reminder(task, now)
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


def note_for(task: Task) -> Note:
    # The occurrence reminded of, which for a series may lie after the pending one.
    starts_at = task.remind_at + timedelta(minutes=task.reminder_minutes or 0)
    values = {"title": task.title, "at": starts_at.isoformat(timespec="minutes")}
    return Note(task.assignee, DUE, values, f"/agenda/tasks/{task.id}")


def send_due(now: datetime, deliver: Callable[[list[Note]], object] | None = None) -> list[Note]:
    """Claim and note every reminder due at `now`; hand the notes to `deliver` after commit.

    Returns the notes sent. Each claim commits with its note, so a note exists
    exactly when its reminder was taken.
    """
    sent: list[Note] = []
    for task in due(now):
        with db.atomic():
            if not claim(task, now):
                continue
            note = note_for(task)
            notifications.post([note])
        sent.append(note)
    if sent and deliver is not None:
        deliver(sent)
    return sent


def email(notes: list[Note], settings: Settings, mailer: Mailer) -> int:
    """Email the reminders, in each assignee's language and zone.

    TODO: hand these to the mail outbox (portal/core/outbox.py, branch
    `outbox`) once it lands, so a failed delivery is retried; until then a
    mail server that is down loses the email (the portal note stays).
    """
    return notifications.send_emails(
        mailer, notes, base_url=settings.base_url, default=settings.language
    )


def run(settings: Settings, now: datetime) -> int:
    """One pass of the worker: what `jobs.send_reminders` does each minute."""
    mailer = Mailer(settings.smtp_url, settings.mail_from)
    # The company's zone for assignees who chose none.
    token = current_zone.set(settings.time_zone)
    try:
        notes = send_due(now, lambda sent: email(sent, settings, mailer))
    finally:
        current_zone.reset(token)
    if notes:
        logger.info("%d task reminders sent", len(notes))
    return len(notes)
