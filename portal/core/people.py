"""Profiles and users as the administrator edits them."""

from __future__ import annotations

from zoneinfo import available_timezones

from portal.config import LANGUAGES
from portal.core import fields, sessions
from portal.core.clients import convert
from portal.core.models import PROFILE_KINDS, Profile, User
from portal.core.passwords import MIN_LENGTH, hash_password
from portal.core.visibility import ProfileTree
from portal.database import db
from portal.i18n import gettext as _
from portal.text import clean, parse_id

ZONES = frozenset(available_timezones())


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
    return values, errors


def validate_user(raw: dict[str, str], user: User | None) -> tuple[dict, dict]:
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
    values["language"] = raw.get("language", "")
    if values["language"] not in ("", *LANGUAGES):
        errors["language"] = _("Choose one of the options.")
    values["time_zone"] = raw.get("time_zone", "")
    if values["time_zone"] and values["time_zone"] not in ZONES:
        errors["time_zone"] = _("Not a known time zone.")
    values["is_active"] = raw.get("is_active") == "on"
    values["is_admin"] = raw.get("is_admin") == "on"
    password = raw.get("password", "")
    if password and len(password) < MIN_LENGTH:
        errors["password"] = _("At least %(n)s characters.", n=MIN_LENGTH)
    if user is None and not password:
        errors["password"] = _("Set a first password.")
    values["password"] = password
    return values, errors


def save_user(user: User | None, values: dict) -> User:
    """Create or update; a new password or deactivation ends the user's sessions."""
    password = values.pop("password")
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
    return user


def create_user(email: str, name: str, password: str, profile: Profile, **extra: object) -> User:
    values = {
        "email": email.strip().lower(),
        "name": name,
        "profile": profile,
        "password": password,
    }
    return save_user(None, {**values, **extra})
