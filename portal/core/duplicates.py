"""Likely duplicates of a client: same fiscal ID, email or phone, or a very
similar name in the same city.

The search runs over every client, not only the ones the user may see: two
salespeople working the same company is the mistake it exists to prevent. A
match outside the user's scope is reported without its name or address, so
the warning tells that the client exists and nothing about it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher

import peewee as pw

from portal.core.models import Client
from portal.core.visibility import Scope
from portal.text import fold

REASONS = ("fiscal_id", "email", "phone", "name")
# Two names this alike (0..1, after dropping legal forms) in one city are one client.
NAME_SIMILARITY = 0.88
# Names compared per candidate at most; sorted neighbours come first.
NAME_NEIGHBOURS = 400
LIMIT = 5

# Legal forms and filler words that say nothing about which business it is.
_NOISE = frozenset(
    "s l u sl slu sa sau sll slne sc scp scoop coop cb sas sca ltda ltd inc llc gmbh "
    "de del la las los el y e and the cia".split()
)
_WORD = re.compile(r"[a-z0-9ñ]+")


@dataclass(frozen=True)
class Candidate:
    """The values of a client being created, edited or imported."""

    name: str = ""
    city: str = ""
    fiscal_id: str = ""
    email: str = ""
    phones: tuple[str, ...] = ()
    # The client being edited, never its own duplicate.
    client_id: int | None = None

    @classmethod
    def of(cls, client: Client) -> Candidate:
        return cls(
            name=client.name,
            city=client.city,
            fiscal_id=client.fiscal_id,
            email=client.email,
            phones=tuple(p for p in (client.phone, client.mobile) if p),
            client_id=client.id,
        )


@dataclass(frozen=True)
class Match:
    reason: str
    # Set only when the user may see the client; otherwise None and blank.
    client_id: int | None = None
    name: str = ""
    city: str = ""

    @property
    def visible(self) -> bool:
        return self.client_id is not None


def name_key(name: str) -> str:
    """The words of a business name that identify it, folded, in order."""
    words = _WORD.findall(fold(name).replace(".", ""))
    kept = [word for word in words if word not in _NOISE]
    return " ".join(kept or words)


def similar_names(first: str, second: str) -> bool:
    a, b = name_key(first), name_key(second)
    if not a or not b:
        return False
    if a == b or sorted(a.split()) == sorted(b.split()):
        return True
    return SequenceMatcher(None, a, b, autojunk=False).ratio() >= NAME_SIMILARITY


def _exact(candidate: Candidate) -> list[tuple[int, str]]:
    """(client id, reason) for equal fiscal IDs, emails and phones."""
    tests: list[tuple[str, pw.Expression]] = []
    if candidate.fiscal_id:
        tests.append(("fiscal_id", Client.fiscal_id == candidate.fiscal_id))
    if candidate.email:
        tests.append(("email", Client.email == candidate.email.strip().casefold()))
    phones = [p for p in candidate.phones if p]
    if phones:
        tests.append(("phone", Client.phone.in_(phones) | Client.mobile.in_(phones)))
    found = []
    for reason, condition in tests:
        query = Client.select(Client.id).where(condition)
        if candidate.client_id is not None:
            query = query.where(Client.id != candidate.client_id)
        found += [(client_id, reason) for (client_id,) in query.limit(LIMIT).tuples()]
    return found


def _by_name(candidate: Candidate) -> list[tuple[int, str]]:
    """Clients in the same city whose name is very similar, or, when the
    candidate has no city, clients anywhere with the very same name.

    Reads the clients whose sorted name starts like the candidate's first
    identifying word, through the (sort_name, id) index, and compares in Python.
    """
    key = name_key(candidate.name)
    city = fold(candidate.city)
    if not key:
        return []
    prefix = key.split()[0][:4]
    query = (
        Client.select(Client.id, Client.name, Client.city)
        .where(Client.sort_name.startswith(prefix))
        .order_by(Client.sort_name, Client.id)
        .limit(NAME_NEIGHBOURS)
    )
    if candidate.client_id is not None:
        query = query.where(Client.id != candidate.client_id)
    if not city:
        return [(i, "name") for i, name, _city in query.tuples() if name_key(name) == key]
    return [
        (client_id, "name")
        for client_id, name, other_city in query.tuples()
        if fold(other_city) == city and similar_names(candidate.name, name)
    ]


def likely_duplicates(candidate: Candidate, scope: Scope) -> list[Match]:
    """Up to LIMIT clients that may be the candidate, strongest reason first."""
    reasons: dict[int, str] = {}
    for client_id, reason in [*_exact(candidate), *_by_name(candidate)]:
        reasons.setdefault(client_id, reason)
    ids = sorted(reasons, key=lambda i: (REASONS.index(reasons[i]), i))[:LIMIT]
    return describe(reasons, ids, scope)


def describe(reasons: dict[int, str], ids: Iterable[int], scope: Scope) -> list[Match]:
    """Matches for `ids`, named only where `scope` lets the user see the client."""
    ids = list(ids)
    if not ids:
        return []
    visible = {
        row[0]: row[1:]
        for row in scope.clients(Client.select(Client.id, Client.name, Client.city))
        .where(Client.id.in_(ids))
        .tuples()
    }
    return [Match(reasons[i], i, *visible[i]) if i in visible else Match(reasons[i]) for i in ids]
