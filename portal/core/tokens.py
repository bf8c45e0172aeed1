"""One-time links sent by email: invitations and password resets.

The link carries a random token; only its SHA-256 is stored (as for sessions),
so a copy of the database opens no account. A token works once, until it
expires, and only while its user is active. Issuing a new token of a purpose
voids the user's earlier unused ones of that purpose, and setting a password
voids every outstanding one.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from portal.core import sessions
from portal.core.models import Profile, User, UserToken
from portal.core.passwords import hash_password
from portal.database import db, utcnow

INVITE = "invite"
RESET = "reset"
LIFETIMES = {INVITE: timedelta(days=7), RESET: timedelta(hours=1)}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(user: User, purpose: str) -> str:
    """A new token for `user`; earlier unused ones of this purpose stop working."""
    token = secrets.token_urlsafe(32)
    with db.atomic():
        (
            UserToken.delete()
            .where(
                UserToken.user == user.id,
                UserToken.purpose == purpose,
                UserToken.used_at.is_null(),
            )
            .execute()
        )
        UserToken.create(
            token_hash=_hash(token),
            user=user.id,
            purpose=purpose,
            expires_at=utcnow() + LIFETIMES[purpose],
        )
    return token


def find(token: str) -> UserToken | None:
    """The unused, unexpired token of an active user, with user and profile joined."""
    # Tokens we issue are 43 characters; anything far longer is not worth hashing.
    if not token or len(token) > 100:
        return None
    return (
        UserToken.select(UserToken, User, Profile)
        .join(User)
        .join(Profile)
        .where(
            UserToken.token_hash == _hash(token),
            UserToken.used_at.is_null(),
            UserToken.expires_at > utcnow(),
            User.is_active == True,  # noqa: E712
        )
        .first()
    )


def redeem(token: str, password: str) -> UserToken | None:
    """Set the password through a token and end the user's sessions.

    Returns the spent token, or None (and changes nothing) when the token is
    unknown, used, expired or its user inactive. Call inside a transaction.
    """
    found = find(token)
    if found is None:
        return None
    now = utcnow()
    # The condition on `used_at` makes a second, simultaneous use of the same
    # link change no row, so only one of them sets a password.
    spent = (
        UserToken.update(used_at=now)
        .where(UserToken.token_hash == found.token_hash, UserToken.used_at.is_null())
        .execute()
    )
    if not spent:
        return None
    User.update(password_hash=hash_password(password)).where(User.id == found.user_id).execute()
    revoke_all(found.user_id)
    sessions.end_all_sessions(found.user_id)
    return found


def revoke_all(user_id: int) -> int:
    """Void every unused token of a user (password set, deactivation)."""
    return (
        UserToken.delete().where(UserToken.user == user_id, UserToken.used_at.is_null()).execute()
    )


def pending_invitation(user: User) -> bool:
    """Whether the user was invited and has not chosen a password yet."""
    return user.is_active and not user.password_hash
