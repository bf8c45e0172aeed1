"""Numbered schema migrations for the core and every plugin.

Each core migration is a module `NNNN_name.py` with `apply(database)`; it holds
its own frozen definitions and never imports the live models.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable, Iterable

import peewee as pw

from portal.core.models import SchemaMigration

logger = logging.getLogger(__name__)

Migration = tuple[str, Callable[[pw.Database], None]]


def core_migrations() -> list[Migration]:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name[:4].isdigit():
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.append((f"core.{info.name}", module.apply))
    return found


def migrate(database: pw.Database, extra: Iterable[Migration] = ()) -> list[str]:
    """Apply what has not run yet, each in its own transaction; return their names."""
    database.create_tables([SchemaMigration], safe=True)
    done = {name for (name,) in SchemaMigration.select(SchemaMigration.name).tuples()}
    applied = []
    for name, apply in [*core_migrations(), *extra]:
        if name in done:
            continue
        with database.atomic():
            apply(database)
            SchemaMigration.create(name=name)
        logger.info("migration applied: %s", name)
        applied.append(name)
    return applied
