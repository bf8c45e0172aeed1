"""The `cartera` command as an administrator uses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from portal.cli import main
from portal.core.models import Client, User
from portal.database import db

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CARTERA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    yield invoke
    if db.obj is not None:
        db.close()


def test_every_command_has_help(run) -> None:
    commands = [
        "init", "serve", "demo", "migrate", "createuser", "import", "import clients",
        "import contacts", "worker", "new-plugin",
    ]  # fmt: skip
    for command in commands:
        result = run(*command.split(), "--help")
        assert result.exit_code == 0, command
        assert "Usage:" in result.output


def test_init_creates_secret_database_and_administrator(run, tmp_path: Path) -> None:
    result = run("init", "--email", "Owner@Example.com", "--password", "a long password 1")
    assert result.exit_code == 0, result.output
    data = tmp_path / "data"
    assert (data / "cartera.db").exists()
    key = (data / "secret_key").read_text()
    assert len(key) > 40 and (data / "secret_key").stat().st_mode & 0o077 == 0
    admin = User.get(User.email == "owner@example.com")
    assert admin.is_admin and admin.password_hash.startswith("$argon2")

    again = run("init", "--email", "x@example.com", "--password", "another password")
    assert "no administrator created" in again.output
    assert (data / "secret_key").read_text() == key


def test_init_prompts_and_refuses_a_short_password(run) -> None:
    result = run("init", input="boss@example.com\nshort\nshort\n")
    assert result.exit_code != 0
    assert "password" in result.output.lower()
    assert not User.select().exists()


def test_createuser_needs_an_existing_profile(run) -> None:
    run("init", "--email", "boss@example.com", "--password", "a long password 1")
    missing = run(
        "createuser", "--email", "ana@example.com", "--name", "Ana",
        "--profile", "Nope", "--password", "a long password 2",
    )  # fmt: skip
    assert missing.exit_code != 0 and "No profile named" in missing.output
    made = run(
        "createuser", "--email", "ana@example.com", "--name", "Ana",
        "--profile", "Administración", "--password", "a long password 2",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert User.get(User.email == "ana@example.com").name == "Ana"


def test_import_clients_from_a_salesforce_export(run) -> None:
    run("init", "--email", "boss@example.com", "--password", "a long password 1")
    file = DATA / "salesforce_accounts_export.csv"
    spain = run("import", "clients", str(file), "--owner", "boss@example.com", "--dry-run")
    assert spain.exit_code == 1, "US numbers read as Spanish ones must be reported"
    assert "Not a valid phone number" in spain.output
    owner = ("--owner", "boss@example.com", "--country", "US")
    dry = run("import", "clients", str(file), *owner, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "100 client(s) would be created" in dry.output
    assert Client.select().count() == 0

    done = run("import", "clients", str(file), *owner)
    assert done.exit_code == 0, done.output
    assert Client.select().count() == 100
    first = Client.get(Client.name == "Bulk Account from CSV - #1")
    assert first.address.splitlines()[0] == "345 Shoreline Park"


def test_import_contacts_then_update_them_from_the_command_line(run, tmp_path: Path) -> None:
    run("init", "--email", "boss@example.com", "--password", "a long password 1")
    Client.create(name="Acme", sort_name="acme", owner=User.get())
    file = tmp_path / "contacts.csv"
    file.write_text("First name,Last name,Email,Company name\nLola,Gil,lola@acme.example,Acme\n")
    owner = ("--owner", "boss@example.com")

    first = run("import", "contacts", str(file), *owner)
    assert first.exit_code == 0, first.output
    assert "1 contact(s) created, 0 updated" in first.output

    file.write_text(
        "First name,Last name,Email,Company name\nLola,Gil Ruiz,lola@acme.example,Acme\n"
    )
    second = run("import", "contacts", str(file), *owner)
    assert "0 contact(s) created, 1 updated" in second.output
    assert [c.name for c in Client.get().contacts] == ["Lola Gil Ruiz"]


def test_demo_builds_data_and_prints_the_accounts(run) -> None:
    result = run("demo", "--no-serve", "--clients", "200")
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8000/" in result.output
    assert "salesperson" in result.output and "password for all" in result.output
    assert Client.select().count() == 200

    # A second run starts again from scratch rather than piling up rows.
    run("demo", "--no-serve", "--clients", "150")
    assert Client.select().count() == 150
