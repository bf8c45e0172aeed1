"""Server-side sessions: revocable, rotated at login, looked up in one query."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import peewee as pw

from portal.core.models import Profile, User, UserSession
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
    """The active user behind a cookie token, with the profile joined."""
    if not token:
        return None
    now = utcnow()
    found = _session_statement().models(token_hash=_hash(token), now=now)
    if not found:
        return None
    row = found[0]
    if now - row.last_seen_at > TOUCH_EVERY:
        (
            UserSession.update(last_seen_at=now)
            .where(UserSession.token_hash == row.token_hash)
            .execute()
        )
    return row.user


@compiled
def _session_statement() -> pw.SelectBase:
    # Every request runs this; its SQL is built once (portal/statements.py).
    return (
        UserSession.select(UserSession, User, Profile)
        .join(User)
        .join(Profile)
        .where(
            UserSession.token_hash == Slot("token_hash"),
            UserSession.expires_at > Slot("now"),
            User.is_active == True,  # noqa: E712
        )
        .limit(1)
    )


def end_session(token: str) -> None:
    if token:
        UserSession.delete().where(UserSession.token_hash == _hash(token)).execute()


def end_all_sessions(user_id: int) -> int:
    """Revoke every session of a user (deactivation, password change)."""
    return UserSession.delete().where(UserSession.user == user_id).execute()
