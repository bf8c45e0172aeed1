"""The `cartera` command."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from portal.config import Settings

logger = logging.getLogger(__name__)


def _settings() -> Settings:
    try:
        return Settings.from_env().with_secret()
    except (ValueError, KeyError) as error:
        raise click.ClickException(f"Configuration error: {error}") from error


def _open(settings: Settings) -> None:
    from portal.database import open_database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    open_database(settings.database_url)


def _migrate(settings: Settings) -> list[str]:
    from portal import events
    from portal.database import db
    from portal.migrations import migrate
    from portal.plugins import build_manager, collect

    _open(settings)
    manager = build_manager(settings)
    # Commands that change data (imports, users) tell the plugins as the portal does.
    events.use(manager)
    return migrate(db.obj, collect(manager.hook.register_migrations))


class _Commands(click.Group):
    """The core's commands, then those the plugins add (`register_cli_commands`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_plugin_commands(ctx)})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        found = super().get_command(ctx, name) or _plugin_commands(ctx).get(name)
        broken = ctx.find_root().meta.get(_BROKEN)
        if found is None and broken:
            raise click.ClickException(broken)  # the command may be the broken plugin's
        return found

    def invoke(self, ctx: click.Context) -> object:
        from portal.plugins import PluginError

        # A broken plugin stops every command that loads the plugins: one line, exit 1.
        try:
            return super().invoke(ctx)
        except PluginError as error:
            raise click.ClickException(str(error)) from error

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        broken = ctx.find_root().meta.get(_BROKEN)
        if broken:
            # --help still answers, so the way to fix or disable the plugin is readable.
            formatter.write_paragraph()
            formatter.write_text(f"Plugin error: {broken}")
            formatter.write_text("Fix it, or list it in CARTERA_DISABLED_PLUGINS.")


_BROKEN = "cartera.plugin_error"


def _plugin_commands(ctx: click.Context) -> dict[str, click.Command]:
    # Built once per run, and only when a command name is looked up, so
    # `cartera migrate` does not import the plugins twice for nothing.
    from portal.plugins import PluginError

    meta = ctx.find_root().meta
    if "cartera.plugin_commands" not in meta:
        try:
            meta["cartera.plugin_commands"] = _load_plugin_commands()
        except PluginError as error:
            meta["cartera.plugin_commands"] = {}
            meta[_BROKEN] = str(error)
    return meta["cartera.plugin_commands"]


def _load_plugin_commands() -> dict[str, click.Command]:
    from portal.plugins import build_manager, collect

    try:
        settings = Settings.from_env()
    except (ValueError, KeyError):
        return {}  # the command itself reports the configuration error
    commands: dict[str, click.Command] = {}
    for command in collect(build_manager(settings).hook.register_cli_commands):
        if command.name in main.commands or command.name in commands:
            logger.warning("plugin command %r ignored: the name is taken", command.name)
            continue
        commands[command.name] = command
    return commands


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log more detail.")
def main(verbose: bool) -> None:
    """Cartera, the CRM portal. Settings come from CARTERA_* variables and DATABASE_URL."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    applied = _migrate(_settings())
    click.echo(f"Applied {len(applied)} migration(s)." if applied else "Schema is up to date.")


@main.command()
@click.option("--email", help="The first administrator's email.")
@click.option("--name", default="Administrator", show_default=True)
@click.option("--password", help="Prompted for when not given.")
def init(email: str | None, name: str, password: str | None) -> None:
    """Create the data folder, the database, the secret key and the first administrator."""
    from portal.core.models import Profile, User

    settings = _settings()
    _migrate(settings)
    click.echo(f"Data folder: {settings.data_dir}")
    if User.select().exists():
        click.echo("Users exist already; no administrator created.")
        return
    email = email or click.prompt("Administrator email")
    password = password or click.prompt("Password", hide_input=True, confirmation_prompt=True)
    profile, _created = Profile.get_or_create(
        name="Administración", defaults={"kind": "structural"}
    )
    _create_user(email, name, password, profile, is_admin=True)
    click.echo(f"Administrator {email} created.")


def _create_user(email: str, name: str, password: str, profile: object, **extra: object) -> None:
    from portal.core import people

    values = {"email": email, "name": name, "profile": str(profile.id), "password": password}
    values.update({key: "on" for key, on in extra.items() if on})
    values.setdefault("is_active", "on")
    cleaned, errors = people.validate_user(values, None)
    if errors:
        details = "; ".join(f"{field}: {message}" for field, message in errors.items())
        raise click.ClickException(details)
    people.save_user(None, cleaned)


@main.command()
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--profile", "profile_name", required=True, help="Profile name.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
def createuser(email: str, name: str, profile_name: str, password: str, admin: bool) -> None:
    """Create a user in an existing profile."""
    from portal.core.models import Profile

    _migrate(_settings())
    profile = Profile.get_or_none(Profile.name == profile_name)
    if profile is None:
        raise click.ClickException(f"No profile named {profile_name!r}.")
    _create_user(email, name, password, profile, is_admin=admin)
    click.echo(f"User {email} created.")


def _serve(settings: Settings, host: str, port: int, workers: int, reload: bool = False) -> None:
    import uvicorn

    os.environ.setdefault("CARTERA_DATA_DIR", str(settings.data_dir))
    os.environ.setdefault("CARTERA_BASE_URL", f"http://{host}:{port}")
    uvicorn.run(
        "portal.asgi:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        server_header=False,
        log_level="info",
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="Processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the portal (migrating first)."""
    settings = _settings()
    _migrate(settings)
    _serve(settings, host, port, workers)


@main.command()
@click.option("--clients", default=3000, show_default=True, type=int)
@click.option("--seed", default=2026, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Only build the data.")
def demo(clients: int, seed: int, host: str, port: int, no_serve: bool) -> None:
    """Replace the database with fresh demo data, then serve it."""
    from portal.core.demo import build_demo

    settings = _settings()
    if settings.database_url.startswith("sqlite:///"):
        db_file = Path(settings.database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    else:
        raise click.ClickException("demo rebuilds only a SQLite database; unset DATABASE_URL.")
    from portal import events

    _migrate(settings)
    # The plugins _migrate loaded add their own demo rows.
    accounts = build_demo(seed=seed, clients=clients, plugins=events.manager())
    click.echo(f"\nDemo data ready. Open http://{host}:{port}/ and log in as:")
    for role, email in accounts.logins():
        click.echo(f"  {role.replace('_', ' '):<14} {email}")
    click.echo(f"  password for all: {accounts.password}\n")
    if not no_serve:
        _serve(settings, host, port, workers=1)


@main.group("import")
def import_group() -> None:
    """Import records from files."""


_IMPORT_OPTIONS = (
    click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    click.option("--owner", "owner_email", required=True, help="Email of the default owner."),
    click.option(
        "--country",
        help="ISO code for rows that name no country, and their phones. [default: phone region]",
    ),
    click.option(
        "--number-format",
        type=click.Choice(["es", "en"]),
        help="es: 1.234,56 and 31/12/2024; en: 1,234.56 and 12/31/2024. "
        "[default: guessed from the file, else es]",
    ),
    click.option(
        "--on-match",
        type=click.Choice(["update", "skip"]),
        default="update",
        show_default=True,
        help="What to do with a row that matches an existing record.",
    ),
    click.option("--dry-run", is_flag=True, help="Check every row, write nothing."),
)


def _import_options(command):  # type: ignore[no-untyped-def]
    for option in reversed(_IMPORT_OPTIONS):
        command = option(command)
    return command


def _run_import(kind: str, file: Path, owner_email: str, country: str | None,
                number_format: str | None, on_match: str, dry_run: bool) -> None:  # fmt: skip
    import json

    from portal.core.importer import run_file_import

    settings = _settings()
    _migrate(settings)
    try:
        job = run_file_import(
            file,
            owner_email,
            (country or settings.phone_region).upper(),
            data_dir=settings.data_dir,
            kind=kind,
            file_locale=number_format,
            on_match=on_match,
            dry_run=dry_run,
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    if job.status == "failed":
        raise click.ClickException(job.error)
    for line, outcome, column, message, *_ in json.loads(job.report):
        if outcome in ("rejected", "skipped"):
            where = f" [{column}]" if column else ""
            click.echo(f"line {line}{where}: {outcome}: {message}", err=True)
    what = "contact(s)" if kind == "contacts" else "client(s)"
    verb = "would be" if dry_run else ""
    click.echo(
        f"{job.created} {what} {verb + ' ' if verb else ''}created, "
        f"{job.updated} {verb + ' ' if verb else ''}updated, {job.skipped} skipped, "
        f"{job.rejected} rejected. Import #{job.id}."
    )
    if job.rejected:
        sys.exit(1)


@import_group.command("clients")
@_import_options
def import_clients(
    file: Path, owner_email: str, country: str | None, number_format: str | None,
    on_match: str, dry_run: bool,
) -> None:  # fmt: skip
    """Import clients from a CSV or XLSX FILE, reporting rejected rows."""
    _run_import("clients", file, owner_email, country, number_format, on_match, dry_run)


@import_group.command("contacts")
@_import_options
def import_contacts(
    file: Path, owner_email: str, country: str | None, number_format: str | None,
    on_match: str, dry_run: bool,
) -> None:  # fmt: skip
    """Import contacts from a CSV or XLSX FILE, linking each to its client."""
    _run_import("contacts", file, owner_email, country, number_format, on_match, dry_run)


@main.command()
@click.option("--workers", default=2, show_default=True, type=int, help="Threads.")
def worker(workers: int) -> None:
    """Run the background jobs queued by the portal (mail, large imports, mass actions)
    and the periodic ones (mail retries, task reminders)."""
    from portal import i18n, jobs
    from portal.core import outbox
    from portal.plugins import build_manager, collect
    from portal.web.rendering import build_environment

    settings = _settings()
    _migrate(settings)
    # Jobs that write mail compose it from the same templates as the portal.
    manager = build_manager(settings)
    i18n.use_plugin_catalogues(collect(manager.hook.register_translation_dirs))
    template_dirs = collect(manager.hook.register_template_dirs)
    outbox.configure(settings, build_environment(template_dirs, settings))
    if settings.immediate_jobs:
        raise click.ClickException("CARTERA_IMMEDIATE_JOBS is set: jobs run in the portal.")
    queue = jobs.configure(settings)
    jobs.register_periodic(manager)
    where = "Redis" if settings.redis_url else str(settings.data_dir / "jobs.db")
    click.echo(f"Worker started ({workers} threads, queue in {where}).")
    queue.create_consumer(workers=workers, worker_type="thread").run()


@main.command("new-plugin")
@click.argument("name")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to write the cartera-NAME folder.",
)
def new_plugin(name: str, directory: Path) -> None:
    """Write the skeleton of an installable plugin package named NAME."""
    from portal.scaffold import ScaffoldError, write_skeleton

    try:
        target = write_skeleton(name, directory)
    except ScaffoldError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Plugin skeleton written to {target}.")
    click.echo(f"Next: pip install -e '{target}[test]' && pytest {target}")


if __name__ == "__main__":
    main()
