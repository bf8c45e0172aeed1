"""Mass actions too large for one request, run in the background with progress.

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


class User(BaseModel):
    class Meta:
        table_name = "user"


class BulkJob(BaseModel):
    """A mass action too large for one request, run by the worker with progress."""

    user = pw.ForeignKeyField(User, backref="bulk_jobs", on_delete="CASCADE")
    action = pw.CharField(max_length=20)
    value = pw.CharField(max_length=100, default="")
    label = pw.CharField(max_length=200, default="")
    # The selection as JSON: {"ids": [...]} or {"filters": {...}}.
    selection = pw.TextField(default="{}")
    status = pw.CharField(max_length=10, default="queued")
    total = pw.IntegerField(default=0)
    processed = pw.IntegerField(default=0)
    outcome = pw.TextField(default="{}")
    error = pw.TextField(default="")
    ip = pw.CharField(max_length=45, default="")
    created_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "bulk_job"
        indexes = ((("user", "created_at"), False),)


def apply(database: pw.Database) -> None:
    with database.bind_ctx([User, BulkJob]):
        database.create_tables([BulkJob])
