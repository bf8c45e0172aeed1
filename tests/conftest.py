"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when reachable)."""

from __future__ import annotations

import contextlib
import re
import socket
import uuid
from collections.abc import Iterator
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import peewee as pw
import pytest
from starlette.testclient import TestClient

from portal.app import create_app
from portal.config import Settings
from portal.core import people
from portal.core.models import Profile, User
from portal.core.permissions import read_grants, write_grants
from portal.database import db, open_database
from portal.migrations import migrate
from portal.plugins import build_manager, collect

PASSWORD = "correct horse battery"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _postgres_reachable() -> bool:
    try:
        probe = pw.PostgresqlDatabase("postgres", user="postgres", host="127.0.0.1", port=5432)
        probe.connect()
        probe.close()
        return True
    except Exception:  # any failure means there is no usable server here
        return False


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL database for the session, dropped at the end."""
    if not _postgres_reachable():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (user postgres)")
    name = f"cartera_test_{uuid.uuid4().hex[:12]}"
    admin = pw.PostgresqlDatabase("postgres", user="postgres", host="127.0.0.1", port=5432)
    admin.connect()
    admin.execute_sql(f'CREATE DATABASE "{name}"')
    admin.close()
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    admin.connect()
    admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cartera.db'}"
        return
    url = request.getfixturevalue("postgres_server")
    database = open_database(url)
    database.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    database.close()
    yield url


class Mailbox:
    """Messages a real local SMTP server received, parsed; `url` reaches the server.

    `refuse(address, reply)` makes the server answer RCPT for that address with
    `reply` ("550 …" for good, "451 …" for now), as a real server would.
    """

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self.refused: dict[str, str] = {}
        self.url = ""

    def refuse(self, address: str, reply: str = "550 5.1.1 No such user") -> None:
        self.refused[address.lower()] = reply

    def clear(self) -> None:
        self.messages.clear()
        self.envelopes.clear()
        self.refused.clear()

    # aiosmtpd calls its handlers by these exact names.
    async def handle_RCPT(  # noqa: N802
        self, server: object, session: object, envelope: Any, address: str, options: list
    ) -> str:
        if address.lower() in self.refused:
            return self.refused[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: object, session: object, envelope: Any
    ) -> str:
        parsed = BytesParser(policy=email_policy.default).parsebytes(envelope.content)
        self.messages.append(parsed)  # type: ignore[arg-type]
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[str, Mailbox]]:
    """An SMTP server on a free loopback port for the whole run."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    mailbox.url = f"smtp://127.0.0.1:{controller.port}?tls=off"
    yield mailbox.url, mailbox
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[str, Mailbox]) -> Mailbox:
    """The test's view of the SMTP server (`.messages`, `.url`, `.refuse`), emptied first."""
    smtp_server[1].clear()
    return smtp_server[1]


@pytest.fixture
def smtp_down(monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the outbox at a port where nothing listens: every attempt is refused."""
    from portal.core import outbox

    url = "smtp://127.0.0.1:1?tls=off"
    monkeypatch.setattr(outbox._config, "smtp_url", url)
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str, smtp_server: tuple[str, Mailbox]) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key",
        max_upload_bytes=2 * 1024 * 1024,
        smtp_url=smtp_server[0],
        immediate_jobs=True,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[object]:
    manager = build_manager(settings, load_installed=False)
    application = create_app(settings, plugins=manager)
    # As `cartera migrate` does: the bundled plugins' tables too.
    migrate(db.obj, collect(manager.hook.register_migrations))
    yield application
    db.close()


@pytest.fixture
def http(app: object) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as client:
        yield client


@contextlib.contextmanager
def client_with_plugin(settings: Settings, plugin: object, name: str) -> Iterator[TestClient]:
    """A test client of the app with one extra plugin registered under `name`."""
    manager = build_manager(settings, load_installed=False)
    manager.register(plugin, name=name)
    application = create_app(settings, plugins=manager)
    migrate(db.obj, collect(manager.hook.register_migrations))
    with TestClient(application, base_url="http://testserver") as client:
        yield client
    db.close()


def make_profile(name: str, parent: Profile | None = None, **extra: object) -> Profile:
    return Profile.create(name=name, parent=parent, **extra)


def grant(profile: Profile, *keys: str, **limits: str) -> Profile:
    """Add permission keys (and keys with a limit: `discount="15"`) to a profile."""
    held = read_grants(profile)
    held.update(dict.fromkeys(keys, ""))
    held.update({f"clients.{name}": value for name, value in limits.items()})
    write_grants(profile, held)
    profile.save()
    return profile


# Every content restriction on clients, for tests about something else.
CLIENT_KEYS = (
    "clients.visible_to_all",
    "clients.coordinates",
    "clients.supplier",
    "clients.fiscal_id_other",
)


def make_user(email: str, profile: Profile, **extra: object) -> User:
    return people.create_user(email, email.split("@")[0].title(), PASSWORD, profile, **extra)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> TestClient:
    token = csrf_from(client.get("/login").text)
    answer = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return client


def token(client: TestClient, path: str = "/") -> str:
    return csrf_from(client.get(path).text)


# Helpers added for the HTTP tests; imported here to keep the additions in one place.
import httpx2 as httpx  # noqa: E402


@pytest.fixture
def other_http(app: object) -> Iterator[TestClient]:
    """A second browser on the same app, with cookies (and a session) of its own."""
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def post_form(
    client: TestClient, path: str, data: dict[str, object] | None = None, **extra: Any
) -> httpx.Response:
    """POST a form with the session's CSRF token, without following the redirect."""
    fields = {"csrf_token": token(client), **{k: _text(v) for k, v in (data or {}).items()}}
    return client.post(path, data=fields, follow_redirects=False, **extra)


def _text(value: object) -> str | list[str]:
    """A form value as text; a list stays a list, for fields posted several times."""
    return [str(item) for item in value] if isinstance(value, list) else str(value)


@pytest.fixture
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap Argon2 settings: HTTP tests create and log in many users."""
    from argon2 import PasswordHasher

    from portal.core import passwords

    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@contextlib.contextmanager
def count_queries() -> Iterator[list[str]]:
    """Record every SQL statement the database runs inside the block."""
    seen: list[str] = []
    database = db.obj
    original = database.execute_sql

    def recording(sql: str, *args: object, **kwargs: object) -> object:
        seen.append(sql)
        return original(sql, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(database, "execute_sql", recording)
        yield seen
