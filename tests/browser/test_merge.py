"""A manager merges two clients in a real browser, with JavaScript on and off."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MANAGER_EMAIL, Browsing
from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser


def test_merge_two_clients_from_the_client_page(browsing: Browsing) -> None:
    page = browsing.page
    kept = browsing.portal.client_ids["Muñoz Ibáñez"]
    gone = browsing.portal.client_ids["Óptica Núñez"]
    log_in(page, MANAGER_EMAIL)
    page.goto(f"/clients/{kept}")

    page.get_by_role("link", name="Merge with another client…").click()
    # Typing only searches once htmx has taken in the page it swapped in.
    expect(page).to_have_url(re.compile(rf"/clients/{kept}/merge$"))
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)
    page.fill("#merge-q", "optica")
    if not browsing.js:
        page.get_by_role("button", name="Search").click()
    page.locator("#candidates").get_by_role("link", name="Óptica Núñez").click()
    expect(page).to_have_url(re.compile(rf"/clients/{kept}/merge\?with={gone}$"))
    page.locator('input[name="pick_city"][value="other"]').check()
    page.screenshot(path="/tmp/cartera-merge-choices.png", full_page=True)
    page.get_by_role("button", name="Review the merge").click()

    expect(page.locator("h1")).to_have_text("Merge Óptica Núñez into Muñoz Ibáñez?")
    page.get_by_role("button", name="Yes, merge").click()

    expect(page).to_have_url(re.compile(rf"/clients/{kept}\?merged=1$"))
    expect(page.get_by_role("status")).to_contain_text("The two clients were merged")
    expect(page.locator(".facts")).to_contain_text("León")
    page.goto(f"/clients/{gone}")
    expect(page).to_have_url(re.compile(rf"/clients/{kept}$"))
    browsing.assert_quiet()
