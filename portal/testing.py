"""Helpers for testing a plugin against a real portal on a throw-away database.

A plugin's own test suite (see docs/plugins.md) builds the app with only the
plugins it names, so whatever else is installed stays out of the way:

    with portal_client(tmp_path, {"loyalty": plugin}) as http:
        rep = make_user("rep@example.com", "menu.loyalty")
        log_in(http, rep.email)
        assert http.get("/loyalty").status_code == 200

Needs the `test` extra (Starlette's test client).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from portal.config import Settings
from portal.core.models import Profile, User
from portal.core.permissions import read_grants, write_grants

if TYPE_CHECKING:
    from starlette.testclient import TestClient

PASSWORD = "a password for tests"


def settings_in(folder: Path, **changes: object) -> Settings:
    """Settings for a portal in `folder`: SQLite, jobs run at once, a fixed key."""
    values: dict[str, object] = {
        "data_dir": folder / "data",
        "database_url": f"sqlite:///{folder / 'cartera.db'}",
        "secret_key": "a secret key for tests",
        "immediate_jobs": True,
        **changes,
    }
    return Settings(**values)  # type: ignore[arg-type]


@contextlib.contextmanager
def portal_client(
    folder: Path, plugins: dict[str, object], **settings: object
) -> Iterator[TestClient]:
    """A test client of the app with `plugins` ({name: plugin}) registered.

    Besides them, only the plugins bundled with Cartera are loaded, never other
    installed packages; a misspelt hook is refused as at start-up. The
    database is migrated with the core's migrations and every plugin's, as
    `cartera migrate` would; it is closed when the block ends.
    """
    from starlette.testclient import TestClient

    from portal.app import create_app
    from portal.database import db
    from portal.migrations import migrate
    from portal.plugins import build_manager, collect

    config = settings_in(folder, **settings)
    manager = build_manager(config, load_installed=False)
    for name, plugin in plugins.items():
        manager.register(plugin, name=name)
    application = create_app(config, plugins=manager)
    migrate(db.obj, collect(manager.hook.register_migrations))
    try:
        with TestClient(application, base_url="http://testserver") as client:
            yield client
    finally:
        db.close()


def make_user(
    email: str,
    *keys: str,
    profile: Profile | None = None,
    language: str = "en",
    **extra: object,
) -> User:
    """A user in `profile` (a new one named after the email when not given).

    `keys` are permission keys added to the profile.
    """
    from portal.core import people

    profile = profile or Profile.create(name=f"Profile of {email}")
    if keys:
        grant(profile, *keys)
    name = email.split("@")[0].title()
    return people.create_user(email, name, PASSWORD, profile, language=language, **extra)


def grant(profile: Profile, *keys: str) -> Profile:
    """Add permission keys to a profile."""
    held = read_grants(profile)
    held.update(dict.fromkeys(keys, ""))
    write_grants(profile, held)
    profile.save()
    return profile


def csrf_token(client: TestClient, path: str = "/") -> str:
    """The CSRF token a page carries for the client's session."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    if match is None:
        raise AssertionError(f"{path} has no CSRF token")
    return match.group(1)


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> TestClient:
    answer = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(client, "/login")},
        follow_redirects=False,
    )
    if answer.status_code != 303:
        raise AssertionError(f"log-in of {email} refused: {answer.status_code}")
    return client
