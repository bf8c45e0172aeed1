"""Import and export, complete: contacts keep the ID another CRM gave them, and an
import job notes when it last moved, so a stalled one can be resumed.
"""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate


def apply(database: pw.Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(
        migrator.add_column("contact", "external_id", pw.CharField(max_length=100, default="")),
        migrator.add_index("contact", ("external_id",), False),
        migrator.add_column("import_job", "updated_at", pw.DateTimeField(null=True)),
    )
