"""“Forgot your password?”: throttled requests for a reset link.

Every request is recorded, for a known email or not, and the answer the visitor
sees never depends on either, so the form tells nobody which emails have an
account. The limits follow the login throttle (portal/core/login.py): per email,
so nobody floods a person's inbox, and per address, so nobody sprays guesses.
"""

from __future__ import annotations

from datetime import timedelta

from portal.core import tokens
from portal.core.models import ResetRequest, User
from portal.database import db, utcnow

WINDOW = timedelta(hours=1)
MAX_PER_EMAIL = 3
MAX_PER_ADDRESS = 20
# Rows older than this count for nothing and are removed as new ones arrive.
KEEP = timedelta(days=1)


def is_throttled(email: str, ip: str) -> bool:
    recent = ResetRequest.select().where(ResetRequest.at > utcnow() - WINDOW)
    return (
        recent.where(ResetRequest.email == email).count() >= MAX_PER_EMAIL
        or recent.where(ResetRequest.ip == ip).count() >= MAX_PER_ADDRESS
    )


def request_reset(email: str, ip: str) -> tuple[User, str] | None:
    """Record the request; the active user and a fresh token when a link should go out."""
    with db.atomic():
        throttled = is_throttled(email, ip)
        ResetRequest.delete().where(ResetRequest.at < utcnow() - KEEP).execute()
        ResetRequest.create(email=email[:254], ip=ip[:45])
        if throttled:
            return None
        user = User.get_or_none(User.email == email, User.is_active == True)  # noqa: E712
        if user is None:
            return None
        return user, tokens.issue(user, tokens.RESET)
