"""The objectives plugin's hook implementations: what it adds to the portal.

Registered through the `cartera.plugins` entry point, like a plugin installed
from outside the repository would be.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute

from plugins.objectives import auditing, demo, models, routes
from plugins.objectives.access import MANAGE, MENU
from portal.config import Settings
from portal.core.audit_log import AuditLabels
from portal.core.models import User
from portal.core.permissions import Grants, MenuEntry, Permission, Tab
from portal.hookspecs import hookimpl
from portal.i18n import N_
from portal.migrations import numbered
from portal.web.contributions import Widget

HERE = Path(__file__).resolve().parent


@hookimpl
def register_models() -> list[type]:
    return list(models.MODELS)


@hookimpl
def register_migrations() -> list[tuple[str, Any]]:
    return numbered("plugins.objectives.migrations", "objectives")


@hookimpl
def register_template_dirs() -> list[Path]:
    return [HERE / "templates"]


@hookimpl
def register_translation_dirs() -> list[Path]:
    # Filled by scripts/update-catalogues (messages.pot, es and en messages.po).
    return [HERE / "translations"]


@hookimpl
def register_routes(settings: Settings) -> list[BaseRoute]:
    return list(routes.routes)


@hookimpl
def register_menu_entries() -> list[MenuEntry]:
    return [MenuEntry(MENU, N_("Objectives"), "/objectives", order=30)]


@hookimpl
def register_permission_tabs() -> list[Tab]:
    return [Tab("objectives", N_("Objectives"), 40)]


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission(
            MANAGE,
            N_("Set and split objectives"),
            "objectives",
            order=10,
            help=N_("For the people and profiles below theirs in the hierarchy."),
            # An assistant sees on behalf of its manager: it would set theirs.
            assistants=False,
        )
    ]


@hookimpl
def dashboard_widgets(user: User, grants: Grants) -> list[Widget] | None:
    # An assistant has no objectives of its own to show at home.
    if not grants.has(MENU) or user.profile.is_assistant:
        return None
    return [Widget("objectives.progress", routes.WIDGET_TITLE, "/objectives/widget", order=20)]


@hookimpl
def register_audit_labels() -> list[AuditLabels]:
    return [auditing.LABELS]


@hookimpl
def populate_demo(seed: int, today: date) -> None:
    demo.populate(seed, today)
