"""Choosing a client's owner by searching, for people who may assign hundreds.

Up to `THRESHOLD` people the client form keeps one list of them. Above it the
form shows the current owner and a search box: with htmx the box asks for the
people matching what was typed; without JavaScript the server reads the typed
text on save (`resolve`). Every person offered or accepted comes from
`Scope.may_own()`; `portal.core.clients.validate` checks the chosen id again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portal.core.models import User
from portal.core.visibility import Scope
from portal.i18n import gettext as _
from portal.text import clean, fold

# Above this many people a single list is too heavy for a phone and too long to read.
THRESHOLD = 100
# How many people one search offers: enough to see the name meant, small on the wire.
LIMIT = 20
# Longest search read; a longer one is a paste, not a name.
QUERY_LENGTH = 100


def searched_words(text: str) -> list[str]:
    """The folded words of a search, at most five, as the client search reads them."""
    return fold(clean(text)[:QUERY_LENGTH]).split()[:5]


def matching(scope: Scope, text: str, limit: int | None = LIMIT) -> list[User]:
    """People this user may give a client to whose name or email holds every word.

    Case and accents are ignored on both sides; the user table keeps no folded
    copy, so the folding happens here over the id, name and email of each
    person in reach (a thousand short rows, read once per search).
    """
    words = searched_words(text)
    if not words:
        return []
    people = scope.may_own().select(User.id, User.name, User.email).order_by(User.name, User.id)
    found = []
    for person in people:
        if all(word in fold(f"{person.name} {person.email}") for word in words):
            found.append(person)
            if limit is not None and len(found) >= limit:
                break
    return found


@dataclass
class Picked:
    """The posted form with `owner` set to the person the picker names."""

    raw: dict[str, str]
    error: str = ""
    # People to choose among when the typed text named none or several.
    candidates: list[User] = field(default_factory=list)


def resolve(scope: Scope, raw: dict[str, str]) -> Picked:
    """Which owner the posted picker fields name.

    An `owner` chosen from a list (the plain select, a search result, the
    candidates of a previous attempt) wins. Otherwise a typed search must name
    exactly one person, or one whose whole name or email it is. With neither,
    the owner the form was showing (`owner_kept`) stays. The id found is only
    proposed: `clients.validate` still refuses anyone outside `may_own()`.
    """
    if raw.get("owner"):
        return Picked(raw)
    text = raw.get("owner_q", "")
    if not searched_words(text):
        return Picked({**raw, "owner": raw.get("owner_kept", "")})
    found = matching(scope, text, limit=None)
    if len(found) > 1:
        whole = " ".join(searched_words(text))
        exact = [p for p in found if whole in (fold(p.name), fold(p.email))]
        found = exact if len(exact) == 1 else found
    if len(found) == 1:
        return Picked({**raw, "owner": str(found[0].id)})
    if not found:
        shown = clean(text)[:QUERY_LENGTH]
        error = _("Nobody you may give clients to matches “%(text)s”.", text=shown)
    else:
        error = _("Several people match: choose one or write more of the name.")
    return Picked({**raw, "owner": ""}, error, found[:LIMIT])
