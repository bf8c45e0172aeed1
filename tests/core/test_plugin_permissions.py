"""A plugin declares a matrix tab, content keys and a menu entry through the hooks."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from portal.config import Settings
from portal.core.models import Profile
from portal.core.permissions import Permission, Registry, Tab, read_grants
from portal.hookspecs import hookimpl
from portal.web.requests import grants_of, permission_required
from tests.conftest import client_with_plugin, grant, log_in, make_profile, make_user, post_form

pytestmark = pytest.mark.usefixtures("fast_passwords")


@permission_required("menu.quotes")
async def quotes(request: Request) -> Response:
    may_other = grants_of(request).has("billing.invoice_other")
    return PlainTextResponse("quotes; other concepts: " + ("yes" if may_other else "no"))


@permission_required("reports.invoiced_by_zone")
async def invoiced_by_zone(request: Request) -> Response:
    return PlainTextResponse("report")


class BillingLike:
    """A stand-in for the billing plugin: a tab of its own and a menu entry."""

    @hookimpl
    def register_permission_tabs(self) -> list[Tab]:
        return [Tab("billing", "Billing", 40)]

    @hookimpl
    def register_permissions(self) -> list[Permission]:
        return [
            Permission("menu.quotes", "Quotes", "menus", url="/quotes", order=30),
            Permission("billing.invoice_articles", "Invoice articles", "billing", order=1),
            Permission("billing.invoice_other", "Invoice other concepts", "billing", order=2),
            Permission("reports.invoiced_by_zone", "Invoiced by zone", "reports"),
        ]

    @hookimpl
    def register_routes(self, settings: Settings) -> list[Route]:
        return [Route("/quotes", quotes), Route("/reports/invoiced", invoiced_by_zone)]


@pytest.fixture
def plugin_http(settings: Settings) -> Iterator[TestClient]:
    with client_with_plugin(settings, BillingLike(), "billing-like") as client:
        yield client


def test_register_permission_tabs_and_their_keys_appear_in_the_matrix(
    plugin_http: TestClient,
) -> None:
    system = make_profile("Sistemas", kind="structural")
    sales = make_profile("Ventas")
    make_user("admin@example.com", system, is_admin=True, language="en")
    log_in(plugin_http, "admin@example.com")

    menus = plugin_http.get(f"/admin/permissions?profile={sales.id}&tab=menus").text
    billing = plugin_http.get(f"/admin/permissions?profile={sales.id}&tab=billing").text
    saved = post_form(
        plugin_http,
        f"/admin/permissions/{sales.id}/billing",
        {"grant:billing.invoice_other": "on"},
    )

    assert 'tab=billing"' in menus and ">Billing</a>" in menus
    assert 'name="grant:menu.quotes"' in menus
    assert re.findall(r'name="grant:(billing\.[a-z_]+)"', billing) == [
        "billing.invoice_articles",
        "billing.invoice_other",
    ]
    assert saved.status_code == 303
    assert "billing.invoice_other" in read_grants(Profile.get_by_id(sales.id))


def test_register_permissions_menu_key_shows_its_entry_to_holders_only(
    plugin_http: TestClient,
) -> None:
    sales = make_profile("Ventas")
    make_user("rep@example.com", sales, language="en")
    log_in(plugin_http, "rep@example.com")

    refused = plugin_http.get("/quotes")
    hidden = plugin_http.get("/").text
    grant(sales, "menu.quotes")
    opened = plugin_http.get("/quotes")
    shown = plugin_http.get("/").text
    grant(sales, "billing.invoice_other")
    with_other = plugin_http.get("/quotes")

    assert refused.status_code == 403
    assert 'href="/quotes"' not in hidden
    assert opened.text == "quotes; other concepts: no"
    assert 'href="/quotes"' in shown
    assert with_other.text == "quotes; other concepts: yes"


@pytest.mark.parametrize(
    ("tabs", "permissions", "problem"),
    [
        ([], [Permission("x.y", "X", "nowhere")], "unknown tab"),
        ([], [Permission("x.y", "X", "menus", parent="x")], "unknown parent"),
        ([Tab("menus", "Again")], [], "declared twice"),
        ([], [Permission("menu.clients", "Clients again", "menus")], "declared twice"),
    ],
)
def test_a_mistaken_declaration_fails_at_start_up(
    tabs: list[Tab], permissions: list[Permission], problem: str
) -> None:
    from portal.core.permissions import CORE_PERMISSIONS, CORE_TABS

    with pytest.raises(ValueError, match=problem):
        Registry([*CORE_TABS, *tabs], [*CORE_PERMISSIONS, *permissions])


def test_a_report_kind_is_held_per_profile(plugin_http: TestClient) -> None:
    system = make_profile("Sistemas", kind="structural")
    sales = make_profile("Ventas")
    make_user("admin@example.com", system, is_admin=True, language="en")
    make_user("rep@example.com", sales, language="en")
    with TestClient(plugin_http.app, base_url="http://testserver") as rep:
        log_in(rep, "rep@example.com")
        refused = rep.get("/reports/invoiced")
        log_in(plugin_http, "admin@example.com")
        tab = plugin_http.get(f"/admin/permissions?profile={sales.id}&tab=reports").text
        post_form(
            plugin_http,
            f"/admin/permissions/{sales.id}/reports",
            {"grant:reports.invoiced_by_zone": "on"},
        )
        opened = rep.get("/reports/invoiced")

    assert 'name="grant:reports.invoiced_by_zone"' in tab
    assert refused.status_code == 403
    assert opened.status_code == 200 and opened.text == "report"
