"""Checking credentials, with throttling that treats unknown emails like known ones."""

from __future__ import annotations

from datetime import timedelta

from portal.core.models import LoginFailure, Profile, User
from portal.core.passwords import hash_password, needs_rehash, verify_password
from portal.database import utcnow
from portal.text import clean

WINDOW = timedelta(minutes=15)
# Per email and address, so a stranger elsewhere cannot lock a user out for long;
# the looser per-email cap still stops a password spray from many addresses.
MAX_PER_EMAIL_AND_ADDRESS = 5
MAX_PER_EMAIL = 50
MAX_PER_ADDRESS = 30


def normalise_email(email: str) -> str:
    return clean(email).lower()


def is_throttled(email: str, ip: str) -> bool:
    since = utcnow() - WINDOW
    recent = LoginFailure.select().where(LoginFailure.at > since)
    rows = list(
        recent.select(LoginFailure.email, LoginFailure.ip)
        .where((LoginFailure.email == normalise_email(email)) | (LoginFailure.ip == ip))
        .tuples()
    )
    by_email = sum(1 for row_email, _ip in rows if row_email == normalise_email(email))
    by_address = sum(1 for _email, row_ip in rows if row_ip == ip)
    by_both = sum(1 for row in rows if row == (normalise_email(email), ip))
    return (
        by_both >= MAX_PER_EMAIL_AND_ADDRESS
        or by_email >= MAX_PER_EMAIL
        or by_address >= MAX_PER_ADDRESS
    )


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


def clear_failures(email: str, ip: str) -> None:
    """Forget this address's failures for the email; other addresses stay throttled."""
    (
        LoginFailure.delete()
        .where(LoginFailure.email == normalise_email(email), LoginFailure.ip == ip)
        .execute()
    )
