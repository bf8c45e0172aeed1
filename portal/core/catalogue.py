"""Tags, zones and saved views for the client list, read once and kept per process.

The full list page would otherwise spend a query on them at every request. They
change rarely and only through Cartera: each change writes a new *stamp*, and
the session's row carries the stamp (portal/core/sessions.py), so every worker
process sees a change at the next request and reads them again. A change made
to those tables outside Cartera shows after a restart.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import NamedTuple

from portal.core.models import SavedView, Setting, Tag, User, Zone

STAMP_KEY = "catalogue.stamp"
MAX_USERS = 2000


class TagRow(NamedTuple):
    id: int
    name: str
    colour: str


class ViewRow(NamedTuple):
    id: int
    name: str
    query: str


_lock = threading.Lock()
_shared: dict[str, tuple[list[TagRow], list[str]]] = {}
_views: OrderedDict[int, tuple[str, list[ViewRow]]] = OrderedDict()


def changed() -> None:
    """Call inside the transaction that changes a tag, a zone or a saved view."""
    stamp = uuid.uuid4().hex
    Setting.insert(key=STAMP_KEY, value=stamp).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: stamp}
    ).execute()


def tags_and_zones(stamp: str | None) -> tuple[list[TagRow], list[str]]:
    """Every tag, and the names of the zones in their order."""
    if stamp is not None and stamp in _shared:
        return _shared[stamp]
    tags = [
        TagRow(*row) for row in Tag.select(Tag.id, Tag.name, Tag.colour).order_by(Tag.name).tuples()
    ]
    zones = [name for (name,) in Zone.select(Zone.name).order_by(Zone.position, Zone.name).tuples()]
    if stamp is not None:
        with _lock:
            _shared.clear()
            _shared[stamp] = (tags, zones)
    return tags, zones


def views_of(user: User, stamp: str | None) -> list[ViewRow]:
    """The user's saved views, by name."""
    with _lock:
        kept = _views.get(user.id)
    if stamp is not None and kept is not None and kept[0] == stamp:
        return kept[1]
    query = SavedView.select(SavedView.id, SavedView.name, SavedView.query)
    views = [
        ViewRow(*row)
        for row in query.where(SavedView.user == user).order_by(SavedView.name).tuples()
    ]
    if stamp is not None:
        with _lock:
            _views[user.id] = (stamp, views)
            _views.move_to_end(user.id)
            while len(_views) > MAX_USERS:
                _views.popitem(last=False)
    return views
