"""Permissions are data: keys declared by the core and by plugins, held by profiles.

A key is a dotted name (`menu.clients`, `clients.coordinates`). The core and every
plugin declare their keys through the `register_permissions` hook, grouped in tabs
of the permission matrix; menu keys also carry the URL the navigation links to, so
the matrix shows the menus exactly as the navigation does. A profile stores what it
holds as `{key: value}`: the value is "" for a plain grant or a number for a key
with a limit (the highest discount a profile may grant, for instance).

Administrators hold every key. Everyone else holds what their profile holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import pluggy

from portal.i18n import N_

if TYPE_CHECKING:
    from portal.core.models import Profile, User

MENUS = "menus"
REPORTS = "reports"


@dataclass(frozen=True)
class Tab:
    """A tab of the permission matrix."""

    key: str
    label: str  # a msgid, translated where it is shown
    order: int = 100


@dataclass(frozen=True)
class Permission:
    """One key a profile may hold.

    `parent` nests a menu entry (or any key) under another in the matrix tree;
    `url` makes a menu key an entry of the navigation; `limit` names the unit of
    a key that holds a maximum ("percent"), shown as a number field.
    `assistants=False` marks a key that means nothing to an assistant profile
    (it acts for the profile it serves): the matrix shows it disabled there and
    never stores it.
    """

    key: str
    label: str  # a msgid, translated where it is shown
    tab: str
    parent: str = ""
    url: str = ""
    order: int = 100
    limit: str = ""
    help: str = ""
    assistants: bool = True


CORE_TABS = (
    Tab(MENUS, N_("Menus"), 0),
    Tab(REPORTS, N_("Reports"), 10),
    Tab("clients", N_("Clients"), 20),
    Tab("opportunities", N_("Opportunities"), 25),
    Tab("tasks", N_("Tasks"), 30),
)

CORE_PERMISSIONS = (
    Permission("menu.clients", N_("Clients"), MENUS, url="/clients", order=10),
    Permission(
        "menu.clients.import", N_("Import clients"), MENUS, "menu.clients", "/clients/import", 11
    ),
    Permission("menu.clients.export", N_("Export clients"), MENUS, "menu.clients", order=12),
    Permission("menu.agenda", N_("Agenda"), MENUS, url="/agenda", order=20),
    Permission("menu.opportunities", N_("Opportunities"), MENUS, url="/opportunities", order=21),
    Permission(
        "menu.opportunities.funnel",
        N_("Funnel"),
        MENUS,
        "menu.opportunities",
        "/opportunities/funnel",
        21,
    ),
    Permission("menu.admin", N_("Administration"), MENUS, order=90),
    Permission("menu.admin.profiles", N_("Profiles"), MENUS, "menu.admin", "/admin/profiles", 91),
    Permission(
        "menu.admin.permissions",
        N_("Permissions"),
        MENUS,
        "menu.admin",
        "/admin/permissions",
        92,
    ),
    Permission("menu.admin.users", N_("Users"), MENUS, "menu.admin", "/admin/users", 93),
    Permission("menu.admin.tags", N_("Tags"), MENUS, "menu.admin", "/admin/tags", 94),
    Permission("menu.admin.audit", N_("Audit log"), MENUS, "menu.admin", "/admin/audit", 95),
    Permission(
        "menu.admin.portfolio",
        N_("Zones and segments"),
        MENUS,
        "menu.admin",
        "/admin/portfolio",
        96,
    ),
    Permission("menu.admin.mail", N_("Mail"), MENUS, "menu.admin", "/admin/mail", 97),
    Permission(
        "menu.admin.pipelines",
        N_("Pipelines"),
        MENUS,
        "menu.admin",
        "/admin/pipelines",
        98,
    ),
    Permission(
        "menu.admin.webforms",
        N_("Web forms and leads"),
        MENUS,
        "menu.admin",
        "/admin/webforms",
        99,
    ),
    Permission("menu.admin.plugins", N_("Plugins"), MENUS, "menu.admin", "/admin/plugins", 100),
    Permission("menu.leads", N_("Web leads"), MENUS, url="/leads", order=22),
    Permission(
        "clients.visible_to_all",
        N_("Create clients visible to all users"),
        "clients",
        order=10,
        help=N_("Regardless of the hierarchy."),
    ),
    Permission(
        "clients.discount",
        N_("Grant discounts to a client"),
        "clients",
        order=20,
        limit="percent",
        help=N_("Up to this percentage."),
    ),
    Permission("clients.coordinates", N_("Change a client's coordinates"), "clients", order=30),
    Permission("clients.supplier", N_("Convert a client into a supplier"), "clients", order=40),
    Permission(
        "clients.fiscal_id_other",
        N_("Use the fiscal ID type “other”"),
        "clients",
        order=50,
        help=N_("Besides NIF, CIF and NIE."),
    ),
    Permission(
        "clients.bulk",
        N_("Mass actions on clients"),
        "clients",
        order=55,
        help=N_(
            "Reassign, tag, change or delete many clients at once, within what the user may change."
        ),
    ),
    Permission(
        "clients.gdpr",
        N_("Hand over or erase a person's data (GDPR)"),
        "clients",
        order=60,
        help=N_("Download everything held about a contact or a person, and erase it."),
    ),
    Permission(
        "clients.merge",
        N_("Merge duplicate clients"),
        "clients",
        order=70,
        help=N_("Of the clients the user may edit."),
    ),
    Permission(
        "opportunities.edit",
        N_("Create, change, move and delete opportunities"),
        "opportunities",
        order=10,
        help=N_("Of the people the user sees."),
    ),
    Permission("tasks.delete", N_("Delete tasks created in the CRM"), "tasks", order=10),
    Permission("menu.vacations", N_("Vacations"), MENUS, url="/vacations", order=50),
    Permission(
        "menu.vacations.calendar",
        N_("Team calendar"),
        MENUS,
        "menu.vacations",
        "/vacations/calendar",
        51,
    ),
    Permission(
        "menu.vacations.approvals",
        N_("To approve"),
        MENUS,
        "menu.vacations",
        "/vacations/approvals",
        52,
    ),
)


@dataclass(frozen=True)
class MenuEntry:
    """An entry of the navigation a plugin adds (`register_menu_entries`).

    `key` is also the permission that shows it: the registry declares it in the
    "menus" tab, so the matrix lists it where the navigation shows it, and a
    user sees the entry, and may open its page, only while holding the key.
    """

    key: str  # "menu.loyalty"
    label: str  # a msgid, translated where it is shown
    url: str = ""  # empty for a group that only holds other entries
    parent: str = ""  # the key of the entry it sits under
    order: int = 100


class Registry:
    """Every tab and key the running portal knows, core first, then plugins."""

    def __init__(self, tabs: Iterable[Tab], permissions: Iterable[Permission]) -> None:
        self.tabs = sorted(_unique(tabs, "tab"), key=lambda t: (t.order, t.key))
        self.permissions = {p.key: p for p in _unique(permissions, "permission")}
        known_tabs = {t.key for t in self.tabs}
        for permission in self.permissions.values():
            if permission.tab not in known_tabs:
                raise ValueError(
                    f"permission {permission.key!r} names unknown tab {permission.tab!r}"
                )
            if permission.parent and permission.parent not in self.permissions:
                raise ValueError(f"{permission.key!r} names an unknown parent")

    @classmethod
    def from_plugins(cls, manager: pluggy.PluginManager) -> Registry:
        from portal.plugins import collect

        tabs = [*CORE_TABS, *collect(manager.hook.register_permission_tabs)]
        entries = [
            Permission(e.key, e.label, MENUS, e.parent, e.url, e.order)
            for e in collect(manager.hook.register_menu_entries)
        ]
        permissions = [
            *CORE_PERMISSIONS,
            *collect(manager.hook.register_permissions),
            *entries,
        ]
        return cls(tabs, permissions)

    def in_tab(self, tab: str) -> list[tuple[Permission, int]]:
        """The tab's keys in tree order, each with its depth."""
        children: dict[str, list[Permission]] = {}
        for permission in self.permissions.values():
            if permission.tab == tab:
                children.setdefault(permission.parent, []).append(permission)
        rows: list[tuple[Permission, int]] = []

        def walk(parent: str, depth: int) -> None:
            for child in sorted(children.get(parent, ()), key=lambda p: (p.order, p.key)):
                rows.append((child, depth))
                walk(child.key, depth + 1)

        walk("", 0)
        return rows

    def menu(self) -> list[tuple[Permission, int]]:
        return self.in_tab(MENUS)

    def ancestors(self, key: str) -> Iterator[str]:
        parent = self.permissions[key].parent
        while parent:
            yield parent
            parent = self.permissions[parent].parent


def _unique(items: Iterable, what: str) -> list:
    seen: set[str] = set()
    result = []
    for item in items:
        if item.key in seen:
            raise ValueError(f"{what} {item.key!r} declared twice")
        seen.add(item.key)
        result.append(item)
    return result


def read_grants(profile: Profile) -> dict[str, str]:
    """What a profile holds, as stored."""
    try:
        held = json.loads(profile.grants or "{}")
    except ValueError:
        return {}
    if not isinstance(held, dict):
        return {}
    return {str(key): str(value) for key, value in held.items()}


def write_grants(profile: Profile, held: dict[str, str]) -> None:
    profile.grants = json.dumps(dict(sorted(held.items())), separators=(",", ":"))


class Grants:
    """What one user may do; built once per request from the joined profile."""

    def __init__(self, held: dict[str, str], *, everything: bool = False) -> None:
        self.held = held
        self.everything = everything

    @classmethod
    def of(cls, user: User | None) -> Grants:
        if user is None or not user.is_active:
            return cls({})
        if user.is_admin:
            return cls({}, everything=True)
        return cls(read_grants(user.profile))

    def has(self, key: str) -> bool:
        return self.everything or key in self.held

    def limit(self, key: str) -> Decimal | None:
        """The maximum a key allows; `None` when the key is not held at all.

        Administrators have no maximum (returned as 100, the whole of a percentage).
        """
        if self.everything:
            return Decimal(100)
        if key not in self.held:
            return None
        try:
            value = Decimal(self.held[key])
        except InvalidOperation:
            return Decimal(0)
        return value if value.is_finite() and value >= 0 else Decimal(0)
