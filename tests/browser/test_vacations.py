"""Days off end to end in a real browser, with the email really delivered.

The salesperson asks with JavaScript off (plain forms); the manager approves
from the link in the email with JavaScript on, on a phone-sized screen.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import MANAGER_EMAIL, SALES_EMAIL, Browsing, Portal, open_page
from tests.browser.test_journeys import OVERFLOW_TOLERANCE, log_in
from tests.conftest import Mailbox

pytestmark = pytest.mark.browser

# How long to wait for the server's mail to reach the test's SMTP server: a bound.
MAIL_LIMIT_SECONDS = 10.0


def wait_for_mail(mailbox: Mailbox, address: str) -> str:
    deadline = time.monotonic() + MAIL_LIMIT_SECONDS
    while time.monotonic() < deadline:
        found = mailbox.to(address)
        if found:
            return found[-1].get_body(("plain",)).get_content()
        time.sleep(0.1)
    pytest.fail(f"no email reached {address}")


@pytest.fixture
def seller(browser: Browser, portal: Portal) -> Iterator[Browsing]:
    yield from open_page(browser, portal, js=False)


@pytest.fixture
def manager(browser: Browser, portal: Portal) -> Iterator[Browsing]:
    yield from open_page(browser, portal, js=True, width=360, height=740)


def test_request_approve_by_email_and_see_it_in_the_team_calendar(
    seller: Browsing, manager: Browsing, portal: Portal, mailbox: Mailbox
) -> None:
    today = date.today()
    start = today + timedelta(days=14 - today.weekday())  # a Monday two weeks ahead
    end = start + timedelta(days=2)

    page = seller.page
    log_in(page, SALES_EMAIL)
    page.goto("/vacations")
    page.get_by_role("link", name="Request days off").click()
    page.fill("#f-start", start.isoformat())
    page.fill("#f-end", end.isoformat())
    page.select_option("#f-last_half", "morning")
    page.fill("#f-comment", "Boda de mi hermana")
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_role("status")).to_contain_text("Request sent")
    expect(page.locator("#status")).to_have_text("Pending")

    body = wait_for_mail(mailbox, MANAGER_EMAIL)
    # Nobody chose a language, so mail speaks the company's default (Spanish).
    assert "Lucía Peña pide días libres" in body
    link = re.search(re.escape(portal.url) + r"/vacations/\d+", body)
    assert link, body

    other = manager.page
    log_in(other, MANAGER_EMAIL)
    expect(other.locator("header .badge")).to_have_text("1")
    other.goto(link.group(0))
    expect(other.locator("main")).to_contain_text("Boda de mi hermana")
    other.fill("#f-comment", "Que lo disfrutes")
    other.get_by_role("button", name="Approve").click()
    expect(other.locator("#status")).to_have_text("Approved")

    assert "Ramón Ibáñez ha aprobado tus días libres" in wait_for_mail(mailbox, SALES_EMAIL)
    page.reload()
    expect(page.locator("#status")).to_have_text("Approved")
    expect(page.locator("main")).to_contain_text("Que lo disfrutes")
    page.goto("/vacations")
    expect(page.locator("main")).to_contain_text("2.5")

    other.goto(f"/vacations/calendar?month={start:%Y-%m}")
    first_day = other.locator(".month > li", has_text=start.strftime("%b %-d"))
    expect(first_day.first).to_contain_text("Lucía Peña")
    expect(other.locator(".month")).to_contain_text("morning only")
    width = other.evaluate("document.documentElement.scrollWidth")
    assert width <= 360 + OVERFLOW_TOLERANCE
    seller.assert_quiet()
    manager.assert_quiet()
