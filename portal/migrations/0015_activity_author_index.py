"""An index from a person and a time to the activities they logged.

Report sources count calls and visits by author and day; without it a sales
head's figures read the whole activity table.
"""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate


def apply(database: pw.Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(migrator.add_index("activity", ("author_id", "happened_at"), False))
