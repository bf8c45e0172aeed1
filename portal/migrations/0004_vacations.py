"""Vacations: approval chains, requests and decisions, portal notifications.

Adds each user's yearly allowance, and gives every existing profile what new
profiles now start with: asking for days off and the team calendar. Frozen
copy of the definitions as they were at this migration.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

NEW_BASELINE_KEYS = ("menu.vacations", "menu.vacations.calendar")


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


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


class ApprovalStep(BaseModel):
    profile = pw.ForeignKeyField(Profile, backref="approval_steps", on_delete="CASCADE")
    position = pw.IntegerField()
    approver = pw.ForeignKeyField(User, null=True, backref="approval_steps", on_delete="CASCADE")

    class Meta:
        table_name = "approval_step"
        indexes = ((("profile", "position"), True),)


class VacationRequest(BaseModel):
    user = pw.ForeignKeyField(User, backref="vacations", on_delete="CASCADE")
    start = pw.DateField()
    end = pw.DateField()
    first_half = pw.CharField(max_length=10, default="")
    last_half = pw.CharField(max_length=10, default="")
    days = pw.DecimalField(max_digits=5, decimal_places=1, auto_round=True)
    delegate = pw.ForeignKeyField(User, null=True, backref="stand_ins", on_delete="SET NULL")
    comment = pw.TextField(default="")
    status = pw.CharField(max_length=10, default="pending")
    steps = pw.TextField(default="[]")
    step = pw.IntegerField(default=0)
    created_at = pw.DateTimeField(default=_utcnow)
    decided_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "vacation_request"
        indexes = (
            (("user", "start"), False),
            (("status", "start"), False),
        )


class VacationDecision(BaseModel):
    request = pw.ForeignKeyField(VacationRequest, backref="decisions", on_delete="CASCADE")
    step = pw.IntegerField()
    approver = pw.ForeignKeyField(User, backref="vacation_decisions", on_delete="CASCADE")
    outcome = pw.CharField(max_length=10)
    comment = pw.TextField(default="")
    at = pw.DateTimeField(default=_utcnow)

    class Meta:
        table_name = "vacation_decision"


class Notification(BaseModel):
    user = pw.ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    text = pw.CharField(max_length=200)
    values = pw.TextField(default="{}")
    url = pw.CharField(max_length=255, default="")
    created_at = pw.DateTimeField(default=_utcnow)
    read_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "notification"
        indexes = ((("user", "read_at"), False), (("user", "created_at"), False))


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
    migrator = SchemaMigrator.from_database(database)
    allowance = pw.DecimalField(max_digits=5, decimal_places=1, default=22, auto_round=True)
    migrate(migrator.add_column("user", "vacation_days", allowance))
    models = [Profile, User, ApprovalStep, VacationRequest, VacationDecision, Notification]
    with database.bind_ctx(models):
        database.create_tables(models[2:])
        _grant_baseline()
