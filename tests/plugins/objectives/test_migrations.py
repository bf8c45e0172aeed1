"""The plugin's migrations build exactly the tables of its models."""

from __future__ import annotations

from plugins.objectives import plugin
from plugins.objectives.models import MODELS
from portal.database import db
from portal.migrations import migrate
from tests.core.test_migrations import _fresh, _schema


def test_migrations_build_the_plugins_tables(database_url: str) -> None:
    database = _fresh(database_url)
    steps = plugin.register_migrations()
    assert all(name.startswith("objectives.") for name, _apply in steps)
    applied = migrate(database, steps)
    assert [name for name in applied if name.startswith("objectives.")] == [n for n, _a in steps]
    migrated = _schema(database)

    database.drop_tables(list(MODELS))
    db.create_tables(list(MODELS))
    assert _schema(database) == migrated
    assert migrate(database, steps) == []
    db.close()


def test_the_model_table_is_named_after_the_plugin() -> None:
    assert all(model._meta.table_name.startswith("objectives_") for model in MODELS)
