"""Checking credentials, with throttling that treats unknown emails like known ones."""

from __future__ import annotations

from datetime import timedelta

from portal.core.models import LoginFailure, Profile, User
from portal.core.passwords import hash_password, needs_rehash, verify_password
from portal.database import utcnow
from portal.text import clean

WINDOW = timedelta(minutes=15)
MAX_PER_EMAIL = 5
MAX_PER_ADDRESS = 30


def normalise_email(email: str) -> str:
    return clean(email).lower()


def is_throttled(email: str, ip: str) -> bool:
    since = utcnow() - WINDOW
    recent = LoginFailure.select().where(LoginFailure.at > since)
    by_email = recent.where(LoginFailure.email == normalise_email(email)).count()
    by_address = recent.where(LoginFailure.ip == ip).count()
    return by_email >= MAX_PER_EMAIL or by_address >= MAX_PER_ADDRESS


def authenticate(email: str, password: str, ip: str) -> User | None:
    """The user for these credentials, or None after recording the failure."""
    email = normalise_email(email)
    user = (
        User.select(User, Profile)
        .join(Profile)
        .where(User.email == email, User.is_active == True)  # noqa: E712
        .first()
    )
    # An unknown email still costs one Argon2 verification, so timing tells nothing.
    if verify_password(user.password_hash if user else "", password) and user:
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            user.save(only=[User.password_hash])
        return user
    LoginFailure.create(email=email[:254], ip=ip[:45])
    return None


def clear_failures(email: str) -> None:
    LoginFailure.delete().where(LoginFailure.email == normalise_email(email)).execute()
