"""The hooks of the loyalty plugin: everything it adds to Cartera goes through here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute

from cartera_loyalty import pages, points
from cartera_loyalty.models import Award
from portal.config import Settings
from portal.core.audit_log import AuditLabels
from portal.core.models import Client, User
from portal.core.permissions import Grants, MenuEntry, Permission
from portal.hookspecs import hookimpl
from portal.i18n import N_, format_number
from portal.migrations import Migration, numbered
from portal.web.contributions import Panel

HERE = Path(__file__).parent


@hookimpl
def register_models() -> list[type]:
    return [Award]


@hookimpl
def register_migrations() -> list[Migration]:
    return numbered("cartera_loyalty.migrations", "loyalty")


@hookimpl
def register_menu_entries() -> list[MenuEntry]:
    return [MenuEntry(pages.MENU_KEY, N_("Loyalty"), url="/loyalty", order=60)]


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission(
            pages.REDEEM_KEY,
            N_("Redeem a client's loyalty points"),
            "clients",
            order=90,
            help=N_("Of the clients the user sees."),
        )
    ]


@hookimpl
def register_routes(settings: Settings) -> list[BaseRoute]:
    return pages.routes


@hookimpl
def register_template_dirs() -> list[Path]:
    return [HERE / "templates"]


@hookimpl
def register_translation_dirs() -> list[Path]:
    return [HERE / "translations"]


@hookimpl
def client_panels(client: Client, user: User, grants: Grants) -> list[Panel] | None:
    if not grants.has(pages.MENU_KEY):
        return None
    return [Panel("loyalty.points", pages.PANEL_TITLE, f"/loyalty/clients/{client.id}")]


@hookimpl
def activity_logged(activity_id: int, client_id: int, actor_id: int | None) -> None:
    points.award_for(activity_id, actor_id)


def _points(value: Any, request: Request) -> str:
    return format_number(int(value))


@hookimpl
def register_audit_labels() -> list[AuditLabels]:
    # The entries name a client (the core labels it); these name the rest.
    return [
        AuditLabels(
            area="loyalty",
            actions={
                "loyalty.points.awarded": N_("Loyalty points earned"),
                "loyalty.points.redeemed": N_("Loyalty points redeemed"),
            },
            fields={
                "points": N_("Points"),
                "balance": N_("Balance"),
                "activity": N_("Activity"),
            },
            values={"points": _points, "balance": _points},
        )
    ]
