"""The plugin platform: loading, disabling, and every start-up, web and page hook."""

from __future__ import annotations

import dataclasses
import json
import logging
import textwrap
from collections.abc import Iterator
from datetime import datetime
from importlib import metadata
from pathlib import Path

import click
import peewee as pw
import pytest
from click.testing import CliRunner
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from portal import i18n, jobs
from portal.app import create_app
from portal.cli import main
from portal.config import Settings
from portal.core.audit_log import AuditLabels
from portal.core.models import CORE_MODELS, AuditEntry, Client, SchemaMigration, User
from portal.core.permissions import Grants, MenuEntry
from portal.database import BaseModel, db
from portal.hookspecs import hookimpl
from portal.jobs import PeriodicJob
from portal.migrations import core_migrations, migrate, numbered
from portal.plugins import ENTRY_POINT_GROUP, PluginError, build_manager, known_models
from portal.web.contributions import Panel, Widget, render_panel
from portal.web.requests import permission_required, visible_client
from tests.conftest import (
    client_with_plugin,
    count_queries,
    grant,
    log_in,
    make_profile,
    make_user,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")


# ---------------------------------------------------------------- loading


class Bundled:
    @hookimpl
    def register_models(self) -> list[type]:
        return []


class Outside:
    @hookimpl
    def register_routes(self, settings: Settings) -> list[Route]:
        return []


class Misspelt:
    @hookimpl
    def client_panel(self, client: Client) -> list[Panel]:  # the hook is client_panels
        return []


class WrongArguments:
    @hookimpl
    def client_created(self, client: Client) -> None:  # the hook passes client_id
        pass


bundled, outside, misspelt, wrong_arguments = Bundled(), Outside(), Misspelt(), WrongArguments()


class FakeDistribution:
    """What importlib.metadata tells of an installed package, as far as we read it."""

    def __init__(self, name: str, **entry_points: str) -> None:
        self.metadata = {"Name": name}
        self.version = "1.2.3"
        self.entry_points = [
            metadata.EntryPoint(key, f"{__name__}:{value}", ENTRY_POINT_GROUP)
            for key, value in entry_points.items()
        ]


def installed(monkeypatch: pytest.MonkeyPatch, *distributions: FakeDistribution) -> None:
    monkeypatch.setattr(metadata, "distributions", lambda: list(distributions))


def one_bundled_one_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    installed(
        monkeypatch,
        FakeDistribution("cartera", bundled="bundled"),
        FakeDistribution("cartera-extras", outside="outside"),
    )


def plain_settings(tmp_path: Path, **changes: object) -> Settings:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.db'}")
    return dataclasses.replace(settings, **changes)


def test_bundled_plugins_load_in_tests_and_installed_ones_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    installed(
        monkeypatch,
        FakeDistribution("cartera-extras", outside="outside", bundled="misspelt"),
        FakeDistribution("cartera", bundled="bundled"),
    )

    tests_only = build_manager(plain_settings(tmp_path), load_installed=False)
    everything = build_manager(plain_settings(tmp_path), load_installed=True)

    assert tests_only.get_plugin("bundled") is bundled
    assert tests_only.get_plugin("outside") is None
    assert everything.get_plugin("outside") is outside
    # An outside package can never take a bundled plugin's name.
    assert everything.get_plugin("bundled") is bundled
    assert everything.origins["outside"].distribution == "cartera-extras"


def test_disabled_plugins_are_blocked_by_entry_point_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    one_bundled_one_outside(monkeypatch)
    env = {"CARTERA_DATA_DIR": str(tmp_path), "CARTERA_DISABLED_PLUGINS": "bundled, outside"}

    manager = build_manager(Settings.from_env(env), load_installed=True)

    assert manager.get_plugin("bundled") is None and manager.get_plugin("outside") is None
    assert manager.origins["bundled"].disabled and manager.origins["outside"].disabled
    assert manager.hook.register_models.get_hookimpls() == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("misspelt", r"plugin 'typo' implements client_panel, which is not a Cartera hook"),
        ("wrong_arguments", r"plugin 'typo': .*client_created"),
    ],
)
def test_a_misspelt_hook_fails_at_start_up_naming_the_plugin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, message: str
) -> None:
    installed(monkeypatch, FakeDistribution("cartera", typo=name))

    with pytest.raises(PluginError, match=message):
        build_manager(plain_settings(tmp_path), load_installed=False)


def test_a_broken_plugin_stops_commands_with_one_line_but_help_still_answers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    installed(monkeypatch, FakeDistribution("cartera", typo="misspelt"))
    monkeypatch.setenv("CARTERA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()

    migrated = runner.invoke(main, ["migrate"])
    unknown = runner.invoke(main, ["loyalty-expire"])
    helped = runner.invoke(main, ["--help"])
    db.close()

    for result in (migrated, unknown):
        assert result.exit_code == 1
        assert not isinstance(result.exception, PluginError)  # no traceback
        (line,) = result.output.strip().splitlines()
        assert "plugin 'typo' implements client_panel" in line
    assert helped.exit_code == 0
    assert "Usage:" in helped.output and "migrate" in helped.output
    assert "Plugin error: plugin 'typo' implements client_panel" in helped.output


def test_a_broken_plugin_stops_the_web_app_with_one_log_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import importlib
    import sys

    installed(monkeypatch, FakeDistribution("cartera", typo="misspelt"))
    monkeypatch.setenv("CARTERA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delitem(sys.modules, "portal.asgi", raising=False)

    with pytest.raises(SystemExit) as stopped, caplog.at_level(logging.CRITICAL):
        importlib.import_module("portal.asgi")
    db.close()

    assert stopped.value.code == 1
    (record,) = [r for r in caplog.records if r.name == "portal.asgi"]
    assert record.exc_info is None
    assert "plugin 'typo' implements client_panel" in record.getMessage()


def test_a_disabled_name_matching_no_plugin_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    installed(monkeypatch, FakeDistribution("cartera", bundled="bundled"))
    settings = plain_settings(tmp_path, disabled_plugins=("bundled", "bundeld"))

    with caplog.at_level(logging.WARNING, logger="portal.plugins"):
        build_manager(settings, load_installed=True)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["CARTERA_DISABLED_PLUGINS names 'bundeld', but no plugin has that name"]


def test_the_plugins_page_lists_plugins_their_package_hooks_and_the_disabled(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    one_bundled_one_outside(monkeypatch)
    settings = dataclasses.replace(settings, disabled_plugins=("outside", "ghost"))
    app = create_app(settings, plugins=build_manager(settings, load_installed=True))
    migrate(db.obj)
    make_user("admin@example.com", make_profile("Sistemas"), is_admin=True, language="en")
    with TestClient(app, base_url="http://testserver") as http:
        log_in(http, "admin@example.com")
        page = http.get("/admin/plugins").text
        home = http.get("/").text
    db.close()

    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("<tr ")[1:]
    names = [row.split("<code>")[1].split("</code>")[0] for row in rows]
    assert names == ["bundled", "portal.core.figures", "portal.core.purchases", "ghost", "outside"]
    assert "cartera 1.2.3" in rows[0] and "<code>register_models</code>" in rows[0]
    assert "<code>register_report_sources</code>" in rows[1] and "Loaded" in rows[1]
    assert "<code>client_sales</code>" in rows[2] and "Loaded" in rows[2]
    assert "no plugin has this name" in rows[3]
    assert "cartera-extras 1.2.3" in rows[4] and "Disabled" in rows[4]
    assert 'href="/admin/plugins"' in home


# ---------------------------------------------------------------- web


@permission_required("menu.loyalty")
async def loyalty_page(request: Request) -> Response:
    return PlainTextResponse("loyalty for " + request.state.user.email)


class Loyalty:
    """A plugin with a page, a menu entry, a client panel and a home widget."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.asked: list[tuple[int, int, bool]] = []

    @hookimpl
    def register_routes(self, settings: Settings) -> list[Route]:
        return [Route("/loyalty", loyalty_page)]

    @hookimpl
    def register_menu_entries(self) -> list[MenuEntry]:
        return [
            MenuEntry("menu.loyalty", "Loyalty", "/loyalty", order=60),
            MenuEntry("menu.admin.loyalty", "Loyalty rules", "/loyalty/rules", "menu.admin"),
        ]

    @hookimpl
    def client_panels(self, client: Client, user: User, grants: Grants) -> list[Panel]:
        self.asked.append((client.id, user.id, grants.has("menu.loyalty")))
        return [
            Panel("loyalty.points", "Loyalty points", f"/loyalty/clients/{client.id}"),
            Panel("loyalty.raw", "<b>Bold</b> & co", "/loyalty/raw", order=1),
        ]

    @hookimpl
    def dashboard_widgets(self, user: User, grants: Grants) -> list[Widget]:
        return [Widget("loyalty.top", "Loyalty points", "/loyalty/top", size="half")]

    @hookimpl
    def register_translation_dirs(self) -> list[Path]:
        return [self.folder / "translations"] if self.folder else []

    @hookimpl
    def register_template_dirs(self) -> list[Path]:
        return [self.folder / "templates"] if self.folder else []

    @hookimpl
    def register_static_dirs(self) -> list[tuple[str, Path]]:
        return [("loyalty", self.folder / "static")] if self.folder else []


class Broken:
    @hookimpl
    def client_panels(self, client: Client) -> list[Panel]:
        raise RuntimeError("panel store down")

    @hookimpl
    def dashboard_widgets(self, user: User) -> list[Widget]:
        raise RuntimeError("widget store down")


def _catalogue(folder: Path, language: str, messages: dict[str, str]) -> None:
    lines = ['msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=UTF-8\\n"', ""]
    for msgid, msgstr in messages.items():
        lines += [f'msgid "{msgid}"', f'msgstr "{msgstr}"', ""]
    target = folder / language / "LC_MESSAGES"
    target.mkdir(parents=True)
    (target / "messages.po").write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture
def plugin_folder(tmp_path: Path) -> Iterator[Path]:
    """A plugin's own folder: templates, static files and a Spanish catalogue."""
    folder = tmp_path / "loyalty"
    (folder / "templates").mkdir(parents=True)
    (folder / "templates" / "home.html").write_text(
        '{% extends "core/home.html" %}'
        '{% block content %}<p id="loyalty-banner">{{ _("Loyalty points") }}</p>'
        "{{ super() }}{% endblock %}"
    )
    (folder / "static").mkdir()
    (folder / "static" / "loyalty.css").write_text(".points { color: green }")
    _catalogue(folder / "translations", "es", {"Loyalty points": "Puntos de fidelidad"})
    yield folder
    i18n.use_plugin_catalogues([])  # the next app starts with the core's words only


class Labelled:
    """Labels its own audit area, tries to relabel a core action, and has a failing formatter."""

    @hookimpl
    def register_audit_labels(self) -> list[AuditLabels]:
        def broken(value: object, request: Request) -> str:
            raise ValueError(value)

        return [
            AuditLabels(
                area="loyalty",
                actions={"loyalty.points.redeemed": "Points redeemed", "users.created": "Hijack"},
                object_types={"loyalty_award": "Award", "user": "Hijack"},
                fields={"points": "Points", "name": "Nickname"},
                values={"points": lambda value, request: f"{value} pts", "reason": broken},
                objects={
                    "loyalty_award": lambda entry, request: f"the {entry.object_label} award",
                    "loyalty_card": broken,
                    "user": lambda entry, request: "Hijack",
                },
            )
        ]


def test_register_audit_labels_name_a_plugins_entries_and_leave_the_rest(
    settings: Settings,
) -> None:
    with client_with_plugin(settings, Labelled(), "labelled") as http:
        admin = make_user("admin@example.com", make_profile("IT"), is_admin=True, language="en")
        log_in(http, "admin@example.com")
        common = {"actor": admin, "actor_name": "Admin"}
        AuditEntry.create(
            action="loyalty.points.redeemed",
            object_type="loyalty_award",
            object_id=7,
            object_label="gold",
            after=json.dumps({"points": 4, "reason": "gift", "name": "x"}),
            **common,
        )
        AuditEntry.create(
            action="users.created",
            object_type="user",
            object_label="Ana Core",
            after=json.dumps({"name": "Ana", "points": 3}),
            **common,
        )
        AuditEntry.create(
            action="loyalty.card.issued",
            object_type="loyalty_card",
            object_label="Card 9",
            **common,
        )
        page = http.get("/admin/audit").text

    assert "<strong>Points redeemed</strong> <code>loyalty.points.redeemed</code>" in page
    assert "<p>Award\n" in page
    assert "\nthe gold award <small>#7</small></p>" in page
    assert "\nAna Core</p>" in page and "\nCard 9</p>" in page  # the core's own; a failed one
    assert "<td>Points <small><code>points</code></small></td><td>—</td><td>→ 4 pts</td>" in page
    assert "<td><code>reason</code></td><td>—</td><td>→ gift</td>" in page  # formatter failed
    # The core's names stay, and its entries' fields are not the plugin's.
    assert "Hijack" not in page
    assert "<strong>User created</strong>" in page
    assert "<td><code>points</code></td><td>—</td><td>→ 3</td>" in page
    assert "<td><code>name</code></td><td>—</td><td>→ Ana</td>" in page


def test_register_routes_are_served_and_guarded_like_core_pages(settings: Settings) -> None:
    with client_with_plugin(settings, Loyalty(), "loyalty") as http:
        anonymous = http.get("/loyalty", follow_redirects=False)
        make_user("ana@example.com", grant(make_profile("Ventas"), "menu.loyalty"))
        log_in(http, "ana@example.com")
        signed_in = http.get("/loyalty")

    assert anonymous.status_code in (302, 303)
    assert signed_in.text == "loyalty for ana@example.com"


def test_register_menu_entries_become_menu_keys_of_the_matrix_and_the_navigation(
    settings: Settings,
) -> None:
    with client_with_plugin(settings, Loyalty(), "loyalty") as http:
        sales = make_profile("Ventas")
        make_user("admin@example.com", make_profile("Sistemas"), is_admin=True, language="en")
        make_user("rep@example.com", sales, language="en")
        log_in(http, "admin@example.com")
        matrix = http.get(f"/admin/permissions?profile={sales.id}&tab=menus").text
        log_in(http, "rep@example.com")
        hidden = http.get("/").text
        grant(sales, "menu.loyalty")
        shown = http.get("/").text

    assert 'name="grant:menu.loyalty"' in matrix
    assert 'name="grant:menu.admin.loyalty"' in matrix
    assert 'href="/loyalty"' not in hidden
    assert 'href="/loyalty"' in shown and ">Loyalty<" in shown
    assert 'href="/loyalty/rules"' not in shown


def test_client_panels_are_lazy_escaped_translated_and_survive_a_broken_plugin(
    settings: Settings, plugin_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loyalty = Loyalty(plugin_folder)
    manager = build_manager(settings, load_installed=False)
    manager.register(Broken(), name="broken-panels")
    manager.register(loyalty, name="loyalty")
    app = create_app(settings, plugins=manager)
    migrate(db.obj)
    ana = make_user("ana@example.com", grant(make_profile("Ventas"), "menu.clients"))
    client = Client.create(name="Acme", owner=ana, sort_name="acme", search_text="acme")
    with TestClient(app, base_url="http://testserver") as http, caplog.at_level(logging.ERROR):
        log_in(http, "ana@example.com")
        page = http.get(f"/clients/{client.id}")
    db.close()

    assert page.status_code == 200
    assert loyalty.asked == [(client.id, ana.id, False)]
    # Ordered by `order`; the title is text, never markup.
    raw = page.text.index('id="panel-loyalty-raw"')
    points = page.text.index('id="panel-loyalty-points"')
    assert raw < points
    assert "<h2>&lt;b&gt;Bold&lt;/b&gt; &amp; co</h2>" in page.text
    assert "<h2>Puntos de fidelidad</h2>" in page.text
    assert f'hx-get="/loyalty/clients/{client.id}" hx-trigger="revealed"' in page.text
    assert f'<a href="/loyalty/clients/{client.id}">' in page.text  # without JavaScript
    assert "broken-panels" in caplog.text and "panel store down" in caplog.text


def test_dashboard_widgets_add_no_query_to_the_home_page(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    counts = []
    for plugins in ((), (Loyalty(), Broken())):
        manager = build_manager(settings, load_installed=False)
        for n, plugin in enumerate(plugins):
            manager.register(plugin, name=f"plugin-{n}")
        app = create_app(settings, plugins=manager)
        migrate(db.obj)
        if not User.select().exists():
            make_user("ana@example.com", grant(make_profile("Ventas"), "menu.clients"))
        with TestClient(app, base_url="http://testserver") as http:
            log_in(http, "ana@example.com")
            with count_queries() as seen, caplog.at_level(logging.ERROR):
                home = http.get("/").text
        db.close()
        counts.append(len(seen))

    assert counts[0] == counts[1]
    assert 'id="widget-loyalty-top"' in home and 'class="widget widget-half"' in home
    assert 'hx-get="/loyalty/top"' in home and 'href="/loyalty/top"' in home
    assert "plugin-1" in caplog.text and "widget store down" in caplog.text


# A panel and a widget whose routes answer through `render_panel`, with a
# fragment template that is only the fragment (no layout of its own).
PROBE_TITLE = "<b>Probe</b> & co"


async def probe_panel(request: Request) -> Response:
    client = visible_client(request)
    context = {"client": client, "title": "the fragment's own"}
    return render_panel(request, "probe/panel.html", context, title=PROBE_TITLE, client=client)


async def probe_widget(request: Request) -> Response:
    return render_panel(request, "probe/widget.html", {}, title=PROBE_TITLE)


class Probe:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def register_routes(self, settings: Settings) -> list[Route]:
        return [
            Route("/probe/clients/{client_id:id}", probe_panel),
            Route("/probe/widget", probe_widget),
        ]

    @hookimpl
    def register_template_dirs(self) -> list[Path]:
        return [self.folder]

    @hookimpl
    def client_panels(self, client: Client) -> list[Panel]:
        return [Panel("probe.panel", PROBE_TITLE, f"/probe/clients/{client.id}")]


@pytest.fixture
def probed(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "panel.html").write_text(
        '<p class="probe">Panel of {{ client.name }}, {{ title }}</p>'
    )
    (tmp_path / "probe" / "widget.html").write_text('<p class="probe">Widget body</p>')
    with client_with_plugin(settings, Probe(tmp_path), "probe") as http:
        north = grant(make_profile("Norte"), "menu.clients")
        south = grant(make_profile("Sur"), "menu.clients")
        ana = make_user("ana@example.com", north, language="en")
        luis = make_user("luis@example.com", south, language="en")
        Client.create(name="Acme <script>x</script>", owner=ana)
        Client.create(name="Bodegas Sur", owner=luis)
        log_in(http, "ana@example.com")
        yield http


def test_render_panel_opens_a_client_panel_as_a_page_with_the_layout_and_a_way_back(
    probed: TestClient,
) -> None:
    client = Client.get(Client.name.startswith("Acme"))
    url = f"/probe/clients/{client.id}"

    offered = probed.get(f"/clients/{client.id}").text
    page = probed.get(url)

    assert f'<a href="{url}">' in offered  # the link followed without JavaScript
    assert page.status_code == 200
    assert "HX-Request" in page.headers["vary"]
    text = page.text
    assert text.startswith("<!doctype html>") and '<header class="bar">' in text
    assert "<title>&lt;b&gt;Probe&lt;/b&gt; &amp; co · Acme &lt;script&gt;" in text
    assert "<h1>&lt;b&gt;Probe&lt;/b&gt; &amp; co</h1>" in text
    back = f'<a href="/clients/{client.id}">← Acme &lt;script&gt;x&lt;/script&gt;</a>'
    assert back in text
    # The fragment inside, escaped, with its own context untouched by the page's.
    assert '<p class="probe">Panel of Acme &lt;script&gt;x&lt;/script&gt;, the fragment' in text
    assert "<script>x" not in text and "<b>Probe" not in text


def test_render_panel_answers_htmx_with_the_fragment_alone(probed: TestClient) -> None:
    client = Client.get(Client.name.startswith("Acme"))
    url = f"/probe/clients/{client.id}"

    fragment = probed.get(url, headers={"HX-Request": "true"})
    boosted = probed.get(url, headers={"HX-Request": "true", "HX-Boosted": "true"})

    assert fragment.status_code == 200
    assert "HX-Request" in fragment.headers["vary"]
    assert fragment.text.strip().startswith('<p class="probe">Panel of Acme &lt;script&gt;')
    assert "<html" not in fragment.text and "<h1>" not in fragment.text
    assert f'href="/clients/{client.id}"' not in fragment.text
    # A boosted link replaces the whole body: it gets the page.
    assert "<html" in boosted.text and "<h1>&lt;b&gt;Probe" in boosted.text


def test_render_panel_keeps_a_client_outside_the_scope_a_404(probed: TestClient) -> None:
    theirs = Client.get(Client.name == "Bodegas Sur")
    url = f"/probe/clients/{theirs.id}"

    page = probed.get(url)
    fragment = probed.get(url, headers={"HX-Request": "true"})

    assert page.status_code == fragment.status_code == 404
    assert "Bodegas Sur" not in page.text + fragment.text


def test_render_panel_opens_a_widget_as_a_page_with_a_way_home(probed: TestClient) -> None:
    page = probed.get("/probe/widget").text
    fragment = probed.get("/probe/widget", headers={"HX-Request": "true"}).text

    assert "<html" in page and '<header class="bar">' in page
    assert "<h1>&lt;b&gt;Probe&lt;/b&gt; &amp; co</h1>" in page
    assert '<a href="/">← Home</a>' in page
    assert '<p class="probe">Widget body</p>' in page
    assert fragment.strip() == '<p class="probe">Widget body</p>'


def test_register_template_dirs_override_a_core_template_that_extends_the_original(
    settings: Settings, plugin_folder: Path
) -> None:
    with client_with_plugin(settings, Loyalty(plugin_folder), "loyalty") as http:
        make_user("ana@example.com", make_profile("Ventas"), language="en")
        log_in(http, "ana@example.com")
        home = http.get("/").text

    assert '<p id="loyalty-banner">Loyalty points</p>' in home
    assert "Hello, Ana" in home  # the core's block, through super()


def test_register_translation_dirs_add_texts_but_core_msgids_keep_core_words(
    plugin_folder: Path,
) -> None:
    core_home = i18n.translations("es").gettext("Home")
    _catalogue(plugin_folder / "more", "es", {"Home": "Casa", "Loyalty rules": "Reglas"})

    i18n.use_plugin_catalogues([plugin_folder / "translations", plugin_folder / "more"])
    spanish = i18n.translations("es")

    assert spanish.gettext("Loyalty points") == "Puntos de fidelidad"
    assert spanish.gettext("Loyalty rules") == "Reglas"
    assert spanish.gettext("Home") == core_home != "Casa"
    assert i18n.translations("en").gettext("Loyalty points") == "Loyalty points"


def test_register_static_dirs_are_served_under_their_prefix_and_clashes_refused(
    settings: Settings, plugin_folder: Path
) -> None:
    with client_with_plugin(settings, Loyalty(plugin_folder), "loyalty") as http:
        served = http.get("/static/loyalty/loyalty.css")
        core = http.get("/static/cartera.css")

    class Clashing:
        def __init__(self, prefix: str) -> None:
            self.prefix = prefix

        @hookimpl
        def register_static_dirs(self) -> list[tuple[str, Path]]:
            return [(self.prefix, plugin_folder / "static")]

    assert served.text == ".points { color: green }"
    assert core.status_code == 200
    for prefix, other in (("loyalty", Loyalty(plugin_folder)), ("cartera.css", None)):
        manager = build_manager(settings, load_installed=False)
        manager.register(Clashing(prefix), name="clashing")
        if other is not None:
            manager.register(other, name="loyalty")
        with pytest.raises(PluginError, match="clashes"):
            create_app(settings, plugins=manager)


# ---------------------------------------------------------------- start-up


class Points(BaseModel):
    client = pw.ForeignKeyField(Client, backref="loyalty_points", on_delete="CASCADE")
    points = pw.IntegerField(default=0)

    class Meta:
        table_name = "loyalty_points"


class WithModels:
    @hookimpl
    def register_models(self) -> list[type]:
        return [Points]


def test_register_models_come_after_the_core_models(tmp_path: Path) -> None:
    manager = build_manager(plain_settings(tmp_path), load_installed=False)
    manager.register(WithModels(), name="loyalty")

    models = known_models(manager)
    # The bundled plugins' models (objectives) are among the plugins' too.
    assert models[: len(CORE_MODELS)] == CORE_MODELS and Points in models[len(CORE_MODELS) :]


class Migrating:
    @hookimpl
    def register_migrations(self) -> list[tuple[str, object]]:
        return numbered("loyaltyplug.migrations", "loyalty")


migrating = Migrating()

STEPS = {
    "0001_points.py": """
        import peewee as pw

        def apply(database):
            database.execute_sql("CREATE TABLE loyalty_points (id INTEGER PRIMARY KEY, n INTEGER)")
    """,
    "0002_level.py": """
        def apply(database):
            # Fails unless 0001 ran first.
            database.execute_sql("ALTER TABLE loyalty_points ADD COLUMN level INTEGER")
    """,
    "frozen.py": "RAISE = 'never imported as a step'\n",
}


def test_register_migrations_run_by_cartera_migrate_after_the_core_in_order(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    package = tmp_path / "src" / "loyaltyplug" / "migrations"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    for name, body in STEPS.items():
        (package / name).write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    installed(monkeypatch, FakeDistribution("cartera-loyalty", loyalty="migrating"))
    env = {"CARTERA_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url}

    result = CliRunner().invoke(main, ["migrate"], env=env)
    again = CliRunner().invoke(main, ["migrate"], env=env)

    applied = [name for (name,) in SchemaMigration.select(SchemaMigration.name).tuples()]
    columns = [c.name for c in db.obj.get_columns("loyalty_points")]
    db.close()
    assert result.exit_code == 0, result.output
    assert applied == [name for name, _ in core_migrations()] + [
        "loyalty.0001_points",
        "loyalty.0002_level",
    ]
    assert columns == ["id", "n", "level"]
    assert again.output.strip() == "Schema is up to date."


@click.command("loyalty-sync")
def loyalty_sync() -> None:
    """Send the points to the loyalty service."""
    click.echo("synced")


class WithCommands:
    @hookimpl
    def register_cli_commands(self) -> list[click.Command]:
        return [loyalty_sync]


with_commands = WithCommands()


def test_register_cli_commands_are_listed_by_help_and_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    installed(monkeypatch, FakeDistribution("cartera-loyalty", loyalty="with_commands"))
    env = {"CARTERA_DATA_DIR": str(tmp_path)}

    listed = CliRunner().invoke(main, ["--help"], env=env)
    ran = CliRunner().invoke(main, ["loyalty-sync"], env=env)

    assert listed.exit_code == 0
    assert "loyalty-sync" in listed.output and "Send the points" in listed.output
    assert "migrate" in listed.output
    assert (ran.exit_code, ran.output) == (0, "synced\n")


class WithJobs:
    def __init__(self) -> None:
        self.runs = 0

    def expire(self) -> None:
        self.runs += 1

    @hookimpl
    def register_periodic_jobs(self) -> list[PeriodicJob]:
        return [PeriodicJob("loyalty.expire", self.expire, minute="30", hour="3")]


def test_register_periodic_jobs_become_periodic_tasks_on_their_schedule(
    settings: Settings,
) -> None:
    plugin = WithJobs()
    with client_with_plugin(settings, plugin, "loyalty"):
        task = jobs.plugin_tasks["loyalty.expire"]
        periodic = [t.name for t in jobs.queue._registry.periodic_tasks]
        due = task.task_class().validate_datetime(datetime(2026, 12, 5, 3, 30))
        not_due = task.task_class().validate_datetime(datetime(2026, 12, 5, 4, 30))
        task()  # the queue is immediate in tests: this is what the worker runs

    assert "loyalty.expire" in periodic
    assert (due, not_due) == (True, False)
    assert plugin.runs == 1
    with client_with_plugin(settings, Loyalty(), "loyalty"):
        # A new app without the job leaves nothing of it in the queue.
        assert "loyalty.expire" not in [t.name for t in jobs.queue._registry.periodic_tasks]
