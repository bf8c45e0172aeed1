"""The navigation: the menu keys of the registry that the user's profile holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal.core.models import User
from portal.core.permissions import Grants, Registry
from portal.i18n import gettext as _


def menu_builder(registry: Registry) -> Callable[[User | None, Grants], list[dict]]:
    """Entries in tree order; a group shows when it holds at least one entry.

    A top entry with a page of its own is a plain link (its page links to what
    lies under it); a top entry without one opens a list of its entries.
    """

    # The registry is complete once the app is built; every page walks its menu.
    ordered = registry.menu()

    def menu_for(user: User | None, grants: Grants) -> list[dict[str, Any]]:
        if user is None:
            return []
        entries: list[dict[str, Any]] = [{"label": _("Home"), "url": "/", "children": []}]
        groups: dict[str, dict[str, Any]] = {}
        for permission, depth in ordered:
            if not grants.has(permission.key):
                continue
            entry = {"label": _(permission.label), "url": permission.url, "children": []}
            if depth == 0:
                entries.append(entry)
                groups[permission.key] = entry
            elif (
                permission.parent in groups
                and permission.url
                and not groups[permission.parent]["url"]
            ):
                groups[permission.parent]["children"].append(entry)
        return [e for e in entries if e["url"] or e["children"]]

    return menu_for
