"""The skeleton of a new plugin package, written by `cartera new-plugin NAME`.

The skeleton installs as it stands (`pip install ./cartera-NAME`), is found
through the `cartera.plugins` entry point, adds a menu entry with its
permission and a page listing the clients the viewer may see, and carries a
test that passes once it is installed beside Cartera.
"""

from __future__ import annotations

import importlib
import keyword
import pkgutil
import re
from importlib.metadata import entry_points
from pathlib import Path
from string import Template

from portal.plugins import ENTRY_POINT_GROUP

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,29}")
# Names that would clash with the package, its folders or the portal's own
# plugins, besides every first path segment of the core's pages.
RESERVED = frozenset(
    {"cartera", "portal", "core", "plugins", "static", "tests", "examples", "billing",
     "campaigns", "objectives", "ai", "fieldwork", "purchases"}
)  # fmt: skip


class ScaffoldError(ValueError):
    """Why a skeleton was not written; the message is shown as it stands."""


def check_name(name: str) -> None:
    """Refuse a name that is not a lowercase identifier or clashes with another."""
    if not NAME_PATTERN.fullmatch(name) or name.endswith("_") or "__" in name:
        hint = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        suggestion = f' (try "{hint}")' if NAME_PATTERN.fullmatch(hint or "-") else ""
        raise ScaffoldError(
            f"{name!r} is not a valid plugin name: use 2 to 30 lowercase letters, digits "
            f"and single underscores, starting with a letter{suggestion}."
        )
    if keyword.iskeyword(name):
        raise ScaffoldError(f"{name!r} is a Python keyword; choose another name.")
    if name in RESERVED or name in _core_path_segments():
        raise ScaffoldError(f"{name!r} is taken by Cartera itself; choose another name.")
    installed = {point.name for point in entry_points(group=ENTRY_POINT_GROUP)}
    if name in installed:
        raise ScaffoldError(f"A plugin named {name!r} is already installed; choose another name.")


def _core_path_segments() -> set[str]:
    """The first segment of every core page's path ("clients", "admin"...)."""
    from portal.core import routes

    segments = set()
    for info in pkgutil.iter_modules(routes.__path__):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        for route in getattr(module, "routes", ()):
            first = route.path.strip("/").split("/")[0]
            segments.add(first.replace("-", "_"))
    return segments


def write_skeleton(name: str, directory: Path) -> Path:
    """Write `cartera-NAME/` inside `directory` and return its path."""
    check_name(name)
    if not directory.is_dir():
        raise ScaffoldError(f"{directory} is not a folder.")
    target = directory / f"cartera-{name.replace('_', '-')}"
    if target.exists():
        raise ScaffoldError(f"{target} exists already; nothing was written.")

    values = {
        "name": name,
        "package": f"cartera_{name}",
        "distribution": target.name,
        "title": name.replace("_", " ").capitalize(),
        "group": ENTRY_POINT_GROUP,
    }
    for relative, text in SKELETON.items():
        path = target / Template(relative).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(values), encoding="utf-8")
    return target


SKELETON: dict[str, str] = {}

SKELETON["pyproject.toml"] = """\
[build-system]
requires = ["setuptools>=61", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "$distribution"
version = "0.1.0"
description = "$title: a plugin for the Cartera CRM portal"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["cartera"]

[project.optional-dependencies]
test = ["pytest>=8", "cartera[test]"]

# The portal finds the plugin through this group; the name on the left is
# the one CARTERA_DISABLED_PLUGINS takes.
[project.entry-points."$group"]
$name = "$package.plugin"

[tool.setuptools.packages.find]
include = ["$package*"]

[tool.setuptools.package-data]
$package = ["templates/*/*.html"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-ra --strict-markers"
"""

SKELETON["README.md"] = """\
# $distribution

$title: a plugin for Cartera. It adds the entry “$title” to the navigation
(permission `menu.$name`, granted per profile in Administration → Permissions)
and a page at `/$name` listing the clients the viewer may see.

## Develop

```sh
pip install -e '.[test]'   # in the environment where Cartera is installed
pytest
cartera migrate && cartera serve
```

Disable it without uninstalling: `CARTERA_DISABLED_PLUGINS=$name`.
The plugin guide is docs/plugins.md in Cartera's repository.
"""

SKELETON["$package/__init__.py"] = '''\
"""$title: a plugin for Cartera (the hooks live in `plugin.py`)."""
'''

SKELETON["$package/plugin.py"] = '''\
"""The hooks of $title: a menu entry, the permission that shows it, and one page."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portal.config import Settings
from portal.core.models import Client
from portal.core.permissions import MenuEntry
from portal.hookspecs import hookimpl
from portal.i18n import N_
from portal.web.rendering import render
from portal.web.requests import permission_required, scope_of

MENU_KEY = "menu.$name"
HERE = Path(__file__).parent


@hookimpl
def register_menu_entries() -> list[MenuEntry]:
    # The key is also the permission a profile needs to see the entry.
    return [MenuEntry(MENU_KEY, N_("$title"), url="/$name", order=80)]


@hookimpl
def register_template_dirs() -> list[Path]:
    return [HERE / "templates"]


@hookimpl
def register_routes(settings: Settings) -> list[BaseRoute]:
    return [Route("/$name", index, name="$name-index")]


@permission_required(MENU_KEY)
async def index(request: Request) -> Response:
    # Every query for clients starts from the viewer's scope.
    clients = (
        scope_of(request)
        .clients(Client.select(Client.id, Client.name))
        .order_by(Client.name, Client.id)
        .limit(50)
    )
    return render(request, "$name/index.html", {"clients": list(clients)})
'''

SKELETON["$package/templates/$name/index.html"] = """\
{% extends "base.html" %}
{% block title %}{{ _("$title") }}{% endblock %}
{% block content %}
<h1>{{ _("$title") }}</h1>
<ul id="$name-clients">
{% for client in clients %}
  <li><a href="/clients/{{ client.id }}">{{ client.name }}</a></li>
{% else %}
  <li>{{ _("No clients yet.") }}</li>
{% endfor %}
</ul>
{% endblock %}
"""

SKELETON["tests/test_plugin.py"] = '''\
"""$title, installed beside Cartera: found, permitted, and scoped."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

from portal.core.models import Client
from portal.testing import log_in, make_user, portal_client

from $package import plugin


def test_the_package_declares_its_entry_point() -> None:
    found = {point.name: point.value for point in entry_points(group="$group")}

    assert found.get("$name") == "$package.plugin"


def test_the_page_follows_the_menu_permission(tmp_path: Path) -> None:
    with portal_client(tmp_path, {"$name": plugin}) as http:
        make_user("rep@example.com")
        boss = make_user("boss@example.com", plugin.MENU_KEY)
        Client.create(name="Ferretería Sol", owner=boss)
        log_in(http, "rep@example.com")
        refused = http.get("/$name")
        hidden = http.get("/").text
        http.cookies.clear()
        log_in(http, "boss@example.com")
        page = http.get("/$name")
        shown = http.get("/").text

    assert refused.status_code == 403
    assert 'href="/$name"' not in hidden
    assert page.status_code == 200
    assert "Ferretería Sol" in page.text
    assert 'href="/$name"' in shown
'''
