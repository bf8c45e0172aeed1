"""Browser fixtures: the real server on a loopback port and the system Chromium.

Every test gets its own data folder, database and server process, so a journey
that edits or imports cannot change what another journey sees.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Response,
    Route,
    sync_playwright,
)

from portal.config import Settings
from portal.core import people
from portal.core.models import Client, Profile
from portal.core.permissions import read_grants, write_grants
from portal.database import db, open_database
from portal.migrations import migrate
from portal.plugins import build_manager, collect
from tests.conftest import PASSWORD, Mailbox

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox because the tests run as root; the rest keeps Chromium from calling
# outside hosts on its own (updates, sync, field trials).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
SHARED_DATA = Path("/work/shared/data")
# How long to wait for the server to answer at start-up: a bound, not a measure.
START_LIMIT_SECONDS = 30.0

SALES_EMAIL = "lucia.pena@example.com"
MANAGER_EMAIL = "ramon.ibanez@example.com"
PEER_EMAIL = "jorge.sur@example.com"
# name, city, owner; the peer's client must never show up for the salesperson.
CLIENTS = (
    ("Muñoz Ibáñez", "Valladolid", SALES_EMAIL),
    ("Ferretería Peña e Hijos", "Bilbao", SALES_EMAIL),
    ("Óptica Núñez", "León", SALES_EMAIL),
    ("Cooperativa Agrícola del Sur", "Jaén", PEER_EMAIL),
)


@dataclass(frozen=True)
class Portal:
    """A running server and the ids of the clients it was seeded with."""

    url: str
    client_ids: dict[str, int]
    log_file: Path

    def server_log(self) -> str:
        return self.log_file.read_text(errors="replace")


@dataclass
class Browsing:
    """A page in a fresh browser context, and what went wrong in its console."""

    page: Page
    js: bool
    portal: Portal
    problems: list[str] = field(default_factory=list)

    def assert_quiet(self) -> None:
        """No console error (CSP violations are errors), no uncaught exception."""
        assert self.problems == []
        assert "Traceback" not in self.portal.server_log()


def _seed(settings: Settings) -> dict[str, int]:
    """Migrate as `cartera migrate` does, then add people and clients."""
    open_database(settings.database_url)
    try:
        manager = build_manager(settings)
        migrate(db.obj, collect(manager.hook.register_migrations))
        board = Profile.create(name="Dirección comercial")
        north = Profile.create(name="Jefatura Norte", parent=board)
        # The manager may merge clients (test_merge.py).
        write_grants(north, {**read_grants(north), "clients.merge": ""})
        north.save()
        south = Profile.create(name="Jefatura Sur", parent=board)
        seller = Profile.create(name="Comercial Norte", parent=north)
        people_in = (
            (MANAGER_EMAIL, "Ramón Ibáñez", north),
            (SALES_EMAIL, "Lucía Peña", seller),
            (PEER_EMAIL, "Jorge Sur", south),
        )
        users = {
            email: people.create_user(email, name, PASSWORD, profile)
            for email, name, profile in people_in
        }
        ids = {}
        for name, city, owner in CLIENTS:
            client = Client(name=name, city=city, owner=users[owner])
            client.status = "customer"
            client.reindex()
            client.save()
            ids[name] = client.id
        return ids
    finally:
        db.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, log_file: Path) -> None:
    deadline = time.monotonic() + START_LIMIT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited at start-up:\n{log_file.read_text()}")
        try:
            with urllib.request.urlopen(url + "/login", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    pytest.fail(f"the server did not answer in time:\n{log_file.read_text()}")


@pytest.fixture(scope="session")
def import_file() -> Path:
    """The Excel-style Spanish CSV, copied from the shared data when missing."""
    target = DATA / "import_es_excel_bom_semicolon.csv"
    if not target.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHARED_DATA / target.name, target)
    return target


@pytest.fixture
def plugin_sites() -> list[Path]:
    """Folders of installed plugin packages the server sees; a module overrides it."""
    return []


@pytest.fixture
def portal(
    tmp_path: Path, smtp_server: tuple[str, Mailbox], plugin_sites: list[Path]
) -> Iterator[Portal]:
    data_dir = tmp_path / "data"
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'cartera.db'}",
        secret_key="browser-test-secret-key",
    )
    data_dir.mkdir()
    client_ids = _seed(settings)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # The server must read only our settings, whatever the shell exported.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CARTERA_") and key != "DATABASE_URL"
    }
    env.update(
        CARTERA_DATA_DIR=str(data_dir),
        CARTERA_SECRET_KEY=settings.secret_key,
        CARTERA_BASE_URL=url,
        # The run's local SMTP server (tests/conftest.py); the `mailbox` fixture reads it.
        CARTERA_SMTP_URL=smtp_server[0],
        # Mail and other jobs run in the server's process, as in the other tests:
        # no worker runs beside it.
        CARTERA_IMMEDIATE_JOBS="1",
        PYTHONPATH=os.pathsep.join(map(str, [REPO, *plugin_sites])),
    )
    if plugin_sites:
        # Their tables, as `cartera migrate` makes them where they are installed.
        migrate_command = [sys.executable, "-m", "portal.cli", "migrate"]
        done = subprocess.run(
            migrate_command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
    log_file = tmp_path / "server.log"
    command = [
        sys.executable, "-m", "uvicorn", "portal.asgi:app",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with log_file.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(url, process, log_file)
        yield Portal(url=url, client_ids=client_ids, log_file=log_file)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("system Chromium not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def js(request: pytest.FixtureRequest) -> bool:
    return request.param


def open_page(
    browser: Browser, portal: Portal, *, js: bool, width: int = 1280, height: int = 800
) -> Iterator[Browsing]:
    """A page whose console errors and off-machine requests are recorded."""
    context = browser.new_context(
        java_script_enabled=js,
        base_url=portal.url,
        # English: the assertions read the interface's own strings.
        locale="en-US",
        viewport={"width": width, "height": height},
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    browsing = Browsing(page=page, js=js, portal=portal)
    own_host = urlsplit(portal.url).netloc

    def guard(route: Route) -> None:
        # Nothing the portal serves may make the browser call another host.
        if urlsplit(route.request.url).netloc == own_host:
            route.continue_()
        else:
            browsing.problems.append(f"request to another host: {route.request.url}")
            route.abort()

    def on_console(message: ConsoleMessage) -> None:
        # Chromium logs every 4xx page as a failed load; a form answering 400
        # with its messages is intended, so statuses are judged in on_response.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            browsing.problems.append(f"console: {message.text}")

    def on_response(response: Response) -> None:
        kind = response.request.resource_type
        if response.status >= 500 or (
            response.status >= 400 and kind not in ("document", "xhr", "fetch")
        ):
            browsing.problems.append(f"{response.status} for {kind} {response.url}")

    context.route("**/*", guard)
    page.on("console", on_console)
    page.on("response", on_response)
    page.on("pageerror", lambda error: browsing.problems.append(f"uncaught: {error}"))
    try:
        yield browsing
    finally:
        context.close()


@pytest.fixture
def browsing(browser: Browser, portal: Portal, js: bool) -> Iterator[Browsing]:
    yield from open_page(browser, portal, js=js)
