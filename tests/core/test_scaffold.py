"""`cartera new-plugin` writes a package that installs and passes its own tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from portal.cli import main
from tests.packages import install, run_pytest


def new_plugin(*args: str) -> Result:
    return CliRunner().invoke(main, ["new-plugin", *args])


def test_new_plugin_writes_a_package_whose_own_tests_pass(tmp_path: Path) -> None:
    made = new_plugin("visit_notes", "--directory", str(tmp_path))
    package = tmp_path / "cartera-visit-notes"
    site = install(package, tmp_path / "site")
    (tmp_path / "run").mkdir()
    outcome = run_pytest(package / "tests", site, cwd=tmp_path / "run")

    assert made.exit_code == 0, made.output
    assert f"written to {package}" in made.output
    assert (site / "cartera_visit_notes" / "templates" / "visit_notes" / "index.html").exists()
    entry_points = next(site.glob("*.dist-info")) / "entry_points.txt"
    assert "[cartera.plugins]\nvisit_notes = cartera_visit_notes.plugin" in entry_points.read_text()
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "2 passed" in outcome.stdout


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Loyalty", 'not a valid plugin name: use 2 to 30 lowercase letters, digits and single '
         'underscores, starting with a letter (try "loyalty")'),
        ("my-plugin", '(try "my_plugin")'),
        ("2fa", "starting with a letter"),
        ("x", "2 to 30"),
        ("clients", "taken by Cartera itself"),
        ("admin", "taken by Cartera itself"),
        ("billing", "taken by Cartera itself"),
        ("class", "Python keyword"),
    ],
)  # fmt: skip
def test_new_plugin_refuses_a_bad_name(tmp_path: Path, name: str, problem: str) -> None:
    made = new_plugin(name, "--directory", str(tmp_path))

    assert made.exit_code != 0
    assert problem in made.output
    assert list(tmp_path.iterdir()) == []


def test_new_plugin_never_overwrites_a_folder(tmp_path: Path) -> None:
    (tmp_path / "cartera-loyalty").mkdir()
    (tmp_path / "cartera-loyalty" / "notes.txt").write_text("mine")

    made = new_plugin("loyalty", "--directory", str(tmp_path))

    assert made.exit_code != 0
    assert "exists already; nothing was written" in made.output
    assert [p.name for p in (tmp_path / "cartera-loyalty").iterdir()] == ["notes.txt"]


def test_new_plugin_needs_an_existing_directory(tmp_path: Path) -> None:
    made = new_plugin("loyalty", "--directory", str(tmp_path / "missing"))

    assert made.exit_code != 0
    assert "is not a folder" in made.output
