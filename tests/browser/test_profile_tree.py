"""The profile tree in a real browser: it folds, fits a phone and prints whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from portal.core.models import User
from portal.database import db, open_database
from tests.browser.conftest import MANAGER_EMAIL, Browsing, Portal, open_page
from tests.browser.test_journeys import OVERFLOW_TOLERANCE, log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_portal(portal: Portal, tmp_path: Path) -> Portal:
    """The seeded portal with the manager made administrator."""
    open_database(f"sqlite:///{tmp_path / 'data' / 'cartera.db'}")
    try:
        User.update(is_admin=True).where(User.email == MANAGER_EMAIL).execute()
    finally:
        db.close()
    return portal


@pytest.fixture
def tree_page(browser: Browser, admin_portal: Portal, js: bool) -> Iterator[Browsing]:
    yield from open_page(browser, admin_portal, js=js)


def test_branches_fold_and_print_unfolded(tree_page: Browsing) -> None:
    page = tree_page.page
    log_in(page, MANAGER_EMAIL)
    page.goto("/admin/profiles")
    seller = page.get_by_role("link", name="Lucía Peña")
    expect(seller).to_be_visible()  # rendered open

    # Fold "Jefatura Norte" by its summary (not its link), as a person would.
    page.locator("summary", has_text="Jefatura Norte").locator("small").click()
    expect(seller).to_be_hidden()
    page.emulate_media(media="print")
    expect(seller).to_be_visible()
    expect(page.locator("header.bar")).to_be_hidden()
    expect(page.get_by_role("link", name="Export to Excel")).to_be_hidden()

    page.emulate_media(media="screen")
    page.get_by_role("link", name="Collapse all").click()
    expect(page.get_by_role("link", name="Expand all")).to_be_visible()
    expect(page.get_by_role("link", name="Jefatura Norte")).to_be_hidden()
    page.emulate_media(media="print")
    expect(page.get_by_role("link", name="Jefatura Norte")).to_be_visible()
    expect(seller).to_be_visible()
    tree_page.assert_quiet()


def test_tree_fits_a_phone_screen(browser: Browser, admin_portal: Portal) -> None:
    for browsing in open_page(browser, admin_portal, js=True, width=360, height=740):
        page = browsing.page
        log_in(page, MANAGER_EMAIL)
        page.goto("/admin/profiles")
        expect(page.get_by_role("link", name="Lucía Peña")).to_be_visible()

        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360 + OVERFLOW_TOLERANCE
        page.goto("/admin/audit")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360 + OVERFLOW_TOLERANCE
        browsing.assert_quiet()
