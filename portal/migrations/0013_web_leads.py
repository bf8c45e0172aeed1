"""Web forms, the rules that give their leads an owner, and every submission.

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


class Client(BaseModel):
    class Meta:
        table_name = "client"


class Task(BaseModel):
    class Meta:
        table_name = "task"


class WebForm(BaseModel):
    name = pw.CharField(max_length=100)
    key = pw.CharField(max_length=40, unique=True)
    language = pw.CharField(max_length=5, default="es")
    fields = pw.TextField(default="[]")
    consent_es = pw.TextField(default="")
    consent_en = pw.TextField(default="")
    thanks_es = pw.TextField(default="")
    thanks_en = pw.TextField(default="")
    redirect_url = pw.CharField(max_length=255, default="")
    due_hours = pw.IntegerField(default=4)
    fallback_owner = pw.ForeignKeyField(
        User, null=True, backref="fallback_forms", on_delete="SET NULL"
    )
    is_active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "web_form"


class AssignmentRule(BaseModel):
    position = pw.IntegerField(default=0)
    name = pw.CharField(max_length=100)
    form = pw.ForeignKeyField(WebForm, null=True, backref="rules", on_delete="CASCADE")
    zone = pw.CharField(max_length=100, default="")
    postal_prefixes = pw.TextField(default="")
    countries = pw.TextField(default="")
    segment = pw.CharField(max_length=10, default="")
    turn = pw.IntegerField(default=0)

    class Meta:
        table_name = "assignment_rule"
        indexes = ((("position", "id"), False),)


class AssignmentRuleUser(BaseModel):
    rule = pw.ForeignKeyField(AssignmentRule, backref="members", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, backref="assignment_rules", on_delete="CASCADE")

    class Meta:
        table_name = "assignment_rule_user"
        indexes = ((("rule", "user"), True),)


class LeadSubmission(BaseModel):
    form = pw.ForeignKeyField(WebForm, backref="submissions", on_delete="CASCADE")
    received_at = pw.DateTimeField(default=utcnow)
    ip = pw.CharField(max_length=45, default="")
    language = pw.CharField(max_length=5, default="")
    payload = pw.TextField(default="{}")
    status = pw.CharField(max_length=10, default="received")
    error = pw.TextField(default="")
    attempts = pw.IntegerField(default=0)
    client = pw.ForeignKeyField(Client, null=True, backref="lead_submissions", on_delete="SET NULL")
    task = pw.ForeignKeyField(Task, null=True, backref="lead_submissions", on_delete="SET NULL")
    matched = pw.BooleanField(default=False)
    processed_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "lead_submission"
        indexes = (
            (("form", "ip", "received_at"), False),
            (("status", "received_at"), False),
            (("received_at", "id"), False),
        )


NEW_TABLES = [WebForm, AssignmentRule, AssignmentRuleUser, LeadSubmission]


def apply(database: pw.Database) -> None:
    with database.bind_ctx([User, Client, Task, *NEW_TABLES]):
        database.create_tables(NEW_TABLES)
