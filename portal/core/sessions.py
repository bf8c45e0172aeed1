"""Server-side sessions: revocable, rotated at login, looked up in one query."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from portal.core.models import Profile, User, UserSession
from portal.database import utcnow

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
    row = (
        UserSession.select(UserSession, User, Profile)
        .join(User)
        .join(Profile)
        .where(
            UserSession.token_hash == _hash(token),
            UserSession.expires_at > now,
            User.is_active == True,  # noqa: E712
        )
        .first()
    )
    if row is None:
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        (
            UserSession.update(last_seen_at=now)
            .where(UserSession.token_hash == row.token_hash)
            .execute()
        )
    return row.user


def end_session(token: str) -> None:
    if token:
        UserSession.delete().where(UserSession.token_hash == _hash(token)).execute()


def end_all_sessions(user_id: int) -> int:
    """Revoke every session of a user (deactivation, password change)."""
    return UserSession.delete().where(UserSession.user == user_id).execute()
