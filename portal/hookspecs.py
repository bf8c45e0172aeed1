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
    from portal.core.lifecycle import Sale
    from portal.core.models import Client, User
    from portal.core.permissions import Grants, MenuEntry, Permission, Tab
    from portal.core.reports import ReportSource
    from portal.jobs import PeriodicJob
    from portal.web.contributions import Panel, Widget

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
def register_translation_dirs() -> list[Path] | None:
    """Called at start-up. Return folders holding `<lang>/LC_MESSAGES/messages.po`.

    Their messages are added to the core's catalogues; a msgid the core already
    translates keeps the core's translation.
    """


@hookspec
def register_cli_commands() -> list[click.Command] | None:
    """Called when the `cartera` command starts. Return extra click commands."""


@hookspec
def register_periodic_jobs() -> list[PeriodicJob] | None:
    """Called when the worker starts (and when the app configures the queue).

    Return `portal.jobs.PeriodicJob`s; each runs on its cron schedule in the
    worker. `None` means the plugin has none.
    """


@hookspec
def register_report_sources() -> list[ReportSource] | None:
    """Called at app creation. Return `portal.core.reports.ReportSource`s.

    Each source totals its measures per credited person and day, admitting only
    the records the viewer's scope admits. Measure keys are unique across
    plugins; objectives and reports offer every measure of every source.
    """


# ---------------------------------------------------------------- web


@hookspec
def register_routes(settings: Settings) -> list[BaseRoute] | None:
    """Called at app creation. Return Starlette routes, under the plugin's prefix."""


@hookspec
def register_static_dirs() -> list[tuple[str, Path]] | None:
    """Called at app creation. Return `(prefix, folder)` pairs served under /static."""


# ---------------------------------------------------------------- navigation and pages


@hookspec
def register_menu_entries() -> list[MenuEntry] | None:
    """Called at app creation. Return `portal.core.permissions.MenuEntry`s.

    Each entry's key becomes a permission in the "menus" tab of the matrix; a
    user sees the entry only while their profile holds it.
    """


@hookspec
def client_panels(client: Client, user: User, grants: Grants) -> list[Panel] | None:
    """Called while the page of `client` is drawn for `user` (who may see it).

    Return `portal.web.contributions.Panel`s, lazily loaded from their URL; `None`
    or an empty list adds none. Check `grants` here so an entry the user may
    not open is not offered; the panel's route checks again.
    """


@hookspec
def dashboard_widgets(user: User, grants: Grants) -> list[Widget] | None:
    """Called while the home page is drawn for `user`.

    Return `portal.web.contributions.Widget`s, lazily loaded from their URL;
    `None` or an empty list adds none.
    """


# ---------------------------------------------------------------- client page


@hookspec
def client_sales(client_id: int, user: User) -> list[Sale] | None:
    """Called while the page of client `client_id` is built, for its lifecycle figures.

    Only called for a client that `user` may see: the core's visibility scope
    has already admitted it, so the plugin need not check that again (it still
    applies rules of its own, such as who may see invoices). Return every sale
    of that client the plugin knows of, of any date, as
    `portal.core.lifecycle.Sale`: a positive amount for what was sold, zero or
    negative for a credit note. A sale that settles a won opportunity (an
    invoice issued for it) names it in `opportunity_id` and replaces it, so
    nothing counts twice. Every plugin's answer is added up; `None` or an empty
    list adds nothing. The core answers with the client's won opportunities.
    Runs on every view of the page: use one query. An exception is logged with
    the plugin's name and its sales are left out; the page still opens and
    says its figures may be incomplete.
    """


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


# ---------------------------------------------------------------- events
#
# Called once the change they report is committed, never inside its
# transaction and never for a change that was rolled back. The return value is
# ignored. An exception is logged with the plugin's name and undoes nothing;
# the other plugins are still called. `actor_id` is the user who made the
# change, `None` when no user did (the worker, a web form, the command line).


@hookspec
def client_created(client_id: int, actor_id: int | None) -> None:
    """A client was created: by hand, by an import, or from a web lead."""


@hookspec
def client_reassigned(client_ids: list[int], owner_id: int, actor_id: int | None) -> None:
    """Clients got a new owner (`owner_id`): edited, moved in bulk, or a leaver's."""


@hookspec
def lead_captured(submission_id: int, client_id: int, owner_id: int) -> None:
    """A web-form submission was processed into a client with an owner."""


@hookspec
def activity_logged(activity_id: int, client_id: int, actor_id: int | None) -> None:
    """A call, visit, email or note was logged (also on completing a task)."""


@hookspec
def opportunity_stage_changed(
    opportunity_id: int, from_stage_id: int | None, to_stage_id: int, actor_id: int | None
) -> None:
    """An opportunity entered a stage; `from_stage_id` is `None` when it was created."""


@hookspec
def user_deactivated(user_id: int, successor_id: int | None, actor_id: int | None) -> None:
    """A user was deactivated; their clients, tasks and deals went to `successor_id`."""


@hookspec
def client_merged(survivor_id: int, merged_id: int, actor_id: int | None) -> None:
    """Called once a merge of two clients is committed.

    `merged_id` is the client that no longer exists and `survivor_id` the one
    that took its place; `actor_id` is the user who merged them (`None` when
    no user did). By then every row of the models plugins register (through
    `register_models`) that pointed to the merged client through a foreign key
    already points to the survivor; a plugin keeping client ids anywhere else
    (a column without a foreign key, an index, an outside service) moves them
    here. The return value is ignored. An exception is logged with the
    plugin's name and undoes nothing; the other plugins are still called.
    """
