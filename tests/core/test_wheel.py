"""Cartera built as a wheel and installed from it works without the checkout.

The templates and static files sit at the repository's root and reach the
wheel only through setup.cfg's mapping, so an editable install (what every
other test uses) cannot tell whether an installed copy finds them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["setup.cfg", "pyproject.toml", "README.md", "portal", "plugins", "templates", "static"]
PASSWORD = "a long password for the wheel"

# Runs in the installed copy: the portal as `cartera serve` builds it, driven
# through Starlette's test client; prints what the test asserts on.
CHECKS = """
import json, sys

import plugins.objectives
import portal
from starlette.testclient import TestClient

from portal.app import create_app
from portal.config import Settings
from portal.testing import log_in

app = create_app()
found = {
    "portal": portal.__file__,
    "objectives": plugins.objectives.__file__,
    "objectives_template": app.state.templates.get_template("objectives/index.html").filename,
}
base_url = Settings.from_env().base_url
with TestClient(app, base_url=base_url) as client:
    login = client.get("/login")
    css = client.get("/static/cartera.css")
    log_in(client, sys.argv[1], sys.argv[2])
    objectives = client.get("/objectives")
found["login"] = [login.status_code, login.text]
found["css"] = [css.status_code, css.headers["content-type"]]
found["objectives_page"] = [objectives.status_code, objectives.text]
print(json.dumps(found))
"""


pytestmark = pytest.mark.packaging


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cartera built into a wheel and installed from it, once for this module."""
    return _build_and_install(tmp_path_factory.mktemp("wheel"))


def test_the_installed_wheel_serves_pages_without_the_checkout(site: Path, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()

    init = _run_installed(
        site, tmp_path, "-c", "from portal.cli import main; main(prog_name='cartera')",
        "init", "--email", "admin@example.com", "--password", PASSWORD,
    )  # fmt: skip
    checked = _run_installed(site, tmp_path, "-c", CHECKS, "admin@example.com", PASSWORD)

    assert init.returncode == 0, init.stdout + init.stderr
    assert "Administrator admin@example.com created." in init.stdout
    assert checked.returncode == 0, checked.stdout + checked.stderr
    found = json.loads(checked.stdout.splitlines()[-1])
    for module in ("portal", "objectives", "objectives_template"):
        assert Path(found[module]).resolve().is_relative_to(site.resolve()), found
    login_status, login_page = found["login"]
    assert login_status == 200
    assert "Iniciar sesión" in login_page  # the core's catalogue shipped
    assert found["css"] == [200, "text/css; charset=utf-8"]
    objectives_status, objectives_page = found["objectives_page"]
    # Its table exists (the plugin's migration ran) and its catalogue shipped.
    assert objectives_status == 200
    assert "Objetivos" in objectives_page


def test_the_wheel_holds_every_module_and_template_of_the_checkout(site: Path) -> None:
    for folder, installed in [
        ("portal", "portal"),
        ("plugins", "plugins"),
        ("templates", "portal/templates"),
        ("static", "portal/static"),
    ]:
        wanted = _files(ROOT / folder)
        # setup.cfg lists the packages one by one: a new one must be added there.
        assert wanted - _files(site / installed) == set(), f"missing from the wheel: {folder}/"


def _build_and_install(tmp_path: Path) -> Path:
    # Building writes build/ and *.egg-info beside the sources: copy them out.
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    offline = ["--no-deps", "--no-index", "--quiet"]
    dist = tmp_path / "dist"
    built = subprocess.run(
        [*pip, "wheel", *offline, "--no-build-isolation", "-w", str(dist), str(source)],
        capture_output=True, text=True, timeout=80,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("cartera-*.whl")
    site = tmp_path / "site"
    installed = subprocess.run(
        [*pip, "install", *offline, "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=80,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return site


def _run_installed(site: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Python on the installed copy, with this environment's packages for its dependencies.

    `-S` skips the `.pth` files, among them the editable install's pointer to
    the checkout; the working folder holds no sources either.
    """
    paths = sysconfig.get_paths()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CARTERA_")}
    env.pop("DATABASE_URL", None)
    env["PYTHONPATH"] = os.pathsep.join(
        dict.fromkeys([str(site), paths["purelib"], paths["platlib"]])
    )
    env["CARTERA_DATA_DIR"] = str(tmp_path / "data")
    command = [sys.executable, "-S", *args]
    return subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path / "run", env=env, timeout=80
    )


def _files(folder: Path) -> set[str]:
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        # The extraction templates (.pot) serve translators, never the portal.
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix not in (".pyc", ".pot")
    }
