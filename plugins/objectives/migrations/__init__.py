"""The plugin's numbered migrations, each with its own frozen table definitions."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

import peewee as pw


def migrations() -> list[tuple[str, Callable[[pw.Database], None]]]:
    """`(name, apply)` in order; names carry the plugin's name so they never clash."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name[:4].isdigit():
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.append((f"objectives.{info.name}", module.apply))
    return found
