"""Notes for people, in the portal and by email, in each reader's language.

A note is stored as a catalogue msgid plus its values, so the portal renders it
in the language of whoever reads it. Emails are composed per recipient in their
own language (or the company's) and queued in the outbox, which sends them only
once the change they report has been committed.

    post(notes)                       the in-portal notes only
    notify(notes, *, kind)            the notes, and an email for each
    send_emails(notes, *, kind=...)   the emails only

All three belong inside the transaction that makes the change. A value under
"comment" holds someone's own words (an approver's reason): the portal quotes a
trimmed preview after the line, the email the full text below it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from portal.core import outbox
from portal.core.models import Notification, User
from portal.database import utcnow
from portal.i18n import (
    N_,
    current_language,
    current_zone,
    format_date,
    format_datetime,
    gettext,
)
from portal.text import one_line

logger = logging.getLogger(__name__)

# Values under these keys are ISO dates, shown in the reader's date format.
DATE_VALUES = ("start", "end")
# ISO naive-UTC date and times, shown in the reader's zone and format.
DATETIME_VALUES = ("at",)
# Someone's own words (an approver's reason): quoted after the line in the portal,
# on one line and trimmed so a list of notes stays a list; in full below the line
# in the email, where there is room for them.
COMMENT_VALUE = "comment"
COMMENT_PREVIEW = 120
QUOTED = N_("%(line)s “%(comment)s”")


@dataclass(frozen=True)
class Note:
    """What one person should learn: a msgid, its values and where to look."""

    user: User
    text: str
    values: dict[str, str] = field(default_factory=dict)
    url: str = ""


def post(notes: Iterable[Note]) -> None:
    """Store the notes; call inside the transaction that makes the change."""
    rows = [
        {
            "user": note.user.id,
            "text": note.text,
            "values": json.dumps(note.values, ensure_ascii=False, sort_keys=True),
            "url": note.url,
        }
        for note in notes
    ]
    if rows:
        Notification.insert_many(rows).execute()


def preview(comment: str, limit: int = COMMENT_PREVIEW) -> str:
    """The comment on one line, cut at a word boundary past `limit` characters."""
    flat = one_line(comment)
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    # Back to the last space unless that loses most of the text (one long word).
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "…"


def render(text: str, values: dict[str, str], *, quote: bool = True) -> str:
    """The note in the current language; `quote` appends the comment's preview."""
    shown = dict(values)
    comment = shown.pop(COMMENT_VALUE, "")
    for key in DATE_VALUES:
        if key in shown:
            try:
                shown[key] = format_date(date.fromisoformat(shown[key]))
            except ValueError:
                pass
    for key in DATETIME_VALUES:
        if key in shown:
            try:
                shown[key] = format_datetime(datetime.fromisoformat(shown[key]))
            except ValueError:
                pass
    line = gettext(text, **shown)
    if quote and comment:
        return gettext(QUOTED, line=line, comment=preview(comment))
    return line


def render_row(row: Notification) -> str:
    try:
        values = json.loads(row.values or "{}")
    except ValueError:
        values = {}
    try:
        return render(row.text, {str(k): str(v) for k, v in values.items()})
    except (KeyError, TypeError, ValueError):
        # A msgid whose placeholders changed since the row was written.
        return gettext(row.text)


@contextmanager
def speaking(language: str, zone: str = "") -> Iterator[None]:
    """Compose text in another language (and zone) for a while (an email's recipient)."""
    token = current_language.set(language)
    zone_token = current_zone.set(zone or current_zone.get())
    try:
        yield
    finally:
        current_zone.reset(zone_token)
        current_language.reset(token)


def notify(notes: Iterable[Note], *, kind: str) -> int:
    """Post the notes and queue an email for each; returns how many emails."""
    notes = list(notes)
    post(notes)
    return send_emails(notes, kind=kind)


def send_emails(
    notes: Iterable[Note],
    *,
    kind: str = "notification",
    base_url: str | None = None,
    default: str | None = None,
) -> int:
    """Queue an email per note to its person; returns how many were queued."""
    base_url = outbox.base_url() if base_url is None else base_url
    default = default or outbox.default_language()
    queued = 0
    for note in notes:
        if not note.user.email:
            continue
        language = note.user.language or default
        with speaking(language, note.user.time_zone):
            line = render(note.text, note.values, quote=False)
        link = base_url + note.url if note.url else ""
        try:
            # The outbox flattens the subject: a header never holds line breaks.
            outbox.queue_template(
                None,
                "email/notification.html",
                language,
                note.user.email,
                kind=kind,
                to_name=note.user.name,
                line=line,
                comment=note.values.get(COMMENT_VALUE, ""),
                link=link,
            )
        except outbox.InvalidAddress:
            logger.warning("no email for user %s: invalid address", note.user.id)
            continue
        queued += 1
    return queued


def unread_count(user: User | None) -> int:
    if user is None:
        return 0
    # The session's query counted them already (portal/core/sessions.py).
    counted = getattr(user, "unread_notifications", None)
    if counted is not None:
        return counted
    return (
        Notification.select()
        .where(Notification.user == user.id, Notification.read_at.is_null())
        .count()
    )


def recent(user: User, limit: int = 100) -> list[Notification]:
    return list(
        Notification.select()
        .where(Notification.user == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )


def mark_read(user: User) -> int:
    marked = (
        Notification.update(read_at=utcnow())
        .where(Notification.user == user.id, Notification.read_at.is_null())
        .execute()
    )
    # The page that marks them read shows the header without the badge.
    user.unread_notifications = 0
    return marked
