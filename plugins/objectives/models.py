"""The plugin's one table: objectives, for a person or for a profile's holders."""

from __future__ import annotations

import peewee as pw

from portal.core.models import Profile, User
from portal.database import BaseModel, utcnow


class Objective(BaseModel):
    """A target for one measure over one period.

    Exactly one of `user` and `profile` is set: a person's objective counts what
    they and everyone below them in the hierarchy achieve; a profile's counts
    what its holders, together, and everyone below them achieve. `parent` is the
    objective this one was split from.
    """

    user = pw.ForeignKeyField(User, null=True, backref="objectives", on_delete="CASCADE")
    profile = pw.ForeignKeyField(Profile, null=True, backref="objectives", on_delete="CASCADE")
    period = pw.CharField(max_length=10)  # month | quarter | year
    starts_on = pw.DateField()
    metric = pw.CharField(max_length=100)  # a report measure key
    target = pw.DecimalField(max_digits=16, decimal_places=2, auto_round=True)
    parent = pw.ForeignKeyField("self", null=True, backref="shares", on_delete="SET NULL")
    created_by = pw.ForeignKeyField(User, null=True, backref="objectives_set", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "objectives_objective"
        indexes = ((("starts_on", "metric"), False),)


MODELS = (Objective,)
