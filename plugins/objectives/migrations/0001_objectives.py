"""The objectives table. Frozen copy of the definitions as they were here."""

from __future__ import annotations

import peewee as pw


class BaseModel(pw.Model):
    class Meta:
        legacy_table_names = False


class Profile(BaseModel):
    class Meta:
        table_name = "profile"


class User(BaseModel):
    class Meta:
        table_name = "user"


class Objective(BaseModel):
    user = pw.ForeignKeyField(User, null=True, backref="objectives", on_delete="CASCADE")
    profile = pw.ForeignKeyField(Profile, null=True, backref="objectives", on_delete="CASCADE")
    period = pw.CharField(max_length=10)
    starts_on = pw.DateField()
    metric = pw.CharField(max_length=100)
    target = pw.DecimalField(max_digits=16, decimal_places=2, auto_round=True)
    parent = pw.ForeignKeyField("self", null=True, backref="shares", on_delete="SET NULL")
    created_by = pw.ForeignKeyField(User, null=True, backref="objectives_set", on_delete="SET NULL")
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()

    class Meta:
        table_name = "objectives_objective"
        indexes = ((("starts_on", "metric"), False),)


def apply(database: pw.Database) -> None:
    with database.bind_ctx([Profile, User, Objective]):
        database.create_tables([Objective])
