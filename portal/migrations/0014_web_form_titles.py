"""A web form's title in Spanish and English, shown on its page instead of its name.

Frozen copy of the definitions as they were at this migration.
"""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate


def apply(database: pw.Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(
        migrator.add_column("web_form", "title_es", pw.CharField(max_length=150, default="")),
        migrator.add_column("web_form", "title_en", pw.CharField(max_length=150, default="")),
    )
