"""Every email the portal sends: queued with the change it reports, sent by the job queue.

Call these inside the transaction that makes the change; if it rolls back, the
mail was never queued. After the commit the row is handed to the job queue (at
once in immediate mode); a row committed but never handed over (the process
died, the queue was down) is picked up by the worker's sweep within a minute.

    queue_mail(to, subject, text, *, kind, html="", to_name="", reply_to="",
               secret=False) -> OutgoingMail
    queue_template(source, template, language, to, *, kind, to_name="",
                   reply_to="", secret=False, **context) -> OutgoingMail
    supersede(kind, to) -> int      give up queued mails a newer one replaces

`kind` says what sent it, dotted like audit actions ("users.invite",
"lead.assigned", "task.reminder"). `source` is the app, its Jinja environment or
None (the one `configure` was given, for jobs in the worker); the template has
the blocks `subject`, `text` and `html` (portal/web/emails.py). `secret` marks a
body holding a one-time link: it is erased once the mail is sent or given up,
as the link itself is stored only hashed. A recipient that is not one email
address raises `InvalidAddress` before anything is stored.

A failure that may heal (server down, 4xx) is retried after 1, 5 and 30 minutes,
2 and 12 hours, then the row is `failed`; a 5xx about the message or recipient
fails it at once. The sent log (Administration → Mail) shows every row and can
retry one now.
"""

from __future__ import annotations

import json
import logging
import smtplib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr
from functools import partial
from typing import TYPE_CHECKING, Any

import peewee as pw

from portal.core import audit
from portal.core.fields import FieldError, normalise_email
from portal.core.models import MAIL_STATUSES, OutgoingMail, Setting, User
from portal.database import db, utcnow
from portal.i18n import gettext as _
from portal.mail import (
    SECURITY,
    Mailer,
    PermanentFailure,
    build_message,
    describe,
    one_line,
    sender_address,
    server_url,
)
from portal.text import clean

if TYPE_CHECKING:
    import jinja2

    from portal.config import Settings

logger = logging.getLogger(__name__)

# Waits after the 1st, 2nd… failed attempt; after the last one the row fails.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
# How long a worker holds a row it is sending; a worker that dies mid-send
# leaves it to the sweep after this.
CLAIM = timedelta(minutes=10)
SWEEP_BATCH = 200
PAGE_SIZE = 50
SETTING_KEY = "mail.server"
ERASED = "(erased: it held a one-time link)\n"


class InvalidAddress(ValueError):
    """Not one email address; nothing was queued."""


@dataclass
class _Config:
    smtp_url: str = ""
    mail_from: str = "Cartera <cartera@localhost>"
    base_url: str = "http://127.0.0.1:8000"
    language: str = "es"
    currency: str = "EUR"
    templates: jinja2.Environment | None = None


_config = _Config()


def configure(settings: Settings, templates: jinja2.Environment | None = None) -> None:
    """Where mail goes and how it reads; the app and the worker call it at start-up."""
    global _config
    _config = _Config(
        smtp_url=settings.smtp_url,
        mail_from=settings.mail_from,
        base_url=settings.base_url,
        language=settings.language,
        currency=settings.currency,
        templates=templates,
    )


def base_url() -> str:
    return _config.base_url


def default_language() -> str:
    return _config.language


# ---------------------------------------------------------------- queueing


def queue_mail(
    to: str,
    subject: str,
    text: str,
    *,
    kind: str,
    html: str = "",
    to_name: str = "",
    reply_to: str = "",
    secret: bool = False,
) -> OutgoingMail:
    """Store one mail to send once the surrounding transaction commits."""
    mail = OutgoingMail.create(
        kind=one_line(kind)[:50],
        recipient=checked_address(to),
        recipient_name=one_line(to_name)[:200],
        reply_to=checked_address(reply_to) if reply_to else "",
        subject=one_line(subject)[:500],
        text=clean(text) + "\n",
        html=html or "",
        secret=secret,
        message_id=make_msgid(domain=_domain(_config.mail_from)),
    )
    # Runs at once outside a transaction; dropped if the transaction rolls back.
    db.after_commit(partial(_hand_over, mail.id))
    return mail


def queue_template(
    source: Any,
    template: str,
    language: str,
    to: str,
    *,
    kind: str,
    to_name: str = "",
    reply_to: str = "",
    secret: bool = False,
    **context: Any,
) -> OutgoingMail:
    """Compose `template` in `language` (portal/web/emails.py) and queue it."""
    from portal.web.emails import compose

    source = source if source is not None else _templates()
    subject, text, html = compose(source, template, language, **context)
    return queue_mail(
        to,
        subject,
        text,
        kind=kind,
        html=html,
        to_name=to_name,
        reply_to=reply_to,
        secret=secret,
    )


def _templates() -> jinja2.Environment:
    if _config.templates is None:
        # A script that built no app: the core's templates, without plugins'.
        from portal.web.rendering import build_environment

        _config.templates = build_environment([], _config)
    return _config.templates


def supersede(kind: str, to: str) -> int:
    """Give up the queued mails of `kind` to `to`: a newer one replaces them.

    For one-time links: a resent invitation voids the earlier link, so a retry
    of the earlier mail would only deliver a dead link.
    """
    secret = OutgoingMail.secret == True  # noqa: E712 (a SQL comparison)
    return (
        OutgoingMail.update(
            {
                OutgoingMail.status: "failed",
                OutgoingMail.last_error: "replaced by a newer mail",
                OutgoingMail.text: pw.Case(None, [(secret, ERASED)], OutgoingMail.text),
                OutgoingMail.html: pw.Case(None, [(secret, "")], OutgoingMail.html),
            }
        )
        .where(
            OutgoingMail.kind == kind,
            OutgoingMail.recipient == to.strip().lower(),
            OutgoingMail.status == "queued",
        )
        .execute()
    )


def checked_address(value: str) -> str:
    """One plain address (no name, no second address), or `InvalidAddress`."""
    try:
        address = normalise_email(value)
    except FieldError as error:
        raise InvalidAddress(f"not an email address: {value!r}") from error
    if not address or parseaddr(address)[1] != address or "," in address:
        raise InvalidAddress(f"not an email address: {value!r}")
    return address


def _domain(sender: str) -> str | None:
    return parseaddr(sender)[1].rpartition("@")[2] or None


def _hand_over(mail_id: int) -> None:
    from portal import jobs

    try:
        jobs.send_mail(mail_id)
    except Exception:
        # The row is committed: the worker's sweep sends it.
        logger.exception("mail %s not handed to the queue; the sweep will send it", mail_id)


# ---------------------------------------------------------------- sending


def deliver(mail_id: int) -> OutgoingMail | None:
    """Claim one due row and try to send it; None when it was not ours to send.

    The claim is one conditional UPDATE, so of two workers racing for a row
    only one sees it change; while held, the row's next attempt lies in the future.
    """
    now = utcnow()
    claimed = (
        OutgoingMail.update(attempts=OutgoingMail.attempts + 1, next_attempt_at=now + CLAIM)
        .where(
            OutgoingMail.id == mail_id,
            OutgoingMail.status == "queued",
            OutgoingMail.next_attempt_at <= now,
        )
        .execute()
    )
    if not claimed:
        return None
    mail = OutgoingMail.get_by_id(mail_id)

    mailer = current_mailer()
    try:
        message = build_message(
            sender=mailer.sender,
            to=mail.recipient,
            to_name=mail.recipient_name,
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            reply_to=mail.reply_to,
            message_id=mail.message_id,
        )
        mailer.send_message(message)
    except (PermanentFailure, ValueError) as error:
        # ValueError: a header the policy refuses; sending again cannot help.
        return _finish(mail, "failed", describe(error), mailer.sender)
    except (OSError, smtplib.SMTPException) as error:
        if mail.attempts >= MAX_ATTEMPTS:
            return _finish(mail, "failed", describe(error), mailer.sender)
        logger.warning("mail %s to %s will be retried: %s", mail.id, mail.recipient, error)
        wait = BACKOFF[min(mail.attempts, len(BACKOFF)) - 1]
        return _finish(mail, "queued", describe(error), mailer.sender, retry_at=utcnow() + wait)
    return _finish(mail, "sent", "", mailer.sender)


def _finish(
    mail: OutgoingMail,
    status: str,
    error: str,
    sender: str,
    *,
    retry_at: datetime | None = None,
) -> OutgoingMail:
    mail.status, mail.last_error, mail.sender = status, error, sender[:300]
    if status == "sent":
        mail.sent_at = utcnow()
    if retry_at is not None:
        mail.next_attempt_at = retry_at
    if mail.secret and status != "queued":
        mail.text, mail.html = ERASED, ""
    mail.save()
    if status == "failed":
        logger.warning("mail %s to %s given up: %s", mail.id, mail.recipient, error)
    return mail


def sweep(limit: int = SWEEP_BATCH) -> int:
    """Send the rows that are due (never handed over, or waiting for a retry)."""
    due = (
        OutgoingMail.select(OutgoingMail.id)
        .where(OutgoingMail.status == "queued", OutgoingMail.next_attempt_at <= utcnow())
        .order_by(OutgoingMail.next_attempt_at)
        .limit(limit)
    )
    sent = 0
    for mail_id in [row.id for row in due]:
        mail = deliver(mail_id)
        sent += mail is not None and mail.status == "sent"
    return sent


def overdue(after: timedelta = timedelta(minutes=5)) -> int:
    """Queued mails due for longer than `after`: a sign that no worker is running."""
    return (
        OutgoingMail.select()
        .where(OutgoingMail.status == "queued", OutgoingMail.next_attempt_at < utcnow() - after)
        .count()
    )


def retry_now(mail: OutgoingMail, *, actor: User, ip: str = "") -> bool:
    """Send a queued or failed row now; a failed row gets one more attempt."""
    if mail.status not in ("queued", "failed"):
        return False
    attempts = mail.attempts
    if mail.status == "failed":
        attempts = max(attempts, MAX_ATTEMPTS - 1)
    with db.atomic():
        changed = (
            OutgoingMail.update(status="queued", next_attempt_at=utcnow(), attempts=attempts)
            .where(OutgoingMail.id == mail.id, OutgoingMail.status == mail.status)
            .execute()
        )
        if changed:
            audit.record(
                "mail.retried",
                actor=actor,
                target=mail,
                label=f"{mail.recipient}: {mail.subject}"[:200],
                before={"status": mail.status, "error": mail.last_error},
                ip=ip,
            )
            db.after_commit(partial(_hand_over, mail.id))
    return bool(changed)


# ---------------------------------------------------------------- server


@dataclass(frozen=True)
class ServerSettings:
    """The mail server as the administration page keeps it (Setting `mail.server`)."""

    host: str = ""
    port: int = 587
    security: str = "starttls"
    user: str = ""
    password: str = field(default="", repr=False)
    sender_name: str = "Cartera"
    sender_address: str = ""

    def url(self) -> str:
        return server_url(self.host, self.port, self.security, self.user, self.password)

    def sender(self) -> str:
        return sender_address(self.sender_name, self.sender_address)


def stored_settings() -> ServerSettings:
    row = Setting.get_or_none(Setting.key == SETTING_KEY)
    try:
        values = json.loads(row.value) if row is not None else {}
        return ServerSettings(**values) if isinstance(values, dict) else ServerSettings()
    except (TypeError, ValueError):
        return ServerSettings()


def source(stored: ServerSettings | None = None) -> str:
    """Where the server comes from: "environment", "page" or "" (mail goes to the log)."""
    if _config.smtp_url:
        return "environment"
    return "page" if (stored or stored_settings()).host else ""


def current_mailer(stored: ServerSettings | None = None) -> Mailer:
    """The server mail goes through now: CARTERA_SMTP_URL wins over the page's settings."""
    if _config.smtp_url:
        return Mailer(_config.smtp_url, _config.mail_from)
    stored = stored or stored_settings()
    if stored.host:
        return Mailer(stored.url(), stored.sender())
    return Mailer("", _config.mail_from)


def validate_settings(
    raw: dict[str, str], stored: ServerSettings
) -> tuple[ServerSettings, dict[str, str]]:
    """Settings from the page's form; an empty password keeps the stored one."""
    errors: dict[str, str] = {}
    host = clean(raw.get("host", "")).lower()
    if not host:
        errors["host"] = _("The server is required.")
    elif any(ch in host for ch in "/@:?# "):
        errors["host"] = _("Only the server's name, without port or user.")
    port = 0
    try:
        port = int(raw.get("port", "") or 0)
    except ValueError:
        pass
    if not 0 < port < 65536:
        errors["port"] = _("A port between 1 and 65535.")
    security = raw.get("security", "")
    if security not in SECURITY:
        errors["security"] = _("Choose one of the options.")
    sender = ""
    try:
        sender = normalise_email(raw.get("sender_address", ""))
    except FieldError:
        pass
    if not sender:
        errors["sender_address"] = _("Not a valid email address")
    password = raw.get("password", "") or stored.password
    if raw.get("forget_password") == "on":
        password = ""
    values = ServerSettings(
        host=host,
        port=port,
        security=security,
        user=clean(raw.get("user", "")),
        password=password,
        sender_name=one_line(raw.get("sender_name", ""))[:100],
        sender_address=sender,
    )
    return values, errors


def save_settings(values: ServerSettings, *, actor: User, ip: str = "") -> None:
    stored = stored_settings()
    shown = {k: v for k, v in asdict(values).items() if k != "password"}
    before = {k: v for k, v in asdict(stored).items() if k != "password"}
    with db.atomic():
        Setting.insert(key=SETTING_KEY, value=json.dumps(asdict(values))).on_conflict(
            conflict_target=[Setting.key], update={Setting.value: json.dumps(asdict(values))}
        ).execute()
        audit.record(
            "mail.settings.changed",
            actor=actor,
            label="SMTP",
            before=before,
            after={**shown, "password_changed": values.password != stored.password},
            ip=ip,
        )


# ---------------------------------------------------------------- the log


@dataclass
class LogPage:
    mails: list[OutgoingMail]
    counts: dict[str, int]
    next_before: int | None


def log_page(status: str = "", before: int | None = None) -> LogPage:
    """Newest first, `PAGE_SIZE` at a time; `status` is one of MAIL_STATUSES or ""."""
    query = OutgoingMail.select(
        OutgoingMail.id,
        OutgoingMail.kind,
        OutgoingMail.recipient,
        OutgoingMail.recipient_name,
        OutgoingMail.subject,
        OutgoingMail.status,
        OutgoingMail.attempts,
        OutgoingMail.next_attempt_at,
        OutgoingMail.last_error,
        OutgoingMail.created_at,
        OutgoingMail.sent_at,
    )
    if status in MAIL_STATUSES:
        query = query.where(OutgoingMail.status == status)
    if before is not None:
        query = query.where(OutgoingMail.id < before)
    mails = list(query.order_by(OutgoingMail.id.desc()).limit(PAGE_SIZE + 1))
    counted = (
        OutgoingMail.select(OutgoingMail.status, pw.fn.COUNT(OutgoingMail.id))
        .group_by(OutgoingMail.status)
        .tuples()
    )
    counts = dict.fromkeys(MAIL_STATUSES, 0) | dict(counted)
    more = len(mails) > PAGE_SIZE
    mails = mails[:PAGE_SIZE]
    return LogPage(mails, counts, mails[-1].id if more else None)
