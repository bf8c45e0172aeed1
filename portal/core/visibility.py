"""The one visibility scope for every owned record.

A hierarchical user sees what they own and what users whose profile lies below
theirs own; a structural user sees everything; an assistant owns nothing and sees
what the users of the profile it depends on, and of every profile below that,
own. A client marked visible-to-all is visible to everyone, but only those whose
scope covers its owner may edit or delete it. An opportunity is seen (and
changed) by those whose scope covers its owner, whoever may see its client: a
shared client does not share the deals others are working on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import peewee as pw

from portal.core.models import Activity, Client, Contact, Opportunity, Profile, Task, User
from portal.statements import Slot, compiled, slots
from portal.text import parse_id

# How many people the owner filter offers before it stops adding tree levels.
OWNER_CHOICES = 150


class ProfileTree:
    """The profile tree and its head counts, loaded in one query per request."""

    def __init__(self, rows: Iterable[tuple[int, int | None, str, bool, int]]) -> None:
        self.parent: dict[int, int | None] = {}
        self.kind: dict[int, str] = {}
        self.assistant: dict[int, bool] = {}
        self.users: dict[int, int] = {}
        self.children: dict[int | None, list[int]] = defaultdict(list)
        for profile_id, parent_id, kind, is_assistant, users in rows:
            self.parent[profile_id] = parent_id
            self.kind[profile_id] = kind
            self.assistant[profile_id] = bool(is_assistant)
            self.users[profile_id] = users
            self.children[parent_id].append(profile_id)
        self.total_users = sum(self.users.values())

    @classmethod
    def load(cls) -> ProfileTree:
        # Raw rows: SQLite's 0/1 for is_assistant is made a bool above.
        return cls(_tree_statement().execute().fetchall())

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
    """What one user may see. Build it with `Scope.for_user`.

    The users whose records the scope covers are read once (one query) and put
    in the SQL as literal ids, which lets the planner estimate and use indexes.
    When the scope covers most users, the few left out are listed instead, so a
    top manager's list walks the name index and stops at the page size. The same
    query brings the people nearest in the tree, whom the owner filter offers.
    """

    def __init__(self, user: User, tree: ProfileTree) -> None:
        self.user = user
        self.tree = tree
        profile_id = user.profile_id
        self.sees_all = tree.kind.get(profile_id) == "structural"
        if self.sees_all:
            top = set(tree.children.get(None, ()))
        elif tree.assistant.get(profile_id):
            served = tree.parent.get(profile_id)
            top = {served} if served else set()
        else:
            top = set(tree.children.get(profile_id, ()))
        self.owns = not tree.assistant.get(profile_id)
        self.profiles = set().union(top, *(tree.below(p) for p in top))
        covered = sum(tree.users.get(profile, 0) for profile in self.profiles)
        self.wide = covered * 2 > tree.total_users
        self.near = self._nearest_levels(top)
        self._rows: list | None = None

    def _nearest_levels(self, top: set[int]) -> set[int]:
        """Whole levels of the tree from the top of the scope, as many as fit."""
        near: set[int] = set()
        frontier, people = top, 0
        while frontier:
            level = sum(self.tree.users.get(p, 0) for p in frontier)
            if near and people + level > OWNER_CHOICES:
                break
            near |= frontier
            people += level
            frontier = {c for p in frontier for c in self.tree.children.get(p, ())}
        return near

    @classmethod
    def for_user(cls, user: User, tree: ProfileTree | None = None) -> Scope:
        return cls(user, tree or ProfileTree.load())

    def covers(self, user_id: int, profile_id: int) -> bool:
        """Whether records owned by this user are in the scope."""
        if self.sees_all or profile_id in self.profiles:
            return True
        return self.owns and user_id == self.user.id

    def _people(self) -> list:
        """(id, name, profile, is_active) of the users the SQL and the filter need."""
        if self._rows is None:
            rule = "all" if self.sees_all else "wide" if self.wide else "narrow"
            near = sorted(self.near)
            listed = sorted(self.profiles) if rule != "all" else []
            statement = _people_statement(rule, len(near), len(listed))
            self._rows = statement.rows(me=self.user.id, near=near, profiles=listed)
        return self._rows

    def owner_choices(self) -> list:
        """Active people nearest in the tree whose clients the user sees."""
        return [
            row
            for row in self._people()
            if row.is_active
            and self.covers(row.id, row.profile)
            and (row.profile in self.near or row.id == self.user.id)
            and not self.tree.assistant.get(row.profile)
        ]

    def owner_rule(self) -> tuple[str, list[int]]:
        """How SQL names the owners in scope: ("all", []), ("not_in", ids) or ("in", ids)."""
        if self.sees_all:
            return "all", []
        rows = self._people()
        if self.wide:
            return "not_in", [row.id for row in rows if not self.covers(row.id, row.profile)]
        return "in", [row.id for row in rows if self.covers(row.id, row.profile)]

    def _owner_condition(self, owner_field: pw.Field) -> pw.Expression:
        return owner_condition(owner_field, *self.owner_rule())

    def client_condition(self) -> pw.Expression | None:
        """WHERE condition on `Client`; None means every client."""
        return client_condition(*self.owner_rule())

    def clients(self, query: pw.SelectQuery | None = None) -> pw.SelectQuery:
        query = Client.select() if query is None else query
        condition = self.client_condition()
        return query if condition is None else query.where(condition)

    def changeable(self, query: pw.SelectQuery | None = None) -> pw.SelectQuery:
        """Clients this user may edit or delete: shared ones only if they are ours."""
        query = Client.select() if query is None else query
        return query if self.sees_all else query.where(self._owner_condition(Client.owner))

    def may_change(self, owner: User) -> bool:
        """Whether clients owned by `owner` may be edited or deleted by this user."""
        return self.covers(owner.id, owner.profile_id)

    def client_or_none(self, client_id: object, *, to_change: bool = False) -> Client | None:
        """The client if this user may see it (or change it); None otherwise."""
        key = parse_id(client_id)
        if key is None:
            return None
        query = self.changeable() if to_change else self.clients()
        return query.where(Client.id == key).first()

    def contacts(self) -> pw.SelectQuery:
        return self.clients(Contact.select().join(Client))

    def activities(self) -> pw.SelectQuery:
        return self.clients(Activity.select().join(Client))

    def tasks(self, query: pw.SelectQuery | None = None) -> pw.SelectQuery:
        """Tasks assigned to this user or to anyone whose records the scope covers.

        An assistant owns no clients but still has their own tasks to do.
        """
        query = Task.select() if query is None else query
        if self.sees_all:
            return query
        return query.where(self._owner_condition(Task.assignee) | (Task.assignee == self.user.id))

    def task_or_none(self, task_id: object) -> Task | None:
        key = parse_id(task_id)
        return None if key is None else self.tasks().where(Task.id == key).first()

    def opportunities(self, query: pw.SelectQuery | None = None) -> pw.SelectQuery:
        """Opportunities whose owner the scope covers."""
        query = Opportunity.select() if query is None else query
        return query if self.sees_all else query.where(self._owner_condition(Opportunity.owner))

    def opportunity_or_none(self, opportunity_id: object) -> Opportunity | None:
        """The opportunity if this user may see and change it; None otherwise."""
        key = parse_id(opportunity_id)
        if key is None:
            return None
        return self.opportunities().where(Opportunity.id == key).first()

    def users(self) -> pw.SelectQuery:
        """Active users whose records this scope covers."""
        query = User.select().where(User.is_active == True)  # noqa: E712
        if self.sees_all:
            return query
        return query.where(self._owner_condition(User.id))

    def may_own(self) -> pw.SelectQuery:
        """Users this user may give a client to: visible users who are not assistants."""
        assistants = Profile.select(Profile.id).where(Profile.is_assistant == True)  # noqa: E712
        return self.users().where(User.profile.not_in(assistants))


# -- conditions and statements ---------------------------------------------------
# Written once for both uses: with the ids themselves, or with slots for a
# statement compiled once per shape (portal/statements.py).


def owner_condition(owner_field: pw.Field, rule: str, ids: Sequence) -> pw.Expression:
    """Owners allowed by an `owner_rule`; `ids` are the ids or slots standing for them."""
    if rule == "all":
        return pw.SQL("1 = 1")
    if rule == "not_in":
        # Nobody left out means every owner is in.
        return owner_field.not_in(ids) if ids else pw.SQL("1 = 1")
    return owner_field.in_(ids) if ids else owner_field == 0


def client_condition(rule: str, ids: Sequence) -> pw.Expression | None:
    """WHERE condition on `Client` for an `owner_rule`; None means every client."""
    if rule == "all":
        return None
    return owner_condition(Client.owner, rule, ids) | (Client.visible_to_all == True)  # noqa: E712


@compiled
def _tree_statement() -> pw.SelectBase:
    # A count per profile through the user table's profile index: half what a
    # LEFT JOIN with GROUP BY takes in SQLite, and every page runs it.
    users = User.select(pw.fn.COUNT(pw.SQL("*"))).where(User.profile == Profile.id)
    columns = (Profile.id, Profile.parent, Profile.kind, Profile.is_assistant)
    return Profile.select(*columns, users.alias("users"))


@compiled
def _people_statement(rule: str, near: int, profiles: int) -> pw.SelectBase:
    me = User.id == Slot("me")
    nearest = User.profile.in_(slots("near", near))
    if rule == "all":
        wanted = nearest | me
    elif rule == "wide":
        wanted = User.profile.not_in(slots("profiles", profiles)) | nearest | me
    else:
        wanted = User.profile.in_(slots("profiles", profiles)) | me
    columns = (User.id, User.name, User.profile, User.is_active)
    return User.select(*columns).where(wanted).order_by(User.name, User.id)
