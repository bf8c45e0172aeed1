"""`cartera migrate` on an empty database builds exactly the schema of the models."""

from __future__ import annotations

import peewee as pw
import pytest

from portal.core.models import CORE_MODELS, SchemaMigration
from portal.database import db, open_database
from portal.migrations import core_migrations, migrate


def _schema(database: pw.Database) -> dict:
    shape = {}
    for table in sorted(database.get_tables()):
        columns = sorted(
            (c.name, c.data_type.lower(), c.null, c.primary_key)
            for c in database.get_columns(table)
        )
        indexes = sorted((tuple(i.columns), i.unique) for i in database.get_indexes(table))
        keys = sorted(
            (k.column, k.dest_table, k.dest_column) for k in database.get_foreign_keys(table)
        )
        shape[table] = (columns, indexes, keys)
    return shape


def _fresh(url: str) -> pw.Database:
    database = open_database(url)
    if isinstance(database, pw.PostgresqlDatabase):
        database.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    return database


def _cascades(database: pw.Database) -> bool:
    return isinstance(database, pw.PostgresqlDatabase)


def test_migrations_build_the_models_schema(database_url: str) -> None:
    database = _fresh(database_url)
    applied = migrate(database)
    assert applied == [name for name, _apply in core_migrations()]
    migrated = _schema(database)

    database.drop_tables([*CORE_MODELS, SchemaMigration], cascade=_cascades(database))
    db.create_tables([*CORE_MODELS, SchemaMigration])
    assert _schema(database) == migrated
    db.close()


def test_migrate_is_idempotent_and_records_what_ran(database_url: str) -> None:
    database = _fresh(database_url)
    first = migrate(database)
    assert first, "an empty database needs the first migration"
    assert migrate(database) == []
    recorded = [row.name for row in SchemaMigration.select().order_by(SchemaMigration.name)]
    assert recorded == sorted(first)
    db.close()


def test_a_failing_migration_leaves_nothing_half_done(database_url: str) -> None:
    database = _fresh(database_url)
    migrate(database)

    def broken(target: pw.Database) -> None:
        target.execute_sql("CREATE TABLE half_done (id INTEGER PRIMARY KEY)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        migrate(database, [("test.0001_broken", broken)])
    assert "half_done" not in database.get_tables()
    assert not SchemaMigration.select().where(SchemaMigration.name == "test.0001_broken").exists()
    db.close()
