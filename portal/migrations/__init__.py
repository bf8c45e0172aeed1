"""Numbered schema migrations for the core and every plugin.

Each core migration is a module `NNNN_name.py` with `apply(database)`; it holds
its own frozen definitions and never imports the live models. A plugin keeps
its own the same way, in a `migrations` package of its own, and answers
`register_migrations` with `numbered("myplugin.migrations", "myplugin")`.
`migrate` runs the core's first, then each plugin's, in order.
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


def numbered(package: str, prefix: str) -> list[Migration]:
    """The `NNNN_name` modules of `package` in order, named `<prefix>.NNNN_name`.

    Each module defines `apply(database)`. Other modules of the package (helpers,
    frozen models shared by several steps) are left alone.
    """
    path = importlib.import_module(package).__path__
    found = []
    for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        if info.name[:4].isdigit():
            module = importlib.import_module(f"{package}.{info.name}")
            found.append((f"{prefix}.{info.name}", module.apply))
    return found


def core_migrations() -> list[Migration]:
    return numbered(__name__, "core")


def migrate(database: pw.Database, extra: Iterable[Migration] = ()) -> list[str]:
    """Apply what has not run yet, each in its own transaction; return their names."""
    database.create_tables([SchemaMigration], safe=True)
    done = {name for (name,) in SchemaMigration.select(SchemaMigration.name).tuples()}
    steps = [*core_migrations(), *extra]
    names = [name for name, _apply in steps]
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"migrations named twice: {', '.join(twice)}")
    applied = []
    for name, apply in steps:
        if name in done:
            continue
        with database.atomic():
            apply(database)
            SchemaMigration.create(name=name)
        logger.info("migration applied: %s", name)
        applied.append(name)
    return applied
