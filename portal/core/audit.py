"""The audit log: one helper writes every entry, in the caller's transaction.

Actions are dotted names, area first (`users.deactivated`,
`profiles.permission.granted`, `clients.owner.changed`, `clients.deleted`).
`before` and `after` hold only the values that changed, as JSON.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import peewee as pw

from portal.core.models import AuditEntry, User


def _plain(value: Any) -> Any:
    if isinstance(value, pw.Model):
        return value.get_id()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _dump(values: dict[str, Any] | None) -> str:
    plain = {key: _plain(value) for key, value in (values or {}).items()}
    return json.dumps(plain, ensure_ascii=False, sort_keys=True, default=str)


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """The keys whose value differs, each side keeping only those."""
    changed = [
        key
        for key in sorted(before.keys() | after.keys())
        if _plain(before.get(key)) != _plain(after.get(key))
    ]
    return (
        {key: before.get(key) for key in changed},
        {key: after.get(key) for key in changed},
    )


def record(
    action: str,
    *,
    actor: User | None,
    target: pw.Model | None = None,
    label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str = "",
) -> AuditEntry:
    """Write one entry; call it inside the transaction that makes the change."""
    object_type = target._meta.table_name if target is not None else ""
    object_id = target.get_id() if target is not None else None
    if not label and target is not None:
        label = str(getattr(target, "name", "") or getattr(target, "email", "") or "")
    return AuditEntry.create(
        actor=actor,
        actor_name=actor.name if actor is not None else "",
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_label=label[:200],
        before=_dump(before),
        after=_dump(after),
        ip=ip[:45],
    )
