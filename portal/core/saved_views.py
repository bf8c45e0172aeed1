"""Saved views: a user's named filters of the client list ("my large accounts in Madrid").

Only the allow-listed filter parameters are kept (never paging cursors), so a
saved view reproduces the filters and nothing else, and opening it goes through
the same checks as any list URL.
"""

from __future__ import annotations

from urllib.parse import urlencode

import peewee as pw

from portal.core import catalogue
from portal.core.listing import ClientFilters
from portal.core.models import SavedView, User
from portal.database import db
from portal.i18n import N_
from portal.text import clean

NAME_LIMIT = 100
MAX_VIEWS = 50
# Why a view was not saved, by the code the list page gets in its address.
ERRORS = {
    "name": N_("Give the view a name."),
    "long": N_("A view's name has at most 100 characters."),
    "many": N_("You already have 50 views; delete one first."),
    "taken": N_("You already have a view with this name."),
}


def query_of(filters: ClientFilters) -> str:
    """The query string that reopens `filters` from their first page."""
    return urlencode(filters.params())


def save(user: User, name: str, params: dict[str, str]) -> tuple[SavedView | None, str]:
    """Keep the filters under `name`, replacing a view of the same name; or why not."""
    name = clean(name)
    if not name:
        return None, "name"
    if len(name) > NAME_LIMIT:
        return None, "long"
    query = query_of(ClientFilters.from_params(params))
    existing = SavedView.get_or_none(SavedView.user == user, SavedView.name == name)
    if existing is not None:
        with db.atomic():
            SavedView.update(query=query).where(SavedView.id == existing.id).execute()
            catalogue.changed()
        return SavedView.get_by_id(existing.id), ""
    if SavedView.select().where(SavedView.user == user).count() >= MAX_VIEWS:
        return None, "many"
    try:
        with db.atomic():
            view = SavedView.create(user=user, name=name, query=query)
            catalogue.changed()
        return view, ""
    except pw.IntegrityError:
        return None, "taken"


def delete(user: User, view_id: int | None) -> bool:
    """Remove one of the user's own views; False when it is not theirs or not there."""
    if view_id is None:
        return False
    with db.atomic():
        deleted = SavedView.delete().where(SavedView.id == view_id, SavedView.user == user)
        if deleted.execute() != 1:
            return False
        catalogue.changed()
    return True
