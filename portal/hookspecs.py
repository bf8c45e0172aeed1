"""Hook specifications: the published surface plugins build on.

Every hook is called with keyword arguments. `register_*` hooks return lists that
are concatenated across plugins; `None` means the plugin adds nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from starlette.routing import BaseRoute

    from portal.config import Settings
    from portal.core.models import User

hookspec = pluggy.HookspecMarker("cartera")
hookimpl = pluggy.HookimplMarker("cartera")


# ---------------------------------------------------------------- start-up


@hookspec
def register_models() -> list[type] | None:
    """Called at start-up and by `cartera migrate`.

    Return the plugin's peewee models (bound to `portal.database.db`).
    """


@hookspec
def register_migrations() -> list[tuple[str, Any]] | None:
    """Called by `cartera migrate`.

    Return `(name, apply)` pairs in order; `apply(database)` changes the schema.
    Names must start with the plugin's name so they never clash.
    """


@hookspec
def register_template_dirs() -> list[Path] | None:
    """Called at app creation. Return folders searched before the core templates."""


@hookspec
def register_cli_commands() -> list[click.Command] | None:
    """Called when the `cartera` command starts. Return extra click commands."""


# ---------------------------------------------------------------- web


@hookspec
def register_routes(settings: Settings) -> list[BaseRoute] | None:
    """Called at app creation. Return Starlette routes, under the plugin's prefix."""


@hookspec
def register_static_dirs() -> list[tuple[str, Path]] | None:
    """Called at app creation. Return `(prefix, folder)` pairs served under /static."""


@hookspec
def menu_items(user: User) -> list[dict[str, Any]] | None:
    """Called when rendering the navigation for `user`.

    Return entries `{"label", "url", "order"}`; only entries the user may open.
    """
