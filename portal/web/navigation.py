"""The navigation menu: core entries plus what plugins declare."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

from portal.core.models import User
from portal.i18n import gettext as _
from portal.plugins import collect


def menu_builder(manager: pluggy.PluginManager) -> Callable[[User | None], list[dict]]:
    def menu_for(user: User | None) -> list[dict[str, Any]]:
        if user is None:
            return []
        entries = [
            {"label": _("Home"), "url": "/", "order": 0},
            {"label": _("Clients"), "url": "/clients", "order": 10},
        ]
        if user.is_admin:
            entries.append({"label": _("Profiles"), "url": "/admin/profiles", "order": 90})
            entries.append({"label": _("Users"), "url": "/admin/users", "order": 91})
        entries.extend(collect(manager.hook.menu_items, user=user))
        return sorted(entries, key=lambda entry: entry["order"])

    return menu_for
