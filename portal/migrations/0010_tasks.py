"""Tasks and the agenda: timed or all-day, recurring, with reminders.

Frozen copy of the definitions as they were at this migration.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import peewee as pw


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# Every profile gets the agenda, as a new profile does (BASELINE_GRANTS).
NEW_BASELINE_KEYS = ("menu.agenda",)


class BaseModel(pw.Model):
    class Meta:
        legacy_table_names = False


class Profile(BaseModel):
    grants = pw.TextField(default="{}")

    class Meta:
        table_name = "profile"


class User(BaseModel):
    class Meta:
        table_name = "user"


class Client(BaseModel):
    class Meta:
        table_name = "client"


class Contact(BaseModel):
    class Meta:
        table_name = "contact"


class Activity(BaseModel):
    class Meta:
        table_name = "activity"


class Task(BaseModel):
    kind = pw.CharField(max_length=10, default="call")
    title = pw.CharField(max_length=200)
    client = pw.ForeignKeyField(Client, null=True, backref="tasks", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, null=True, backref="tasks", on_delete="SET NULL")
    assignee = pw.ForeignKeyField(User, backref="tasks", on_delete="RESTRICT")
    created_by = pw.ForeignKeyField(User, null=True, backref="tasks_created", on_delete="SET NULL")
    all_day = pw.BooleanField(default=False)
    due_on = pw.DateField(null=True)
    local_start = pw.DateTimeField(null=True)
    time_zone = pw.CharField(max_length=64, default="")
    due_at = pw.DateTimeField(null=True)
    duration_minutes = pw.IntegerField(default=30)
    notes = pw.TextField(default="")
    status = pw.CharField(max_length=10, default="open")
    recurrence = pw.CharField(max_length=10, default="")
    recurrence_until = pw.DateField(null=True)
    reminder_minutes = pw.IntegerField(null=True)
    remind_at = pw.DateTimeField(null=True)
    reminded_at = pw.DateTimeField(null=True)
    source = pw.CharField(max_length=20, default="")
    completed_at = pw.DateTimeField(null=True)
    outcome = pw.ForeignKeyField(Activity, null=True, backref="tasks", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    version = pw.IntegerField(default=1)

    class Meta:
        table_name = "task"
        indexes = (
            (("assignee", "status", "due_at"), False),
            (("assignee", "status", "due_on"), False),
            (("client", "status"), False),
            (("remind_at",), False),
        )


class CalendarFeed(BaseModel):
    user = pw.ForeignKeyField(User, backref="calendar_feeds", on_delete="CASCADE", unique=True)
    token_hash = pw.CharField(max_length=64, unique=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "calendar_feed"


def _grant_baseline() -> None:
    for profile in Profile.select(Profile.id, Profile.grants):
        try:
            held = json.loads(profile.grants or "{}")
        except ValueError:
            held = {}
        if not isinstance(held, dict):
            held = {}
        for key in NEW_BASELINE_KEYS:
            held.setdefault(key, "")
        grants = json.dumps(dict(sorted(held.items())), separators=(",", ":"))
        Profile.update(grants=grants).where(Profile.id == profile.id).execute()


def apply(database: pw.Database) -> None:
    models = [Profile, User, Client, Contact, Activity, Task, CalendarFeed]
    with database.bind_ctx(models):
        database.create_tables([Task, CalendarFeed])
        _grant_baseline()
