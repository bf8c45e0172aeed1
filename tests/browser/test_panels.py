"""A plugin's client panel in a real browser: filled in place, or opened as a page.

The server loads the loyalty example installed as its users install it
(tests/packages.py), from its entry point.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from portal.core.models import Profile
from portal.core.permissions import read_grants, write_grants
from portal.database import db, open_database
from tests.browser.conftest import SALES_EMAIL, Browsing, Portal, open_page
from tests.browser.test_journeys import log_in
from tests.packages import install

pytestmark = pytest.mark.browser

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cartera-loyalty"
CLIENT = "Muñoz Ibáñez"  # Lucía's client (conftest.CLIENTS)


@pytest.fixture(scope="module")
def plugin_sites(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return [install(EXAMPLE, tmp_path_factory.mktemp("loyalty") / "site")]


@pytest.fixture
def loyal(portal: Portal) -> Portal:
    """Every profile holds the loyalty menu key, so the panel is offered."""
    open_database(f"sqlite:///{portal.log_file.parent / 'data' / 'cartera.db'}")
    try:
        for profile in Profile.select():
            write_grants(profile, {**read_grants(profile), "menu.loyalty": ""})
            profile.save()
    finally:
        db.close()
    return portal


@pytest.fixture
def without_js(browser: Browser, loyal: Portal) -> Iterator[Browsing]:
    yield from open_page(browser, loyal, js=False)


@pytest.fixture
def with_js(browser: Browser, loyal: Portal) -> Iterator[Browsing]:
    yield from open_page(browser, loyal, js=True)


def test_a_client_panel_without_javascript_opens_in_the_layout_with_a_way_back(
    without_js: Browsing, loyal: Portal
) -> None:
    page = without_js.page
    client_path = f"/clients/{loyal.client_ids[CLIENT]}"
    log_in(page, SALES_EMAIL)
    page.goto(client_path)

    page.get_by_role("link", name="Open Loyalty points").click()

    expect(page).to_have_url(re.compile(r"/loyalty/clients/\d+$"))
    expect(page).to_have_title(f"Loyalty points · {CLIENT} · Cartera")
    expect(page.get_by_role("heading", level=1)).to_have_text("Loyalty points")
    expect(page.locator("header.bar nav")).to_be_visible()
    expect(page.locator("#loyalty-panel")).to_contain_text("No points yet.")
    page.get_by_role("link", name=f"← {CLIENT}").click()
    expect(page).to_have_url(re.compile(f"{client_path}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(CLIENT)
    without_js.assert_quiet()


def test_a_client_panel_with_javascript_fills_in_on_the_clients_page(
    with_js: Browsing, loyal: Portal
) -> None:
    page = with_js.page
    client_path = f"/clients/{loyal.client_ids[CLIENT]}"
    log_in(page, SALES_EMAIL)

    page.goto(client_path)

    panel = page.locator("#panel-loyalty-points")
    expect(panel.locator("#loyalty-panel")).to_contain_text("No points yet.")
    expect(panel.get_by_role("link", name="Open Loyalty points")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_have_count(1)  # no page inside a page
    expect(page).to_have_url(re.compile(f"{client_path}$"))
    with_js.assert_quiet()
