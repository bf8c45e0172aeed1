"""The client list's tag and supplier filters, saved views, and the mass-action form."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from portal.core.models import ClientTag, SavedView, Tag
from tests.conftest import grant, log_in, make_profile, make_user, post_form
from tests.core.test_client_pages import Team, add_client, row_ids, team

__all__ = ["team"]
pytestmark = pytest.mark.usefixtures("fast_passwords")


def test_tag_and_supplier_filters_stay_in_scope(http: TestClient, team: Team) -> None:
    vip = Tag.create(name="VIP")
    tagged = add_client(team.ana, "Etiquetada")
    add_client(team.ana, "Sin etiqueta")
    supplier = add_client(team.ana, "Proveedora", is_supplier=True)
    theirs = add_client(team.luis, "Ajena etiquetada", is_supplier=True)
    for client in (tagged, theirs):
        ClientTag.create(client=client, tag=vip)

    assert row_ids(http.get(f"/clients?tag={vip.id}").text) == [tagged.id]
    assert row_ids(http.get("/clients?supplier=yes").text) == [supplier.id]
    assert supplier.id not in row_ids(http.get("/clients?supplier=no").text)
    # Unknown values are dropped, never passed to SQL.
    assert len(row_ids(http.get("/clients?supplier=maybe&tag=x").text)) == 3


def test_a_view_saves_the_filters_and_reopens_them(http: TestClient, team: Team) -> None:
    add_client(team.ana, "Bodegas Ruiz", status="customer")
    saved = post_form(
        http, "/clients/views",
        {"view_name": "Mis bodegas", "q": "bodegas", "status": "customer", "after": "xyz"},
    )  # fmt: skip
    assert saved.status_code == 303
    view = SavedView.get()
    assert (view.name, view.user_id) == ("Mis bodegas", team.ana.id)
    assert view.query == "q=bodegas&status=customer"
    page = http.get("/clients").text
    assert f'href="/clients?{view.query.replace("&", "&amp;")}">Mis bodegas</a>' in page

    again = post_form(http, "/clients/views", {"view_name": "Mis bodegas", "q": "ruiz"})
    assert again.status_code == 303
    assert SavedView.select().count() == 1 and SavedView.get().query == "q=ruiz"


def test_a_view_without_a_name_is_explained(http: TestClient, team: Team) -> None:
    answer = post_form(http, "/clients/views", {"view_name": "  ", "q": "x"})
    assert "view_error=name" in answer.headers["location"]
    page = http.get(answer.headers["location"]).text
    assert "Give the view a name." in page
    assert SavedView.select().count() == 0
    # The message comes from a fixed list: a made-up one shows nothing.
    assert "Call us" not in http.get("/clients?view_error=Call+us").text


def test_views_are_private(http: TestClient, other_http: TestClient, team: Team) -> None:
    post_form(http, "/clients/views", {"view_name": "Privada", "q": "x"})
    view = SavedView.get()
    log_in(other_http, "luis@example.com")
    assert "Privada" not in other_http.get("/clients").text
    assert post_form(other_http, f"/clients/views/{view.id}/delete").status_code == 303
    assert SavedView.select().count() == 1
    assert post_form(http, f"/clients/views/{view.id}/delete").status_code == 303
    assert SavedView.select().count() == 0


def test_mass_action_form_only_with_the_permission(http: TestClient, team: Team) -> None:
    client = add_client(team.ana, "Mía")
    page = http.get("/clients").text
    assert 'id="bulk"' not in page and 'name="id"' not in page

    grant(team.ana.profile, "clients.bulk")
    page = http.get("/clients?q=m").text
    assert 'action="/clients/bulk"' in page
    assert f'form="bulk" name="id" value="{client.id}"' in page
    # "Every matching client" carries the current filters to the mass action.
    assert '<input type="hidden" form="bulk" name="q" value="m">' in page


def test_tags_zones_and_views_kept_between_pages_follow_every_change(
    http: TestClient, other_http: TestClient, team: Team
) -> None:
    admin = make_user("admin@example.com", make_profile("Sistemas"), is_admin=True)
    log_in(other_http, admin.email)
    assert "Any tag" not in http.get("/clients").text

    post_form(other_http, "/admin/tags/new", {"name": "Preferente", "colour": "#336699"})
    assert ">Preferente</option>" in http.get("/clients").text
    tag = Tag.get()
    post_form(other_http, f"/admin/tags/{tag.id}", {"name": "VIP", "colour": "#336699"})
    page = http.get("/clients").text
    assert ">VIP</option>" in page and "Preferente" not in page

    grant(team.ana.profile, "clients.bulk")
    post_form(other_http, "/admin/zones/new", {"name": "Centro", "postal_prefixes": "28"})
    assert "<option>Centro</option>" in http.get("/clients").text

    post_form(http, "/clients/views", {"view_name": "Mía", "q": "x"})
    assert ">Mía</a>" in http.get("/clients").text
    view = SavedView.get()
    post_form(http, f"/clients/views/{view.id}/delete")
    assert ">Mía</a>" not in http.get("/clients").text
