"""The one visibility scope for every owned record.

A hierarchical user sees what they own and what users whose profile lies below
theirs own; a structural user sees everything; an assistant owns nothing and sees
what the users of the profile it depends on, and of every profile below that,
own. A client marked visible-to-all is visible to everyone.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Iterable
from functools import reduce

import peewee as pw

from portal.core.models import Activity, Client, Contact, Profile, User


class ProfileTree:
    """The profile tree loaded once per request (profiles are few)."""

    def __init__(self, rows: Iterable[tuple[int, int | None, str, bool]]) -> None:
        self.parent: dict[int, int | None] = {}
        self.kind: dict[int, str] = {}
        self.assistant: dict[int, bool] = {}
        self.children: dict[int | None, list[int]] = defaultdict(list)
        for profile_id, parent_id, kind, is_assistant in rows:
            self.parent[profile_id] = parent_id
            self.kind[profile_id] = kind
            self.assistant[profile_id] = is_assistant
            self.children[parent_id].append(profile_id)

    @classmethod
    def load(cls) -> ProfileTree:
        query = Profile.select(
            Profile.id, Profile.parent, Profile.kind, Profile.is_assistant
        ).tuples()
        return cls(query)

    def below(self, profile_id: int) -> set[int]:
        """Profiles strictly below `profile_id`, at any depth."""
        found: set[int] = set()
        stack = list(self.children.get(profile_id, ()))
        while stack:
            current = stack.pop()
            if current not in found:
                found.add(current)
                stack.extend(self.children.get(current, ()))
        return found

    def would_cycle(self, profile_id: int, new_parent_id: int | None) -> bool:
        return new_parent_id is not None and (
            new_parent_id == profile_id or new_parent_id in self.below(profile_id)
        )


class Scope:
    """What one user may see. Build it with `Scope.for_user`."""

    def __init__(self, user: User, tree: ProfileTree) -> None:
        self.user = user
        self.tree = tree
        profile_id = user.profile_id
        self.sees_all = tree.kind.get(profile_id) == "structural"
        if tree.assistant.get(profile_id):
            served = tree.parent.get(profile_id)
            self.profiles = {served} | tree.below(served) if served else set()
            self.owns = False
        else:
            self.profiles = tree.below(profile_id)
            self.owns = True

    @classmethod
    def for_user(cls, user: User, tree: ProfileTree | None = None) -> Scope:
        return cls(user, tree or ProfileTree.load())

    def owner_ids(self) -> pw.SelectQuery:
        """A subquery of the users whose records this scope includes."""
        return User.select(User.id).where(User.profile.in_(self.profiles))

    def _owner_condition(self, owner_field: pw.Field) -> pw.Expression:
        # Leaving out an empty subquery lets the database use the owner index.
        conditions = []
        if self.profiles:
            conditions.append(owner_field.in_(self.owner_ids()))
        if self.owns or not conditions:
            conditions.append(owner_field == (self.user.id if self.owns else 0))
        return reduce(operator.or_, conditions)

    def client_condition(self) -> pw.Expression | None:
        """WHERE condition on `Client`; None means every client."""
        if self.sees_all:
            return None
        return self._owner_condition(Client.owner) | (Client.visible_to_all == True)  # noqa: E712

    def clients(self, query: pw.SelectQuery | None = None) -> pw.SelectQuery:
        query = Client.select() if query is None else query
        condition = self.client_condition()
        return query if condition is None else query.where(condition)

    def client_or_none(self, client_id: object) -> Client | None:
        try:
            key = int(client_id)
        except (TypeError, ValueError):
            return None
        return self.clients().where(Client.id == key).first()

    def contacts(self) -> pw.SelectQuery:
        return self.clients(Contact.select().join(Client))

    def activities(self) -> pw.SelectQuery:
        return self.clients(Activity.select().join(Client))

    def users(self) -> pw.SelectQuery:
        """Users whose records this scope covers: the owner filter's choices."""
        query = User.select().where(User.is_active == True)  # noqa: E712
        if self.sees_all:
            return query
        return query.where(self._owner_condition(User.id))

    def may_own(self) -> pw.SelectQuery:
        """Users this user may give a client to: visible users who are not assistants."""
        assistants = Profile.select(Profile.id).where(Profile.is_assistant == True)  # noqa: E712
        return self.users().where(User.profile.not_in(assistants))
