"""A first stamp for the tags, zones and saved views kept per process.

See portal/core/catalogue.py; frozen copy of the definitions at this migration.
"""

from __future__ import annotations

import uuid

import peewee as pw


class Setting(pw.Model):
    key = pw.CharField(max_length=100, primary_key=True)
    value = pw.TextField(default="null")

    class Meta:
        table_name = "setting"


def apply(database: pw.Database) -> None:
    with database.bind_ctx([Setting]):
        Setting.insert(key="catalogue.stamp", value=uuid.uuid4().hex).on_conflict_ignore().execute()
