"""Profiles and users as the administrator edits them."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from zoneinfo import available_timezones

import peewee as pw

from portal.config import LANGUAGES
from portal.core import audit, fields, sessions, tokens
from portal.core.clients import convert
from portal.core.models import PROFILE_KINDS, AssignmentRuleUser, Profile, User, WebForm
from portal.core.passwords import MIN_LENGTH, hash_password
from portal.core.permissions import Grants, read_grants
from portal.core.visibility import ProfileTree, Scope
from portal.database import db
from portal.i18n import gettext as _
from portal.i18n import ngettext
from portal.text import clean, parse_id

ZONES = frozenset(available_timezones())
# Argon2 takes any length; this only keeps a pasted novel out of the hasher.
PASSWORD_MAX = 1000


def validate_profile(raw: dict[str, str], profile: Profile | None) -> tuple[dict, dict]:
    values: dict = {"name": clean(raw.get("name", ""))}
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = _("The name is required.")
    elif len(values["name"]) > 100:
        errors["name"] = _("At most %(n)s characters.", n=100)
    else:
        clash = Profile.select().where(Profile.name == values["name"])
        if profile is not None:
            clash = clash.where(Profile.id != profile.id)
        if clash.exists():
            errors["name"] = _("Another profile already has this name.")
    values["kind"] = raw.get("kind", "")
    if values["kind"] not in PROFILE_KINDS:
        errors["kind"] = _("Choose one of the options.")
    values["is_assistant"] = raw.get("is_assistant") == "on"

    parent_id = raw.get("parent", "")
    values["parent"] = None
    if parent_id:
        key = parse_id(parent_id)
        parent = Profile.get_or_none(Profile.id == key) if key is not None else None
        if parent is None:
            errors["parent"] = _("Choose one of the options.")
        elif profile is not None and ProfileTree.load().would_cycle(profile.id, parent.id):
            errors["parent"] = _("A profile cannot depend on itself or on a profile below it.")
        values["parent"] = parent
    if values["is_assistant"] and values["parent"] is None and "parent" not in errors:
        errors["parent"] = _("An assistant must depend on the profile it serves.")
    if values["is_assistant"] and profile is not None and not profile.is_assistant:
        problem = fallback_problem(User.select().where(User.profile == profile.id))
        if problem:
            errors["is_assistant"] = problem
    return values, errors


def validate_user(
    raw: dict[str, str], user: User | None, *, invite: bool = False
) -> tuple[dict, dict]:
    """Check a posted user form; an invitation carries no password.

    Whether the account is active is not a form field: deactivating asks for a
    successor (portal/core/leavers.py).
    """
    values: dict = {"name": clean(raw.get("name", ""))}
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = _("The name is required.")
    elif len(values["name"]) > 150:
        errors["name"] = _("At most %(n)s characters.", n=150)
    convert(raw, values, errors, "email", fields.normalise_email)
    if not values.get("email") and "email" not in errors:
        errors["email"] = _("The email is required.")
    elif values.get("email"):
        clash = User.select().where(User.email == values["email"])
        if user is not None:
            clash = clash.where(User.id != user.id)
        if clash.exists():
            errors["email"] = _("Another user already has this email.")
    profile_id = raw.get("profile", "")
    values["profile"] = (
        Profile.get_or_none(Profile.id == parse_id(profile_id))
        if parse_id(profile_id) is not None
        else None
    )
    if values["profile"] is None:
        errors["profile"] = _("Choose one of the options.")
    elif user is not None and values["profile"].id != user.profile_id:
        problem = _assistant_problem(user, values["profile"])
        if problem:
            errors["profile"] = problem
    values["language"] = raw.get("language", "")
    if values["language"] not in ("", *LANGUAGES):
        errors["language"] = _("Choose one of the options.")
    values["time_zone"] = raw.get("time_zone", "")
    if values["time_zone"] and values["time_zone"] not in ZONES:
        errors["time_zone"] = _("Not a known time zone.")
    values["is_admin"] = raw.get("is_admin") == "on"
    values["password"] = "" if invite else raw.get("password", "")
    if values["password"]:
        errors.update(password_problems(values["password"], "password"))
    elif user is None and not invite:
        errors["password"] = _("Set a first password.")
    return values, errors


def _assistant_problem(user: User, profile: Profile) -> str:
    """Why `user` may not move onto `profile`: assistants cannot be a form's fallback."""
    if not profile.is_assistant:
        return ""
    return fallback_problem(User.select().where(User.id == user.id))


def fallback_problem(people: pw.SelectQuery) -> str:
    """Which of `people` are a web form's fallback owner, and must not become assistants.

    A web form gives the leads no rule places to its fallback owner, and an
    assistant owns no clients: every such lead would fail until someone noticed.
    """
    forms: dict[str, list[str]] = {}
    rows = (
        WebForm.select(WebForm.name, User.name)
        .join(User, on=(WebForm.fallback_owner == User.id))
        .where(WebForm.fallback_owner.in_(people.select(User.id)))
        .order_by(User.name, User.id, WebForm.name, WebForm.id)
        .tuples()
    )
    for form_name, owner_name in rows:
        forms.setdefault(owner_name, []).append(form_name)
    return " ".join(
        ngettext(
            "%(name)s is the fallback owner of the web form %(forms)s: choose another "
            "fallback owner for it first.",
            "%(name)s is the fallback owner of the web forms %(forms)s: choose another "
            "fallback owner for them first.",
            len(names),
            name=owner,
            forms=", ".join(f"“{name}”" for name in names),
        )
        for owner, names in forms.items()
    )


def password_problems(password: str, name: str) -> dict[str, str]:
    """The message for a password that breaks the length rules, keyed by field."""
    if len(password) < MIN_LENGTH:
        return {name: _("At least %(n)s characters.", n=MIN_LENGTH)}
    if len(password) > PASSWORD_MAX:
        return {name: _("At most %(n)s characters.", n=PASSWORD_MAX)}
    return {}


def save_user(user: User | None, values: dict) -> User:
    """Create or update; a new password or deactivation ends the user's sessions."""
    password = values.pop("password")
    old_email = user.email if user is not None else None
    with db.atomic():
        if user is None:
            user = User(**values)
        else:
            for name, value in values.items():
                setattr(user, name, value)
        if password:
            user.password_hash = hash_password(password)
        user.save()
        if user.id and (password or not user.is_active):
            sessions.end_all_sessions(user.id)
        if user.id and (password or not user.is_active or user.email != old_email):
            # A link sent earlier must not overwrite the password just chosen,
            # nor keep working from an address the account no longer has.
            tokens.revoke_all(user.id)
    return user


def create_user(email: str, name: str, password: str, profile: Profile, **extra: object) -> User:
    values = {
        "email": email.strip().lower(),
        "name": name,
        "profile": profile,
        "password": password,
    }
    return save_user(None, {**values, **extra})


# ------------------------------------------------- delegated administration


class Reach:
    """Whose accounts someone holding `menu.admin.users` may administer.

    Administrators reach everyone and may give any profile. Anyone else reaches
    only the people whose profile lies strictly below their own, never an
    administrator (whose email they could otherwise redirect to take the account
    over), and may give only those profiles; they never make administrators.
    A profile holding a permission the actor lacks (or a higher limit) is out of
    reach too: whoever may set an account's email may end up signing in as it.
    """

    def __init__(self, actor: User, tree: ProfileTree | None = None) -> None:
        tree = tree or ProfileTree.load()
        self.actor = actor
        self.full = bool(actor.is_admin)
        if self.full:
            self.profiles = set(tree.parent)
        else:
            below = tree.below(actor.profile_id)
            held = Grants.of(actor)
            candidates = Profile.select(Profile.id, Profile.grants).where(
                Profile.id.in_(below or {0})
            )
            self.profiles = {p.id for p in candidates if _within(read_grants(p), held)}

    def covers(self, user: User) -> bool:
        return self.full or (user.profile_id in self.profiles and not user.is_admin)

    def users(self) -> pw.SelectQuery:
        query = User.select(User, Profile).join(Profile)
        if self.full:
            return query
        return query.where(
            User.profile.in_(self.profiles or {0}),
            User.is_admin == False,  # noqa: E712
        )

    def user_or_none(self, user_id: object) -> User | None:
        key = parse_id(user_id)
        return None if key is None else self.users().where(User.id == key).first()

    def check(self, raw: dict[str, str], values: dict, errors: dict, edited: User | None) -> None:
        """Refuse, at the field, a profile or an administrator flag not offered."""
        profile = values.get("profile")
        if profile is not None and profile.id not in self.profiles:
            errors["profile"] = _("You may only give a profile below your own.")
        if not self.full:
            if raw.get("is_admin") == "on":
                errors["is_admin"] = _("Only an administrator can make someone an administrator.")
            values["is_admin"] = False
        elif edited is not None and edited.id == self.actor.id:
            # Nobody demotes themselves: the portal always keeps this administrator.
            values["is_admin"] = True

    def successors(self, leaver: User) -> pw.SelectQuery:
        """Who may take over a leaver's clients: active people who may own clients."""
        if self.full:
            assistants = (
                Profile.select(Profile.id).where(Profile.is_assistant == True)  # noqa: E712
            )
            query = User.select().where(
                User.is_active == True,  # noqa: E712
                User.profile.not_in(assistants),
            )
        else:
            query = Scope.for_user(self.actor).may_own()
        return query.where(User.id != leaver.id).order_by(User.name, User.id)


def _within(held: dict[str, str], grants: Grants) -> bool:
    """Whether `grants` covers every key of `held`, limits included."""
    for key, value in held.items():
        if not grants.has(key):
            return False
        if value:
            ceiling = grants.limit(key)
            try:
                if ceiling is None or Decimal(value) > ceiling:
                    return False
            except InvalidOperation:
                return False
    return True


# What `users.updated` compares; the password hash never enters the log.
AUDITED_FIELDS = ("name", "email", "language", "time_zone", "is_admin")


def _snapshot(user: User) -> dict:
    return {name: getattr(user, name) for name in AUDITED_FIELDS}


def create_audited(values: dict, *, actor: User, ip: str) -> User:
    """Create a user and record `users.created`, in one transaction."""
    with db.atomic():
        user = save_user(None, dict(values))
        after = {**_snapshot(user), "profile": user.profile_id}
        audit.record("users.created", actor=actor, target=user, after=after, ip=ip)
    return user


def update_audited(user: User, values: dict, *, actor: User, ip: str) -> User:
    """Save the form, recording what changed (`users.updated`, `users.profile.changed`)."""
    before, old_profile = _snapshot(user), user.profile_id
    password_set = bool(values.get("password"))
    with db.atomic():
        save_user(user, dict(values))
        old, new = audit.changes(before, _snapshot(user))
        if new:
            audit.record("users.updated", actor=actor, target=user, before=old, after=new, ip=ip)
        if user.profile_id != old_profile:
            after: dict = {"profile": user.profile_id}
            if Profile.get_by_id(user.profile_id).is_assistant:
                # Assistants receive no leads: the rules' turns skip them anyway,
                # and a rule left with nobody hands its leads to the form's fallback.
                after["lead_rules_left"] = (
                    AssignmentRuleUser.delete().where(AssignmentRuleUser.user == user.id).execute()
                )
            audit.record(
                "users.profile.changed",
                actor=actor,
                target=user,
                before={"profile": old_profile},
                after=after,
                ip=ip,
            )
        if password_set:
            audit.record("users.password.changed", actor=actor, target=user, ip=ip)
    return user
