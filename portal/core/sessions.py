"""Server-side sessions: revocable, rotated at login, looked up in one query."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import peewee as pw

from portal.core.catalogue import STAMP_KEY
from portal.core.models import Notification, Profile, Setting, User, UserSession
from portal.database import utcnow
from portal.statements import Slot, compiled

LIFETIME = timedelta(days=14)
# Touch `last_seen_at` at most this often, so reading a page costs no write.
TOUCH_EVERY = timedelta(minutes=5)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User, *, ip: str, user_agent: str) -> str:
    """Create a session and return the token that goes in the cookie."""
    token = secrets.token_urlsafe(32)
    UserSession.create(
        token_hash=_hash(token),
        user=user,
        expires_at=utcnow() + LIFETIME,
        ip=ip[:45],
        user_agent=user_agent[:255],
    )
    return token


def load_user(token: str) -> User | None:
    """The active user behind a cookie token, with the profile joined.

    The same row counts the user's unread notifications, which the header of
    every page shows: `unread_notifications` on the returned user; and carries
    the stamp of the tags, zones and saved views (portal/core/catalogue.py):
    `catalogue_stamp`.
    """
    if not token:
        return None
    now = utcnow()
    token_hash = _hash(token)
    found = _session_statement().tuples(token_hash=token_hash, now=now)
    if not found:
        return None
    last_seen_at, unread, stamp, *values = found[0]
    if now - last_seen_at > TOUCH_EVERY:
        (UserSession.update(last_seen_at=now).where(UserSession.token_hash == token_hash).execute())
    user = _user_with_profile(values)
    user.unread_notifications = unread
    user.catalogue_stamp = stamp
    return user


@compiled
def _session_statement() -> pw.SelectBase:
    # Every request runs this; its SQL is built once (portal/statements.py).
    unread = (
        Notification.select(pw.fn.COUNT(pw.SQL("*")))
        .where(Notification.user == User.id, Notification.read_at.is_null())
        .alias("unread")
    )
    stamp = Setting.select(Setting.value).where(Setting.key == STAMP_KEY).alias("stamp")
    return (
        UserSession.select(UserSession.last_seen_at, unread, stamp, User, Profile)
        .join(User)
        .join(Profile)
        .where(
            UserSession.token_hash == Slot("token_hash"),
            UserSession.expires_at > Slot("now"),
            User.is_active == True,  # noqa: E712
        )
        .limit(1)
    )


def _user_with_profile(values: list) -> User:
    """The User and its Profile from the row's columns, in the order they were selected."""
    # peewee's own row reader works out the join graph again on every query,
    # several times what the query itself costs. Like its rows, these compute
    # no defaults and start clean; the values go straight into `__data__`.
    user_fields = User._meta.sorted_field_names
    profile_fields = Profile._meta.sorted_field_names
    split = len(user_fields)
    user = User(__no_default__=True)
    user.__data__ = dict(zip(user_fields, values[:split], strict=True))
    profile = Profile(__no_default__=True)
    profile.__data__ = dict(zip(profile_fields, values[split:], strict=True))
    user.profile = profile
    user._dirty.clear()
    return user


def end_session(token: str) -> None:
    if token:
        UserSession.delete().where(UserSession.token_hash == _hash(token)).execute()


def end_all_sessions(user_id: int) -> int:
    """Revoke every session of a user (deactivation, password change)."""
    return UserSession.delete().where(UserSession.user == user_id).execute()
