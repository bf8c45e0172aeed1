"""The navigation: the menu keys of the registry that the user's profile holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from portal.core.models import User
from portal.core.permissions import Grants, Registry
from portal.i18n import gettext as _


@dataclass(slots=True)
class MenuEntry:
    """A link of the navigation, or a group of links when it has children."""

    # Attributes rather than a dict's keys: Jinja reads `entry.label` as an
    # attribute first, and on a dict that lookup fails, raising, before it
    # tries the key; the header reads a dozen of these on every page.
    label: str
    url: str
    children: list[MenuEntry] = field(default_factory=list)


def menu_builder(registry: Registry) -> Callable[[User | None, Grants], list[MenuEntry]]:
    """Entries in tree order; a group shows when it holds at least one entry.

    A top entry with a page of its own is a plain link (its page links to what
    lies under it); a top entry without one opens a list of its entries.
    """

    # The registry is complete once the app is built; every page walks its menu.
    ordered = registry.menu()

    def menu_for(user: User | None, grants: Grants) -> list[MenuEntry]:
        if user is None:
            return []
        entries = [MenuEntry(_("Home"), "/")]
        groups: dict[str, MenuEntry] = {}
        for permission, depth in ordered:
            if not grants.has(permission.key):
                continue
            entry = MenuEntry(_(permission.label), permission.url)
            if depth == 0:
                entries.append(entry)
                groups[permission.key] = entry
            elif (
                permission.parent in groups and permission.url and not groups[permission.parent].url
            ):
                groups[permission.parent].children.append(entry)
        return [e for e in entries if e.url or e.children]

    return menu_for
