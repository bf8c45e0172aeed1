"""The application factory."""

from __future__ import annotations

import logging
from pathlib import Path

import pluggy
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from portal import events, i18n, jobs
from portal.assets import asset_folder
from portal.config import Settings
from portal.core import audit_log, importer, notifications, outbox, reports
from portal.core.permissions import Registry
from portal.core.routes import (
    account,
    agenda,
    audit,
    auth,
    bulk,
    clients,
    leads,
    mail,
    opportunities,
    permissions,
    pipelines,
    portfolio,
    privacy,
    profiles,
    tags,
    users,
    vacations,
    views,
    webforms,
)
from portal.core.routes import plugins as plugin_pages
from portal.database import open_database
from portal.plugins import PluginError, build_manager, check, collect
from portal.web import errors
from portal.web.compression import PageCompression
from portal.web.middleware import PortalMiddleware
from portal.web.navigation import menu_builder
from portal.web.rendering import build_environment

logger = logging.getLogger(__name__)

STATIC = asset_folder("static")


def create_app(
    settings: Settings | None = None,
    *,
    plugins: pluggy.PluginManager | None = None,
) -> Starlette:
    settings = (settings or Settings.from_env()).with_secret()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    open_database(settings.database_url)
    jobs.configure(settings)
    manager = plugins or build_manager(settings)
    check(manager)  # again: a test or an embedder may have registered more
    events.use(manager)
    jobs.register_periodic(manager)

    static_mounts = [
        Mount(f"/static/{prefix}", _static_files(folder), name=f"static-{prefix}")
        for prefix, folder in plugin_static_dirs(manager)
    ]
    routes = [
        *auth.routes,
        *account.routes,
        *clients.routes,
        *opportunities.routes,
        *importer.routes,
        *profiles.routes,
        *users.routes,
        *permissions.routes,
        *tags.routes,
        *portfolio.routes,
        *pipelines.routes,
        *bulk.routes,
        *views.routes,
        *privacy.routes,
        *vacations.routes,
        *agenda.routes,
        *audit.routes,
        *leads.routes,
        *webforms.routes,
        *mail.routes,
        *plugin_pages.routes,
        *collect(manager.hook.register_routes, settings=settings),
        *static_mounts,
        Mount("/static", _static_files(STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            # Pages are compressed on every request, by ISA-L at its level 1
            # (web/compression.py). Static files bring their own (`_static_files`).
            Middleware(PageCompression, minimum_size=500, level=1),
            Middleware(PortalMiddleware, settings=settings),
        ],
        exception_handlers=errors.handlers,
    )
    app.state.settings = settings
    app.state.plugins = manager
    i18n.use_plugin_catalogues(collect(manager.hook.register_translation_dirs))
    template_dirs = collect(manager.hook.register_template_dirs)
    app.state.templates = build_environment(template_dirs, settings)
    # The header's unread badge: one COUNT per full page.
    app.state.templates.globals["unread_notifications"] = notifications.unread_count
    outbox.configure(settings, app.state.templates)
    app.state.permissions = Registry.from_plugins(manager)
    app.state.menu_for = menu_builder(app.state.permissions)
    reports.configure(settings)
    # Objectives and reports offer every measure of every source registered here.
    app.state.report_sources = reports.Sources.from_plugins(manager)
    app.state.audit_labels = audit_log.Vocabulary.from_plugins(manager)
    logger.info("Cartera ready on %s", settings.base_url)
    return app


def plugin_static_dirs(manager: pluggy.PluginManager) -> list[tuple[str, Path]]:
    """Each plugin's `(prefix, folder)`, refusing a prefix that would hide other files.

    A prefix is one path segment; it may not name a file or folder of the core's
    static folder (`/static/htmx…`) nor the prefix of another plugin.
    """
    taken = {entry.name for entry in STATIC.iterdir()}
    pairs = []
    for prefix, folder in collect(manager.hook.register_static_dirs):
        if not prefix or "/" in prefix or prefix in (".", ".."):
            raise PluginError(f"static prefix {prefix!r} must be one path segment")
        if prefix in taken:
            raise PluginError(
                f"static prefix {prefix!r} clashes with the core's static files or another plugin"
            )
        taken.add(prefix)
        pairs.append((prefix, Path(folder)))
    return pairs


def _static_files(folder: Path) -> ASGIApp:
    # A browser fetches these once and caches them for a day (web/middleware.py),
    # so a smaller file is worth the longer compression; the outer middleware
    # leaves a response that already has a Content-Encoding alone.
    return GZipMiddleware(StaticFiles(directory=folder), minimum_size=500, compresslevel=6)


async def health(request: Request) -> Response:
    return Response("ok")
