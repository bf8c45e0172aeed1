"""Permissions held by each profile, and the audit log.

Existing profiles keep what they could open before permissions existed: the
client menus. Frozen copy of the definitions as they were at this migration.
"""

from __future__ import annotations

from datetime import UTC, datetime

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate

BASELINE_GRANTS = '{"menu.clients":"","menu.clients.export":"","menu.clients.import":""}'


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(pw.Model):
    class Meta:
        legacy_table_names = False


class Profile(BaseModel):
    class Meta:
        table_name = "profile"


class User(BaseModel):
    class Meta:
        table_name = "user"


class AuditEntry(BaseModel):
    at = pw.DateTimeField(default=_utcnow)
    actor = pw.ForeignKeyField(User, null=True, backref="audit_entries", on_delete="SET NULL")
    actor_name = pw.CharField(max_length=150, default="")
    action = pw.CharField(max_length=100)
    object_type = pw.CharField(max_length=50, default="")
    object_id = pw.BigIntegerField(null=True)
    object_label = pw.CharField(max_length=200, default="")
    before = pw.TextField(default="{}")
    after = pw.TextField(default="{}")
    ip = pw.CharField(max_length=45, default="")

    class Meta:
        table_name = "audit_entry"
        indexes = (
            (("at", "id"), False),
            (("action", "at"), False),
            (("object_type", "object_id"), False),
        )


def apply(database: pw.Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(migrator.add_column("profile", "grants", pw.TextField(default=BASELINE_GRANTS)))
    with database.bind_ctx([Profile, User, AuditEntry]):
        database.create_tables([AuditEntry])
