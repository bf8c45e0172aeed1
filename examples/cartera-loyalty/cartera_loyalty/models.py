"""The plugin's table: every award and redemption of points, per client."""

from __future__ import annotations

import peewee as pw

from portal.core.models import Activity, Client, User
from portal.database import BaseModel, utcnow


class Award(BaseModel):
    """Points a client earned (positive) or redeemed (negative).

    An award made for an activity names it, once: hearing of the same
    activity twice never pays twice.
    """

    client = pw.ForeignKeyField(Client, backref="loyalty_awards", on_delete="CASCADE")
    activity = pw.ForeignKeyField(
        Activity, null=True, unique=True, backref="loyalty_awards", on_delete="SET NULL"
    )
    points = pw.IntegerField()
    reason = pw.CharField(max_length=200, default="")
    awarded_by = pw.ForeignKeyField(User, null=True, backref="loyalty_awards", on_delete="SET NULL")
    awarded_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "loyalty_award"
        indexes = ((("client", "awarded_at"), False),)
