"""The example plugin examples/cartera-loyalty, installed as its users would install it.

The package is built and installed with pip into a folder of this session
(tests/packages.py); `cartera migrate` runs in a subprocess that sees that
folder, and the HTTP tests put it on `sys.path` only while they run, then
forget its modules, so no other test ever meets the plugin.
"""

from __future__ import annotations

import importlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
from starlette.testclient import TestClient

from portal import events, i18n
from portal.app import create_app
from portal.config import Settings
from portal.core.models import Activity, AuditEntry, Client, Profile, User
from portal.core.permissions import write_grants
from portal.database import db
from portal.migrations import migrate
from portal.plugins import build_manager, collect
from tests.conftest import count_queries, grant, log_in, make_profile, make_user, post_form
from tests.packages import install

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cartera-loyalty"

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the example is installed into, once per session."""
    return install(EXAMPLE, tmp_path_factory.mktemp("loyalty") / "site")


@pytest.fixture
def plugin(site: Path) -> Iterator[ModuleType]:
    """The installed plugin, loaded through its entry point, and forgotten afterwards."""
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    try:
        (distribution,) = metadata.distributions(path=[str(site)])
        (entry_point,) = [e for e in distribution.entry_points if e.group == "cartera.plugins"]
        assert entry_point.name == "loyalty"
        yield entry_point.load()
    finally:
        _forget(str(site))


def _forget(site: str) -> None:
    loaded = [name for name in sys.modules if name.split(".")[0] == "cartera_loyalty"]
    models = sys.modules.get("cartera_loyalty.models")
    if models is not None:
        # Its foreign keys left backrefs on the core's models (Client.loyalty_awards).
        for field in list(models.Award._meta.refs):
            models.Award._meta.remove_ref(field)
            if field.backref and hasattr(field.rel_model, field.backref):
                delattr(field.rel_model, field.backref)
    for name in loaded:
        del sys.modules[name]
    sys.path.remove(site)
    importlib.invalidate_caches()


@pytest.fixture
def http(
    settings: Settings, plugin: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The portal with the bundled plugins and the installed example.

    The app makes its plugins those of the whole process (events, catalogues);
    they are handed back afterwards, so nothing later hears the example.
    """
    monkeypatch.setattr(events, "_manager", events._manager)  # put back at teardown
    catalogues = i18n._plugin_catalogues
    manager = build_manager(settings, load_installed=False)
    manager.register(plugin, name="loyalty")
    application = create_app(settings, plugins=manager)
    migrate(db.obj, collect(manager.hook.register_migrations))
    try:
        with TestClient(application, base_url="http://testserver") as client:
            yield client
    finally:
        db.close()
        i18n.use_plugin_catalogues(catalogues)


def _migrate_in_subprocess(site: Path, data: Path, **env: str) -> set[str]:
    """Run `cartera migrate` where the example is installed; return the tables made."""
    variables = {k: v for k, v in os.environ.items() if not k.startswith("CARTERA_")}
    variables.pop("DATABASE_URL", None)
    variables.update(PYTHONPATH=str(site), CARTERA_DATA_DIR=str(data), **env)
    command = [sys.executable, "-m", "portal.cli", "migrate"]
    done = subprocess.run(command, capture_output=True, text=True, env=variables, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(data / "cartera.db") as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_loyalty_migrate_creates_its_table_unless_disabled(site: Path, tmp_path: Path) -> None:
    enabled = _migrate_in_subprocess(site, tmp_path / "on")
    disabled = _migrate_in_subprocess(site, tmp_path / "off", CARTERA_DISABLED_PLUGINS="loyalty")

    assert {"client", "loyalty_award"} <= enabled
    assert "client" in disabled and "loyalty_award" not in disabled
    with sqlite3.connect(tmp_path / "on" / "cartera.db") as connection:
        steps = connection.execute("SELECT name FROM schema_migration WHERE name LIKE 'loyalty.%'")
        assert [name for (name,) in steps] == ["loyalty.0001_awards"]


def test_loyalty_menu_entry_shows_only_with_its_permission(http: TestClient) -> None:
    sales = make_profile("Ventas")
    make_user("rep@example.com", sales, language="en")
    log_in(http, "rep@example.com")

    refused = http.get("/loyalty")
    hidden = http.get("/").text
    grant(sales, "menu.loyalty")
    opened = http.get("/loyalty")
    shown = http.get("/").text

    assert refused.status_code == 403
    assert 'href="/loyalty"' not in hidden
    assert opened.status_code == 200
    assert 'href="/loyalty"' in shown


def _team() -> tuple[User, User, Client, Client]:
    """Two peers, each with a client the other may not see; both hold the menu key."""
    north = grant(make_profile("Norte"), "menu.loyalty", "menu.clients")
    south = grant(make_profile("Sur"), "menu.loyalty", "menu.clients")
    ana = make_user("ana@example.com", north, language="en")
    luis = make_user("luis@example.com", south, language="en")
    ours = Client.create(name="Ferretería Norte", owner=ana)
    theirs = Client.create(name="Bodegas Sur", owner=luis)
    return ana, luis, ours, theirs


def _visit(client: Client, author: User) -> Activity:
    return Activity.create(client=client, author=author, kind="visit", subject="Visita")


def test_loyalty_page_and_panel_keep_to_the_viewers_scope(http: TestClient) -> None:
    from cartera_loyalty.points import award_for

    ana, luis, ours, theirs = _team()
    award_for(_visit(ours, ana).id, ana.id)
    award_for(_visit(theirs, luis).id, luis.id)
    log_in(http, "ana@example.com")

    ranking = http.get("/loyalty").text
    own_panel = http.get(f"/loyalty/clients/{ours.id}", headers={"HX-Request": "true"})
    other_panel = http.get(f"/loyalty/clients/{theirs.id}")
    other_fragment = http.get(f"/loyalty/clients/{theirs.id}", headers={"HX-Request": "true"})
    other_redeem = post_form(http, f"/loyalty/clients/{theirs.id}/redeem", {"points": "1"})

    assert "Ferretería Norte" in ranking
    assert "Bodegas Sur" not in ranking
    assert own_panel.status_code == 200
    assert 'class="loyalty-balance">10<' in own_panel.text
    assert "<html" not in own_panel.text  # the fragment alone for htmx
    assert other_panel.status_code == other_fragment.status_code == 404
    assert "Bodegas Sur" not in other_panel.text + other_fragment.text
    assert other_redeem.status_code in (403, 404)


def test_loyalty_ranking_reads_the_same_queries_for_more_clients(http: TestClient) -> None:
    from cartera_loyalty.points import award_for

    ana, _luis, ours, _theirs = _team()
    award_for(_visit(ours, ana).id, ana.id)
    log_in(http, "ana@example.com")
    http.get("/loyalty")  # warms what a first request loads once

    with count_queries() as few:
        http.get("/loyalty")
    for number in range(5):
        client = Client.create(name=f"Cliente {number}", owner=ana)
        award_for(_visit(client, ana).id, ana.id)
    with count_queries() as many:
        page = http.get("/loyalty").text

    assert page.count('<a href="/clients/') == 6
    assert len(many) == len(few)


def test_loyalty_panel_is_offered_on_the_client_page(http: TestClient) -> None:
    ana, _luis, ours, _theirs = _team()
    log_in(http, "ana@example.com")

    offered = http.get(f"/clients/{ours.id}").text
    north = Profile.get(Profile.name == "Norte")
    write_grants(north, {"menu.clients": ""})
    north.save()
    withheld = http.get(f"/clients/{ours.id}").text

    assert f"/loyalty/clients/{ours.id}" in offered
    assert "Loyalty points" in offered
    assert f"/loyalty/clients/{ours.id}" not in withheld


def test_loyalty_activity_logged_awards_points_after_the_commit(http: TestClient) -> None:
    from cartera_loyalty.models import Award

    ana, _luis, ours, _theirs = _team()
    log_in(http, "ana@example.com")

    visit = post_form(http, f"/clients/{ours.id}/activities", {"kind": "visit", "subject": "Hola"})
    note = post_form(http, f"/clients/{ours.id}/activities", {"kind": "note", "notes": "Nada"})
    refused = post_form(http, f"/clients/{ours.id}/activities", {"kind": "call"})  # no subject

    assert visit.status_code == note.status_code == 303
    assert refused.status_code == 400
    awards = list(Award.select().where(Award.client == ours.id))
    assert [(a.points, a.reason, a.awarded_by_id) for a in awards] == [(10, "visit", ana.id)]
    entry = AuditEntry.get(AuditEntry.action == "loyalty.points.awarded")
    assert (entry.actor_id, entry.object_id) == (ana.id, ours.id)


def test_loyalty_redeem_needs_permission_csrf_and_points(http: TestClient) -> None:
    from cartera_loyalty.models import Award
    from cartera_loyalty.points import award_for, balance

    ana, _luis, ours, _theirs = _team()
    award_for(_visit(ours, ana).id, ana.id)
    log_in(http, "ana@example.com")
    path = f"/loyalty/clients/{ours.id}/redeem"

    without_key = post_form(http, path, {"points": "4"})
    grant(Profile.get(Profile.name == "Norte"), "loyalty.redeem")
    without_token = http.post(path, data={"points": "4"}, follow_redirects=False)
    too_many = post_form(http, path, {"points": "11"})
    redeemed = post_form(http, path, {"points": "4"})

    assert without_key.status_code == 403
    assert without_token.status_code == 403
    assert too_many.status_code == 400
    assert "The client has only 10 points." in too_many.text
    assert f'<a href="/clients/{ours.id}">← Ferretería Norte</a>' in too_many.text
    assert redeemed.status_code == 303
    assert balance(ours.id) == 6
    assert Award.select().count() == 2
    entry = AuditEntry.get(AuditEntry.action == "loyalty.points.redeemed")
    assert entry.actor_id == ana.id and '"balance": 6' in entry.after


def test_loyalty_panel_offers_the_redeem_form_to_who_may_redeem(http: TestClient) -> None:
    from cartera_loyalty.points import award_for

    ana, _luis, ours, _theirs = _team()
    award_for(_visit(ours, ana).id, ana.id)
    grant(Profile.get(Profile.name == "Norte"), "loyalty.redeem")
    log_in(http, "ana@example.com")

    page = http.get(f"/loyalty/clients/{ours.id}")
    fragment = http.get(f"/loyalty/clients/{ours.id}", headers={"HX-Request": "true"})

    assert page.status_code == fragment.status_code == 200
    for text in (page.text, fragment.text):
        assert f'action="/loyalty/clients/{ours.id}/redeem"' in text
        assert 'name="points" inputmode="numeric" value=""' in text
    # Opened as a page (no JavaScript): the layout, its title and a way back.
    assert "<h1>Loyalty points</h1>" in page.text
    assert f'<a href="/clients/{ours.id}">← Ferretería Norte</a>' in page.text
    assert "<h1>" not in fragment.text and f'href="/clients/{ours.id}"' not in fragment.text


def test_loyalty_audit_entries_read_in_words(http: TestClient) -> None:
    from cartera_loyalty.points import award_for

    ana, _luis, ours, _theirs = _team()
    award_for(_visit(ours, ana).id, ana.id)
    make_user("admin@example.com", make_profile("IT"), is_admin=True, language="en")
    log_in(http, "admin@example.com")

    page = http.get("/admin/audit").text

    assert "<strong>Loyalty points earned</strong> <code>loyalty.points.awarded</code>" in page
    assert "<td>Points <small><code>points</code></small></td><td>—</td><td>→ 10</td>" in page


def test_loyalty_speaks_spanish_from_its_own_catalogue(http: TestClient) -> None:
    profile = grant(make_profile("Ventas"), "menu.loyalty")
    make_user("rep@example.com", profile, language="es")
    log_in(http, "rep@example.com")

    page = http.get("/loyalty").text

    assert "<h1>Fidelización</h1>" in page
    assert "Ningún cliente tiene puntos todavía." in page


def test_loyalty_leaves_nothing_behind_for_the_rest_of_the_suite(site: Path) -> None:
    # Runs after the tests above (file order): what they loaded must be gone.
    heard_by = events._manager.get_plugin("loyalty") if events._manager else None

    assert not [name for name in sys.modules if name.startswith("cartera_loyalty")]
    assert str(site) not in sys.path
    assert not hasattr(Client, "loyalty_awards") and not hasattr(Activity, "loyalty_awards")
    assert heard_by is None
    assert not any("loyalty" in str(folder) for folder in i18n._plugin_catalogues)
