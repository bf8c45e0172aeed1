"""One-time links (invitations, password resets) and the reset throttle.

Frozen copy of the definitions as they were at this migration.
"""

from __future__ import annotations

from datetime import UTC, datetime

import peewee as pw


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(pw.Model):
    class Meta:
        legacy_table_names = False


class User(BaseModel):
    class Meta:
        table_name = "user"


class UserToken(BaseModel):
    token_hash = pw.CharField(max_length=64, primary_key=True)
    user = pw.ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    purpose = pw.CharField(max_length=10)
    created_at = pw.DateTimeField(default=_utcnow)
    expires_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "user_token"
        indexes = ((("user", "purpose"), False),)


class ResetRequest(BaseModel):
    email = pw.CharField(max_length=254, index=True)
    ip = pw.CharField(max_length=45, index=True)
    at = pw.DateTimeField(default=_utcnow, index=True)

    class Meta:
        table_name = "reset_request"


def apply(database: pw.Database) -> None:
    with database.bind_ctx([User, UserToken, ResetRequest]):
        database.create_tables([UserToken, ResetRequest])
