"""The outbox: every outgoing email as a row, retried until sent or given up.

Frozen copy of the definitions as they were at this migration.
"""

from __future__ import annotations

from datetime import UTC, datetime

import peewee as pw


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(pw.Model):
    class Meta:
        legacy_table_names = False


class OutgoingMail(BaseModel):
    kind = pw.CharField(max_length=50)
    recipient = pw.CharField(max_length=254)
    recipient_name = pw.CharField(max_length=200, default="")
    sender = pw.CharField(max_length=300, default="")
    reply_to = pw.CharField(max_length=254, default="")
    subject = pw.CharField(max_length=500)
    text = pw.TextField()
    html = pw.TextField(default="")
    # The body holds a secret (a one-time link): erased once sent or given up.
    secret = pw.BooleanField(default=False)
    message_id = pw.CharField(max_length=255, unique=True)
    status = pw.CharField(max_length=10, default="queued")
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(default=utcnow)
    last_error = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "outgoing_mail"
        indexes = (
            (("status", "next_attempt_at"), False),
            (("status", "created_at"), False),
            (("created_at",), False),
        )


def apply(database: pw.Database) -> None:
    with database.bind_ctx([OutgoingMail]):
        database.create_tables([OutgoingMail])
