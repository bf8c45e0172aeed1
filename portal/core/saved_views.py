"""Saved views: a user's named filters of the client list ("my large accounts in Madrid").

Only the allow-listed filter parameters are kept (never paging cursors), so a
saved view reproduces the filters and nothing else, and opening it goes through
the same checks as any list URL.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import peewee as pw

from portal.core.listing import ClientFilters
from portal.core.models import SavedView, User
from portal.i18n import gettext as _
from portal.text import clean

NAME_LIMIT = 100
MAX_VIEWS = 50


def query_of(filters: ClientFilters) -> str:
    """The query string that reopens `filters` from their first page."""
    return urlencode(filters.params())


def views_of(user: User) -> list[SavedView]:
    return list(SavedView.select().where(SavedView.user == user).order_by(SavedView.name))


def save(user: User, name: str, params: dict[str, str]) -> tuple[SavedView | None, str]:
    """Keep the filters under `name`, replacing a view of the same name; or a message."""
    name = clean(name)
    if not name:
        return None, _("Give the view a name.")
    if len(name) > NAME_LIMIT:
        return None, _("At most %(n)s characters.", n=NAME_LIMIT)
    query = query_of(ClientFilters.from_params(params))
    existing = SavedView.get_or_none(SavedView.user == user, SavedView.name == name)
    if existing is not None:
        SavedView.update(query=query).where(SavedView.id == existing.id).execute()
        return SavedView.get_by_id(existing.id), ""
    if SavedView.select().where(SavedView.user == user).count() >= MAX_VIEWS:
        return None, _("You already have %(n)s views; delete one first.", n=MAX_VIEWS)
    try:
        return SavedView.create(user=user, name=name, query=query), ""
    except pw.IntegrityError:
        return None, _("You already have a view with this name.")


def delete(user: User, view_id: int | None) -> bool:
    """Remove one of the user's own views; False when it is not theirs or not there."""
    query = SavedView.delete().where(SavedView.id == view_id, SavedView.user == user)
    return view_id is not None and query.execute() == 1


def filters_of(view: SavedView) -> ClientFilters:
    return ClientFilters.from_params(dict(parse_qsl(view.query)))
