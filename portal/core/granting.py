"""Changing what a profile holds, within what the person changing it holds.

Nobody grants a key they do not hold, or a limit above their own; a non-admin
changes only profiles strictly below their own (so never their own profile).
A tab is saved whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from portal.core import audit
from portal.core.models import Profile, Tag, User
from portal.core.permissions import Grants, Permission, Registry, read_grants, write_grants
from portal.core.restrictions import TAG_KEY
from portal.database import db
from portal.i18n import N_
from portal.i18n import gettext as _

TAGS_GROUP = "clients.tags"
ASSISTANTS_REFUSED = N_("Assistant profiles cannot hold this permission.")


def offered_to(permission: Permission, profile: Profile) -> bool:
    """Whether the profile may hold the key: some keys mean nothing to an assistant."""
    return permission.assistants or not profile.is_assistant


def tab_rows(registry: Registry, tab: str) -> list[tuple[Permission, int]]:
    """The keys a tab shows in tree order; the clients tab lists one key per tag."""
    rows = registry.in_tab(tab)
    if tab == "clients":
        tags = list(Tag.select().order_by(Tag.name))
        if tags:
            group = Permission(TAGS_GROUP, N_("Tags it may assign or remove"), tab)
            rows.append((group, 0))
            rows += [
                (Permission(TAG_KEY.format(tag.id), tag.name, tab, parent=TAGS_GROUP), 1)
                for tag in tags
            ]
    return rows


@dataclass
class TabChange:
    held: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    granted: dict[str, str] = field(default_factory=dict)
    revoked: dict[str, str] = field(default_factory=dict)
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)


def plan_tab(
    profile: Profile,
    rows: list[tuple[Permission, int]],
    posted: dict[str, str],
    editor: Grants,
) -> TabChange:
    """What saving the posted tab would hold, or why it may not.

    A key the editor does not hold is not offered: when it is absent from the
    form it keeps its value, and when it is sent with a change it is refused.
    A key not for assistants is refused for an assistant profile; one stored
    before the profile became an assistant goes (the matrix shows it unticked)
    when the editor holds it.
    """
    before = read_grants(profile)
    after = dict(before)
    plan = TabChange(held=after)
    keys = {permission.key: permission for permission, _depth in rows}
    for key, permission in keys.items():
        if key == TAGS_GROUP:
            continue
        wanted = posted.get(f"grant:{key}") == "on"
        if not offered_to(permission, profile):
            if wanted:
                plan.errors[key] = _(ASSISTANTS_REFUSED)
            elif editor.has(key):
                after.pop(key, None)
            continue
        value = ""
        if permission.limit and wanted:
            value, message = _limit(posted.get(f"limit:{key}", ""), editor.limit(key))
            if message:
                plan.errors[key] = message
        offered = editor.has(key)
        if not offered:
            if f"grant:{key}" in posted and not (wanted and key in before):
                plan.errors[key] = _("You cannot grant or remove a permission you do not hold.")
            continue
        if wanted:
            after[key] = value
        else:
            after.pop(key, None)

    # A newly ticked entry brings the entries above it (bottom-up); an entry
    # whose parent is left unticked goes with it (top-down).
    ordered = sorted(keys.values(), key=lambda permission: _depth_of(permission, keys))
    for permission in reversed(ordered):
        parent = permission.parent
        if (
            permission.key in after
            and parent in keys
            and parent != TAGS_GROUP
            and parent not in after
            and parent not in before
            and editor.has(parent)
        ):
            after[parent] = ""
    for permission in ordered:
        parent = permission.parent
        if parent in keys and parent != TAGS_GROUP and parent not in after:
            if permission.key in after and not editor.has(permission.key):
                # Taking the entry above would take a key the editor may not touch.
                plan.errors[parent] = _(
                    "Removing this would also remove “%(entry)s”, which you cannot change.",
                    entry=_(permission.label),
                )
            after.pop(permission.key, None)

    for key in keys:
        if key in after and key not in before:
            plan.granted[key] = after[key]
        elif key in before and key not in after:
            plan.revoked[key] = before[key]
        elif key in after and after[key] != before[key]:
            plan.changed[key] = (before[key], after[key])
    return plan


def _depth_of(permission: Permission, keys: dict[str, Permission]) -> int:
    depth, parent = 0, permission.parent
    while parent in keys:
        depth, parent = depth + 1, keys[parent].parent
    return depth


def _limit(text: str, ceiling: Decimal | None) -> tuple[str, str]:
    """A posted limit as stored text, or a message."""
    text = text.strip().replace(",", ".").removesuffix("%").strip()
    try:
        value = Decimal(text or "0")
    except InvalidOperation:
        return "", _("A percentage between 0 and 100.")
    if not value.is_finite() or not 0 <= value <= 100:
        return "", _("A percentage between 0 and 100.")
    if ceiling is not None and value > ceiling:
        return "", _("At most %(n)s %%: you cannot grant more than you hold.", n=ceiling)
    return format(value.normalize(), "f"), ""


def save_tab(profile: Profile, plan: TabChange, actor: User, ip: str) -> None:
    """Store the plan and audit each key it grants, revokes or changes."""
    with db.atomic():
        write_grants(profile, plan.held)
        Profile.update(grants=profile.grants).where(Profile.id == profile.id).execute()
        for key, value in plan.granted.items():
            audit.record(
                "profiles.permission.granted",
                actor=actor,
                target=profile,
                before={},
                after={key: value},
                ip=ip,
            )
        for key, value in plan.revoked.items():
            audit.record(
                "profiles.permission.revoked",
                actor=actor,
                target=profile,
                before={key: value},
                after={},
                ip=ip,
            )
        for key, (old, new) in plan.changed.items():
            audit.record(
                "profiles.permission.changed",
                actor=actor,
                target=profile,
                before={key: old},
                after={key: new},
                ip=ip,
            )
