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
    from portal.core.permissions import Permission, Tab

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


# ---------------------------------------------------------------- permissions


@hookspec
def register_permission_tabs() -> list[Tab] | None:
    """Called at app creation. Return extra tabs for the permission matrix.

    A plugin that declares content restrictions of its own (billing: what may be
    invoiced) puts them in a tab of its own; `None` means it adds no tab.
    """


@hookspec
def register_permissions() -> list[Permission] | None:
    """Called at app creation. Return the permission keys the plugin checks.

    Keys with a `url` in the "menus" tab are also the plugin's navigation entries:
    a user sees an entry, and may open its pages, only while their profile holds
    the key. Each key's `tab` must be a core tab or one the plugin registers.
    """


# ---------------------------------------------------------------- personal data


@hookspec
def personal_data(kind: str, record_id: int) -> dict[str, list[dict]] | None:
    """Called when someone downloads what is held about a person (GDPR access).

    `kind` is "contact" or "client" (a client that is a person) and `record_id`
    its id; the user was already checked to see it. Return sections of rows
    (plain JSON values) to add to the download, keyed by a short section name
    such as "invoices"; rows of the same section from several plugins are joined.
    """


@hookspec
def erase_personal_data(kind: str, record_id: int) -> None:
    """Called inside the erasure transaction of a person (see `personal_data`).

    Delete or anonymise the plugin's personal data about them, keeping only what
    the law requires (an issued invoice keeps its fiscal data). Raising undoes
    the whole erasure, so the person is never left half-erased.
    """
