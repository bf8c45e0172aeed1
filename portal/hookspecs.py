"""Hook specifications: the published surface plugins build on.

Every hook is called with keyword arguments; an implementation may take only
the arguments it needs. `register_*` hooks return lists that are concatenated
across plugins; `None` means the plugin adds nothing. No hook stops at the
first answer: every plugin is asked. A plugin that implements a name not
declared here, or asks for an argument the hook does not pass, stops the
start with a message naming it (`portal.plugins.check`). The guide for plugin
authors is docs/plugins.md.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from starlette.routing import BaseRoute

    from portal.config import Settings
    from portal.core.audit_log import AuditLabels
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
    """Called at start-up and whenever the core lists every model (merging clients).

    Return the plugin's peewee models (subclasses of `portal.database.BaseModel`,
    bound to `portal.database.db`); `None` when it has none. Their tables are
    made by the plugin's migrations, never by this hook; a foreign key to
    `Client` is repointed when two clients merge.
    """


@hookspec
def register_migrations() -> list[tuple[str, Any]] | None:
    """Called by `cartera migrate` (and `serve`, `worker`, `init`), after the core's run.

    Return `(name, apply)` pairs in the order they must run; `apply(database)`
    changes the schema, in a transaction of its own, once per database. Names
    start with the plugin's name so they never clash:
    `portal.migrations.numbered("myplugin.migrations", "myplugin")` reads a
    package of `NNNN_name.py` modules as the core's. `None` when it has none.
    """


@hookspec
def register_template_dirs() -> list[Path] | None:
    """Called at app creation (and by the worker, which writes mail).

    Return folders searched before the core's templates, so a file there with
    a core template's name replaces it; the original stays reachable as
    `core/<name>`, so the replacement may `{% extends "core/clients/detail.html" %}`.
    `None` when it has none.
    """


@hookspec
def register_translation_dirs() -> list[Path] | None:
    """Called at app creation and when the worker starts.

    Return folders holding `<lang>/LC_MESSAGES/messages.po` (scripts/update-catalogues
    writes them for the bundled plugins). Their messages are added to the
    core's catalogues; a msgid the core already translates keeps the core's
    translation. `None` when it has none.
    """


@hookspec
def register_cli_commands() -> list[click.Command] | None:
    """Called when the `cartera` command looks up a subcommand or lists them (`--help`).

    Return extra click commands (or groups); each becomes `cartera <name>`. A
    name the core or another plugin already uses is ignored with a warning.
    `None` when it has none.
    """


@hookspec
def register_periodic_jobs() -> list[PeriodicJob] | None:
    """Called when the worker starts, and when the app configures the queue.

    Return `portal.jobs.PeriodicJob`s; each becomes a periodic task of the
    queue named after the job, run by the worker on its cron schedule (UTC).
    Two jobs with one name stop the start. `None` means the plugin has none.
    """


@hookspec
def register_report_sources() -> list[ReportSource] | None:
    """Called at app creation. Return `portal.core.reports.ReportSource`s.

    Each source totals its measures per credited person and day, counting a
    record when the viewer's scope covers the person credited (whether or not
    the viewer sees the record's client). Measure keys are unique across
    plugins; objectives and reports offer every measure of every source.
    """


@hookspec
def populate_demo(seed: int, today: date) -> None:
    """Called by `cartera demo` once the core's demo data is in, in the same transaction.

    `seed` is the demo's seed and `today` the day its data is anchored to.
    Add the plugin's demo rows (grant its permissions to the demo profiles,
    fill its tables) from a `random.Random` of its own seeded from `seed`,
    drawing in a fixed order, so one seed and day always give the same rows.
    The plugin's tables exist by then. The return value is ignored; raising
    undoes the whole demo.
    """


# ---------------------------------------------------------------- web


@hookspec
def register_routes(settings: Settings) -> list[BaseRoute] | None:
    """Called at app creation with the portal's `settings`.

    Return Starlette routes, added after the core's as given: start their paths
    with the plugin's name (`/loyalty/...`). Each view checks its permission
    (`portal.web.requests.permission_required`) and the visibility scope itself,
    like a core view; the middleware gives them sessions, CSRF and the language.
    `None` when it has none.
    """


@hookspec
def register_static_dirs() -> list[tuple[str, Path]] | None:
    """Called at app creation.

    Return `(prefix, folder)` pairs: the folder's files are served under
    `/static/<prefix>/`. A prefix is one path segment, usually the plugin's
    name; one that names a core static file or another plugin's prefix stops
    the start. `None` when it has none.
    """


@hookspec
def register_audit_labels() -> list[AuditLabels] | None:
    """Called at app creation. Return `portal.core.audit_log.AuditLabels`.

    They name, in words the reader's language has, what the plugin writes to
    the audit log through `portal.core.audit.record`: its actions, object types
    and field names (`N_()` msgids), how to show a field's stored values
    (a function of the value and the page's request) and, per object type of
    its own, how to word an entry's stored object label (a function of the
    entry and the request). Field labels and value formatters apply to the
    entries of the plugin's own area (the first part of its actions); the
    core's labels are never replaced. An entry without a label shows its raw
    name. `None` when it labels nothing.
    """


# ---------------------------------------------------------------- navigation and pages


@hookspec
def register_menu_entries() -> list[MenuEntry] | None:
    """Called at app creation. Return `portal.core.permissions.MenuEntry`s.

    Each entry's key becomes a permission in the "menus" tab of the matrix,
    under its `parent` (a core entry such as "menu.admin", or one of the
    plugin's); a user sees the entry only while their profile holds it, and
    the entry's route should require the same key. `None` when it has none.
    """


@hookspec
def client_panels(client: Client, user: User, grants: Grants) -> list[Panel] | None:
    """Called while the page of `client` is drawn for `user` (who may see it).

    `grants` is what `user` may do. Return `portal.web.contributions.Panel`s:
    the page draws each as a titled placeholder that fetches its URL once on
    screen (a plain link without JavaScript), ordered by `order`. `None` or
    an empty list adds none. Check `grants` here so a panel the user may not
    open is not offered; the panel's route checks again and answers through
    `portal.web.contributions.render_panel` (the fragment to htmx, a page in
    the layout to the plain link). Do no queries here: the page's cost must
    not grow with the plugins. An exception is logged with the plugin's name
    and its panels are left out; the page still opens.
    """


@hookspec
def dashboard_widgets(user: User, grants: Grants) -> list[Widget] | None:
    """Called while the home page is drawn for `user`, who may do `grants`.

    Return `portal.web.contributions.Widget`s, drawn like client panels (a
    placeholder loading its URL, half or full width, its route answering
    through `render_panel`); `None` or an empty list adds none. Do no queries
    here. An exception is logged with the plugin's name and its widgets are
    left out; the home page still opens.
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
    """Called at app creation. Return extra `portal.core.permissions.Tab`s for the matrix.

    A plugin that declares content restrictions of its own (billing: what may be
    invoiced) puts them in a tab of its own; `None` means it adds no tab.
    """


@hookspec
def register_permissions() -> list[Permission] | None:
    """Called at app creation. Return the `portal.core.permissions.Permission`s it checks.

    Keys with a `url` in the "menus" tab are also the plugin's navigation entries
    (`register_menu_entries` says the same more simply): a user sees an entry,
    and may open its pages, only while their profile holds the key. Each key's
    `tab` must be a core tab or one the plugin registers; a key declared twice
    stops the start. `None` when it declares none.
    """


# ---------------------------------------------------------------- personal data


@hookspec
def personal_data(kind: str, record_id: int) -> dict[str, list[dict]] | None:
    """Called when someone downloads what is held about a person (GDPR access).

    `kind` is "contact" or "client" (a client that is a person) and `record_id`
    its id; the user was already checked to see it. Return sections of rows
    (plain JSON values) to add to the download, keyed by a short section name
    such as "invoices"; rows of the same section from several plugins are joined.
    `None` when it holds nothing about them.
    """


@hookspec
def erase_personal_data(kind: str, record_id: int) -> None:
    """Called inside the erasure transaction of a person (see `personal_data`).

    `kind` and `record_id` name the person as in `personal_data`. Delete or
    anonymise the plugin's personal data about them, keeping only what the law
    requires (an issued invoice keeps its fiscal data). The return value is
    ignored. Raising undoes the whole erasure, so the person is never left
    half-erased.
    """


# ---------------------------------------------------------------- events
#
# Sent through `portal.events.emit`: called once the change they report is
# committed, never inside its transaction and never for a change that was
# rolled back (nor one in a savepoint that rolled back). Each is called once
# per change. The return value is ignored. An exception is logged with the
# plugin's name and undoes nothing; the other plugins are still called.
# `actor_id` is the user who made the change, `None` when no user did (the
# worker, a web form, the command line). Ids only: read what you need, which
# is committed by then; something slow belongs in a job (`portal.jobs`).


@hookspec
def client_created(client_id: int, actor_id: int | None) -> None:
    """A client was created: by hand (the client form), by an import, or from a web lead.

    `client_id` is the new client. An import announces each client it created.
    """


@hookspec
def client_reassigned(client_ids: list[int], owner_id: int, actor_id: int | None) -> None:
    """Clients got a new owner (`owner_id`).

    Sent by an edit of the client, an import row that changes its owner, a mass
    reassignment (all the clients it moved in one call) and a leaver's
    deactivation (all their clients, then `user_deactivated`).
    """


@hookspec
def lead_captured(submission_id: int, client_id: int, owner_id: int) -> None:
    """A web-form submission was processed into a client with an owner.

    `client_id` is the new or matched client; `owner_id` the person its
    follow-up task went to. A new client was announced by `client_created`
    just before, and the note of the submission by `activity_logged`.
    """


@hookspec
def activity_logged(activity_id: int, client_id: int, actor_id: int | None) -> None:
    """A call, visit, email or note was logged on client `client_id`.

    Sent from the client page, on completing a task with a client (its
    outcome), and for the note a web lead leaves.
    """


@hookspec
def opportunity_stage_changed(
    opportunity_id: int, from_stage_id: int | None, to_stage_id: int, actor_id: int | None
) -> None:
    """An opportunity entered stage `to_stage_id`.

    `from_stage_id` is the stage it left, `None` when it was created. Sent on
    creation, a move on the board and an edit that changes the stage.
    """


@hookspec
def user_deactivated(user_id: int, successor_id: int | None, actor_id: int | None) -> None:
    """User `user_id` was deactivated; their clients, tasks and deals went to `successor_id`.

    The clients' move was announced by `client_reassigned` just before.
    """


@hookspec
def client_merged(survivor_id: int, merged_id: int, actor_id: int | None) -> None:
    """Called once a merge of two clients is committed.

    `merged_id` is the client that no longer exists and `survivor_id` the one
    that took its place; `actor_id` is the user who merged them (`None` when
    no user did). By then every row of the models plugins register (through
    `register_models`) that pointed to the merged client through a foreign key
    already points to the survivor; a plugin keeping client ids anywhere else
    (a column without a foreign key, an index, an outside service) moves them
    here.
    """
