"""The agenda in a real browser: plan a task, find it in the week, complete it.

Run with JavaScript on (htmx swaps the agenda) and off (plain links and forms),
on a phone-sized screen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import SALES_EMAIL, Browsing, Portal, open_page
from tests.browser.test_journeys import OVERFLOW_TOLERANCE, log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser: Browser, portal: Portal, js: bool) -> Iterator[Browsing]:
    yield from open_page(browser, portal, js=js, width=360, height=740)


def test_plan_a_visit_see_it_in_the_week_and_complete_it(phone: Browsing, portal: Portal) -> None:
    page = phone.page
    next_week = date.today() + timedelta(days=7)
    log_in(page, SALES_EMAIL)

    page.goto("/agenda")
    page.get_by_role("link", name="New task").first.click()
    page.select_option("#f-kind", "visit")
    page.fill("#f-title", "Revisar el pedido de otoño")
    page.select_option("#f-client", label="Óptica Núñez")
    page.fill("#f-day", next_week.isoformat())
    page.fill("#f-time", "10:30")
    page.select_option("#f-reminder", "15")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("h1")).to_have_text("Revisar el pedido de otoño")
    task_url = page.url

    page.goto("/agenda")
    this_week = page.locator("#agenda h2").first.inner_text()
    with page.expect_response(lambda answer: "/agenda?" in answer.url) as swapped:
        page.get_by_role("link", name="Next →").click()
    # With JavaScript htmx swaps the agenda and pushes the address; without, a new page.
    fragment = swapped.value.text().lstrip().startswith('<div id="agenda">')
    assert fragment == phone.js
    expect(page.locator("#agenda h2").first).not_to_have_text(this_week)
    expect(page).to_have_url(re.compile(r"date=\d{4}-\d{2}-\d{2}"))
    item = page.locator("#agenda .tasks a", has_text="Revisar el pedido de otoño")
    expect(item).to_contain_text("10:30")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360 + OVERFLOW_TOLERANCE

    item.click()
    expect(page).to_have_url(task_url)
    page.select_option("#f-kind", "visit")
    page.fill("#f-notes", "Pide muestras para la tienda de León")
    page.get_by_role("button", name="Mark done").click()
    expect(page.locator(".facts")).to_contain_text("Done")

    page.goto(f"/clients/{portal.client_ids['Óptica Núñez']}")
    expect(page.locator("#timeline")).to_contain_text("Pide muestras para la tienda de León")
    expect(page.locator("#tasks")).to_contain_text("No open tasks.")
    phone.assert_quiet()
