"""Administering the profile tree: who may change which profile, saving with an
audit trail, refusing removals that something depends on, the tree and the export.

Administrators change any profile. Anyone else holding the Profiles menu changes
only the profiles strictly below their own, places profiles only under their own
or one below it, and cannot make a profile structural (a structural profile sees
every client, more than any hierarchical manager).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import peewee as pw

from portal.core import audit, granting
from portal.core.models import BASELINE_GRANTS, AssignmentRuleUser, Profile, User
from portal.core.permissions import Grants, Registry, read_grants, write_grants
from portal.core.visibility import ProfileTree
from portal.database import db
from portal.i18n import N_, format_number, format_percent
from portal.i18n import gettext as _


@dataclass(frozen=True)
class Reach:
    """Which profiles an editor may change, and under which they may place one."""

    everything: bool
    own: int | None
    below: frozenset[int]

    @classmethod
    def of(cls, user: User, tree: ProfileTree | None = None) -> Reach:
        if user.is_admin:
            return cls(True, user.profile_id, frozenset())
        tree = tree or ProfileTree.load()
        return cls(False, user.profile_id, frozenset(tree.below(user.profile_id)))

    def may_change(self, profile_id: int) -> bool:
        return self.everything or profile_id in self.below

    def may_place_under(self, parent_id: int | None) -> bool:
        if self.everything:
            return True
        return parent_id is not None and (parent_id == self.own or parent_id in self.below)


def check_reach(
    reach: Reach, values: dict[str, Any], errors: dict[str, str], current: Profile | None
) -> None:
    """Add a message at each field that asks for more than the editor may do."""
    if reach.everything:
        return
    parent = values.get("parent")
    if "parent" not in errors and not reach.may_place_under(parent.id if parent else None):
        errors["parent"] = _("Choose your own profile or one below it.")
    becomes_structural = values.get("kind") == "structural" and (
        current is None or current.kind != "structural"
    )
    if "kind" not in errors and becomes_structural:
        errors["kind"] = _("Only an administrator can make a profile structural.")


def snapshot(profile: Profile) -> dict[str, Any]:
    """The values the audit log keeps for a profile."""
    parent = Profile.get_or_none(Profile.id == profile.parent_id) if profile.parent_id else None
    return {
        "name": profile.name,
        "kind": profile.kind,
        "parent": profile.parent_id,
        "parent_name": parent.name if parent else "",
        "is_assistant": profile.is_assistant,
    }


def create_profile(values: dict[str, Any], actor: User, ip: str = "") -> Profile:
    """Create and audit; a non-administrator hands on only the baseline keys they hold."""
    with db.atomic():
        profile = Profile(**values)
        if not actor.is_admin:
            creator = Grants.of(actor)
            baseline = read_grants(Profile(grants=BASELINE_GRANTS))
            write_grants(profile, {k: v for k, v in baseline.items() if creator.has(k)})
        profile.save()
        audit.record(
            "profiles.created", actor=actor, target=profile, after=snapshot(profile), ip=ip
        )
    return profile


def update_profile(profile: Profile, values: dict[str, Any], actor: User, ip: str = "") -> None:
    """Save the changed fields and audit them, both or neither."""
    with db.atomic():
        before = snapshot(profile)
        Profile.update(**values).where(Profile.id == profile.id).execute()
        after = snapshot(Profile.get_by_id(profile.id))
        if after["is_assistant"] and not before["is_assistant"]:
            # Its people now receive no leads: they leave the assignment rules, as
            # one moved onto an assistant profile does (people.update_audited).
            people = User.select(User.id).where(User.profile == profile.id)
            AssignmentRuleUser.delete().where(AssignmentRuleUser.user.in_(people)).execute()
        old, new = audit.changes(before, after)
        if old or new:
            audit.record(
                "profiles.updated",
                actor=actor,
                target=profile,
                label=after["name"],
                before=old,
                after=new,
                ip=ip,
            )


@dataclass
class Dependants:
    """What keeps a profile from being removed."""

    users: list[User]
    children: list[Profile]

    def __bool__(self) -> bool:
        return bool(self.users or self.children)


def dependants(profile: Profile) -> Dependants:
    users = User.select().where(User.profile == profile.id).order_by(User.name, User.id)
    children = Profile.select().where(Profile.parent == profile.id).order_by(Profile.name)
    return Dependants(list(users), list(children))


def delete_profile(profile: Profile, actor: User, ip: str = "") -> Dependants | None:
    """Remove the profile and audit it; what still depends on it means nothing changes."""
    try:
        with db.atomic():
            blocking = dependants(profile)
            if blocking:
                return blocking
            before = {**snapshot(profile), "grants": read_grants(profile)}
            audit.record("profiles.deleted", actor=actor, target=profile, before=before, ip=ip)
            Profile.delete().where(Profile.id == profile.id).execute()
    except pw.IntegrityError:
        # Something added in between (or a plugin's table) still points at it.
        return dependants(profile) or Dependants([], [])
    return None


# ------------------------------------------------------------------ reading


@dataclass
class Node:
    """One profile of the tree with its users and the profiles below it."""

    profile: Profile
    users: list[User] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)


def tree() -> list[Node]:
    """The whole tree, alphabetical at each level, in two queries."""
    nodes = {p.id: Node(p) for p in Profile.select().order_by(Profile.name, Profile.id)}
    people = User.select(User.id, User.name, User.email, User.is_active, User.profile)
    for person in people.order_by(User.name, User.id):
        nodes[person.profile_id].users.append(person)
    roots: list[Node] = []
    for node in nodes.values():
        parent = nodes.get(node.profile.parent_id) if node.profile.parent_id else None
        (parent.children if parent else roots).append(node)
    return roots


def limit_text(permission_limit: str, value: str) -> str:
    """'up to 15 %' for a key holding a maximum."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = Decimal(0)
    if permission_limit == "percent":
        # The language places the sign: "15%" in English, "15 %" in Spanish.
        return _("up to %(percent)s", percent=format_percent(number))
    return _("up to %(value)s", value=format_number(number))


def held_by_tab(registry: Registry, profile: Profile) -> list[tuple[str, list[tuple]]]:
    """Per tab (its label msgid): (label msgid, depth, limit text) of each key held."""
    held = read_grants(profile)
    summary = []
    for tab in registry.tabs:
        rows = [
            (p.label, depth, limit_text(p.limit, held[p.key]) if p.limit else "")
            for p, depth in granting.tab_rows(registry, tab.key)
            if p.key in held and granting.offered_to(p, profile)
        ]
        summary.append((tab.label, rows))
    return summary


EXPORT_HEADERS = (N_("Name"), N_("Kind"), N_("Depends on"), N_("Assistant"), N_("Users"))
KIND_LABELS = {"hierarchical": N_("Hierarchical"), "structural": N_("Structural")}


def export_table(registry: Registry) -> tuple[list[str], list[list[Any]]]:
    """Headers and one row per profile, in tree order, for the spreadsheet."""
    keys = [
        (p, tab)
        for tab in registry.tabs
        for p, _depth in granting.tab_rows(registry, tab.key)
        if p.key != granting.TAGS_GROUP
    ]
    headers = [_(h) for h in EXPORT_HEADERS]
    headers += [f"{_(tab.label)} › {_(p.label)}" for p, tab in keys]
    names = {p.id: p.name for p in Profile.select(Profile.id, Profile.name)}
    rows: list[list[Any]] = []

    def walk(nodes: list[Node]) -> None:
        for node in nodes:
            profile = node.profile
            held = read_grants(profile)
            row: list[Any] = [
                profile.name,
                _(KIND_LABELS.get(profile.kind, profile.kind)),
                names.get(profile.parent_id, ""),
                profile.is_assistant,
                len(node.users),
            ]
            row += [_cell(p.limit, held.get(p.key)) for p, _tab in keys]
            rows.append(row)
            walk(node.children)

    walk(tree())
    return headers, rows


def _cell(limit: str, value: str | None) -> Any:
    if value is None:
        return None
    if limit:
        try:
            return Decimal(value)
        except InvalidOperation:
            return Decimal(0)
    return "✓"
