"""Menu permissions and the permission matrix, over HTTP.

Each menu key is tried with a profile that holds it (the page opens and the
entry shows) and one that does not (403, no entry, nothing changed). The matrix
refuses every escalation: a key the editor does not hold, a limit above theirs,
their own profile, a profile outside their subtree.
"""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from portal.core.models import AuditEntry, Profile, Tag, User
from portal.core.permissions import CORE_PERMISSIONS, read_grants
from tests.conftest import grant, log_in, make_profile, make_user, post_form

pytestmark = pytest.mark.usefixtures("fast_passwords")

# The page each menu key opens: its navigation URL, or the action it allows.
MENU_PAGES = {
    **{p.key: p.url for p in CORE_PERMISSIONS if p.tab == "menus" and p.url},
    "menu.clients.export": "/clients/export.csv",
}


def test_every_core_menu_key_is_tried() -> None:
    groups = {p.parent for p in CORE_PERMISSIONS if p.parent}
    menus = {p.key for p in CORE_PERMISSIONS if p.tab == "menus"}
    # A group without a page of its own shows when one of its entries does.
    assert menus - groups <= MENU_PAGES.keys()


def nav_links(page: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.DOTALL)
    return re.findall(r'href="([^"]+)"', nav.group(1)) if nav else []


def holding(*keys: str, parent: Profile | None = None, name: str = "Ventas") -> Profile:
    profile = make_profile(name, parent=parent, grants="{}")
    return grant(profile, *keys)


@pytest.mark.parametrize("key", sorted(MENU_PAGES))
def test_a_menu_key_opens_its_page_and_shows_its_entry(http: TestClient, key: str) -> None:
    ancestors = [p.key for p in CORE_PERMISSIONS if key.startswith(p.key + ".")]
    profile = holding(key, *ancestors)
    make_user("rep@example.com", profile, language="en")
    log_in(http, "rep@example.com")

    answer = http.get(MENU_PAGES[key])

    assert answer.status_code == 200
    # Entries under a page of their own are linked from that page.
    shown_on = {
        "menu.clients.import": "/clients",
        "menu.clients.export": "/clients",
        "menu.vacations.calendar": "/vacations",
        "menu.vacations.approvals": "/vacations",
        "menu.opportunities.funnel": "/opportunities",
    }
    if key in shown_on:
        assert MENU_PAGES[key] in http.get(shown_on[key]).text
    else:
        assert MENU_PAGES[key] in nav_links(http.get("/").text)


@pytest.mark.parametrize("key", sorted(MENU_PAGES))
def test_without_a_menu_key_the_page_is_refused_and_hidden(http: TestClient, key: str) -> None:
    everything_else = [p.key for p in CORE_PERMISSIONS if p.key != key and p.tab == "menus"]
    # Children of the missing key go too: they cannot be held without it.
    everything_else = [k for k in everything_else if not k.startswith(key + ".")]
    make_user("rep@example.com", holding(*everything_else), language="en")
    log_in(http, "rep@example.com")

    answer = http.get(MENU_PAGES[key])

    assert answer.status_code == 403
    assert "Your profile does not include" in answer.text
    assert MENU_PAGES[key] not in nav_links(http.get("/").text)
    if "menu.clients" in everything_else:
        assert MENU_PAGES[key] not in http.get("/clients").text


def test_without_the_clients_menu_no_client_action_works(http: TestClient) -> None:
    profile = holding()
    rep = make_user("rep@example.com", profile, language="en")
    log_in(http, "rep@example.com")
    from portal.core.models import Client

    client = Client(owner=rep, name="Propio SL")
    client.reindex()
    client.save()

    pages = [f"/clients/{client.id}", f"/clients/{client.id}/edit", "/clients/new"]
    assert [http.get(url).status_code for url in pages] == [403, 403, 403]
    changed = post_form(http, f"/clients/{client.id}/edit", {"name": "Cambiado"})
    removed = post_form(http, f"/clients/{client.id}/delete")
    assert (changed.status_code, removed.status_code) == (403, 403)
    assert Client.get_by_id(client.id).name == "Propio SL"


# ------------------------------------------------------------- the matrix


@pytest.fixture
def company(http: TestClient) -> dict[str, Profile]:
    """Admin on top; a director holding part of the keys; a sales profile below."""
    system = make_profile("Sistemas", kind="structural")
    director = holding(
        "menu.clients",
        "menu.admin",
        "menu.admin.permissions",
        "clients.coordinates",
        name="Dirección",
    )
    grant(director, discount="15")
    sales = holding("menu.clients", parent=director, name="Comercial")
    peer = holding("menu.clients", name="Otra dirección")
    make_user("admin@example.com", system, is_admin=True, language="en")
    make_user("boss@example.com", director, language="en")
    make_user("rep@example.com", sales, language="en")
    return {"director": director, "sales": sales, "peer": peer, "system": system}


def reload(profile: Profile) -> dict[str, str]:
    return read_grants(Profile.get_by_id(profile.id))


def test_the_matrix_shows_the_menus_as_a_tree_with_what_is_held(
    http: TestClient, company: dict[str, Profile]
) -> None:
    log_in(http, "admin@example.com")

    page = http.get(f"/admin/permissions?profile={company['director'].id}&tab=menus").text

    assert re.search(r'<li class="depth-0[^"]*">\s*<label><input[^>]*name="grant:menu.admin"', page)
    assert re.search(
        r'<li class="depth-1[^"]*">\s*<label><input[^>]*name="grant:menu.admin.users"', page
    )
    assert re.search(r'name="grant:menu.admin.permissions" checked', page)
    assert not re.search(r'name="grant:menu.admin.users" checked', page)


def test_an_admin_grants_and_revokes_and_each_change_is_audited(
    http: TestClient, company: dict[str, Profile]
) -> None:
    log_in(http, "admin@example.com")
    sales = company["sales"]

    answer = post_form(
        http,
        f"/admin/permissions/{sales.id}/menus",
        {"grant:menu.clients": "on", "grant:menu.admin.users": "on"},
    )

    assert answer.status_code == 303
    # Ticking an entry brings the entry above it.
    assert reload(sales) == {"menu.clients": "", "menu.admin": "", "menu.admin.users": ""}
    granted = AuditEntry.select().where(AuditEntry.action == "profiles.permission.granted")
    assert {e.object_id for e in granted} == {sales.id}
    assert sorted(next(iter(json.loads(e.after))) for e in granted) == [
        "menu.admin",
        "menu.admin.users",
    ]

    post_form(
        http,
        f"/admin/permissions/{sales.id}/menus",
        {"grant:menu.clients": "on", "grant:menu.admin.users": "on"} | {"grant:menu.admin": ""},
    )
    # Unticking an entry takes the entries below it along.
    assert reload(sales) == {"menu.clients": ""}
    revoked = AuditEntry.select().where(AuditEntry.action == "profiles.permission.revoked")
    assert sorted(next(iter(json.loads(e.before))) for e in revoked) == [
        "menu.admin",
        "menu.admin.users",
    ]


def test_a_limit_is_stored_and_shown(http: TestClient, company: dict[str, Profile]) -> None:
    log_in(http, "admin@example.com")
    sales = company["sales"]

    post_form(
        http,
        f"/admin/permissions/{sales.id}/clients",
        {"grant:clients.discount": "on", "limit:clients.discount": "7,5"},
    )

    assert reload(sales)["clients.discount"] == "7.5"
    page = http.get(f"/admin/permissions?profile={sales.id}&tab=clients").text
    assert 'name="limit:clients.discount" value="7.5"' in page


def test_a_director_grants_what_they_hold_to_the_profiles_below(
    http: TestClient, company: dict[str, Profile]
) -> None:
    log_in(http, "boss@example.com")
    sales = company["sales"]

    answer = post_form(
        http,
        f"/admin/permissions/{sales.id}/clients",
        {
            "grant:clients.coordinates": "on",
            "grant:clients.discount": "on",
            "limit:clients.discount": "10",
        },
    )

    assert answer.status_code == 303
    assert reload(sales) == {
        "menu.clients": "",
        "clients.coordinates": "",
        "clients.discount": "10",
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"grant:clients.supplier": "on"},  # not held by the director
        {"grant:clients.discount": "on", "limit:clients.discount": "20"},  # above 15
        {"grant:clients.coordinates": "on", "grant:clients.visible_to_all": "on"},
    ],
)
def test_nobody_grants_what_they_do_not_hold(
    http: TestClient, company: dict[str, Profile], fields: dict[str, str]
) -> None:
    log_in(http, "boss@example.com")
    sales = company["sales"]
    before = reload(sales)

    answer = post_form(http, f"/admin/permissions/{sales.id}/clients", fields)

    assert answer.status_code == 400
    assert "Nothing was saved" in answer.text
    assert reload(sales) == before
    assert AuditEntry.select().count() == 0


def test_a_key_the_editor_lacks_is_shown_but_not_offered(
    http: TestClient, company: dict[str, Profile]
) -> None:
    log_in(http, "boss@example.com")

    page = http.get(f"/admin/permissions?profile={company['sales'].id}&tab=clients").text

    assert re.search(r'name="grant:clients.supplier"[^>]*disabled', page)
    assert not re.search(r'name="grant:clients.coordinates"[^>]*disabled', page)


def test_a_key_held_below_but_not_by_the_editor_survives_their_save(
    http: TestClient, company: dict[str, Profile]
) -> None:
    sales = grant(company["sales"], "clients.supplier")
    log_in(http, "boss@example.com")

    # The disabled box is not sent; the key stays as it was.
    post_form(http, f"/admin/permissions/{sales.id}/clients", {"grant:clients.coordinates": "on"})

    assert "clients.supplier" in reload(sales)
    assert "clients.coordinates" in reload(sales)


@pytest.mark.parametrize("whose", ["director", "peer", "system"])
def test_a_non_admin_changes_only_profiles_below_their_own(
    http: TestClient, company: dict[str, Profile], whose: str
) -> None:
    log_in(http, "boss@example.com")
    target = company[whose]
    before = reload(target)

    seen = http.get(f"/admin/permissions?profile={target.id}")
    changed = post_form(http, f"/admin/permissions/{target.id}/menus", {"grant:menu.clients": "on"})

    assert (seen.status_code, changed.status_code) == (404, 404)
    assert reload(target) == before


def test_an_admin_may_change_their_own_profile(
    http: TestClient, company: dict[str, Profile]
) -> None:
    log_in(http, "admin@example.com")
    system = company["system"]

    answer = post_form(http, f"/admin/permissions/{system.id}/menus", {"grant:menu.clients": "on"})

    assert answer.status_code == 303
    assert "menu.clients" in reload(system)


def test_the_clients_tab_lists_one_key_per_tag(
    http: TestClient, company: dict[str, Profile]
) -> None:
    vip = Tag.create(name="VIP <b>", colour="#aa0000")
    log_in(http, "admin@example.com")
    sales = company["sales"]

    page = http.get(f"/admin/permissions?profile={sales.id}&tab=clients").text
    post_form(http, f"/admin/permissions/{sales.id}/clients", {f"grant:clients.tag.{vip.id}": "on"})

    assert "VIP &lt;b&gt;" in page
    assert f"clients.tag.{vip.id}" in reload(sales)


def test_unknown_tabs_and_profiles_answer_not_found(
    http: TestClient, company: dict[str, Profile]
) -> None:
    log_in(http, "admin@example.com")
    sales = company["sales"]

    assert http.get(f"/admin/permissions?profile={sales.id}&tab=nope").status_code == 404
    assert http.get("/admin/permissions?profile=99999").status_code == 404
    assert post_form(http, f"/admin/permissions/{sales.id}/nope").status_code == 404
    assert User.select().count() == 3


def test_the_home_page_shows_client_figures_only_with_the_clients_menu(
    http: TestClient,
) -> None:
    from portal.core.models import Activity, Client

    rep = make_user("rep@example.com", holding("menu.vacations"), language="en")
    client = Client(owner=rep, name="Confidencial SL", status="customer")
    client.reindex()
    client.save()
    Activity.create(client=client, author=rep, kind="call", subject="Llamada")
    log_in(http, "rep@example.com")

    page = http.get("/").text

    assert "Confidencial SL" not in page and "/clients?status=" not in page
    grant(rep.profile, "menu.clients")
    assert "Confidencial SL" in http.get("/").text


def test_unticking_an_entry_never_takes_a_key_the_editor_lacks(
    http: TestClient, company: dict[str, Profile]
) -> None:
    sales = grant(company["sales"], "menu.admin", "menu.admin.users", "menu.admin.tags")
    grant(company["director"], "menu.admin.users")
    log_in(http, "boss@example.com")
    before = reload(sales)

    # The director holds Users but not Tags, and leaves Administration unticked.
    answer = post_form(http, f"/admin/permissions/{sales.id}/menus", {"grant:menu.clients": "on"})

    assert answer.status_code == 400
    assert "which you cannot change" in answer.text
    assert reload(sales) == before
