"""The loyalty_award table.

Frozen copy of the definitions as they were at this migration: the live
models may change later, this step must not.
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


class Activity(BaseModel):
    class Meta:
        table_name = "activity"


class Award(BaseModel):
    client = pw.ForeignKeyField(Client, backref="awards", on_delete="CASCADE")
    activity = pw.ForeignKeyField(
        Activity, null=True, unique=True, backref="awards", on_delete="SET NULL"
    )
    points = pw.IntegerField()
    reason = pw.CharField(max_length=200, default="")
    awarded_by = pw.ForeignKeyField(User, null=True, backref="awards", on_delete="SET NULL")
    awarded_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "loyalty_award"
        indexes = ((("client", "awarded_at"), False),)


def apply(database: pw.Database) -> None:
    with database.bind_ctx([User, Client, Activity, Award]):
        database.create_tables([Award])
