"""Objectives in a real browser on a phone: set one by plain form, read the page.

The server loads the plugin as `cartera serve` does, from its entry point.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect

from portal.core.models import Client, Opportunity, Pipeline, Profile, Stage, User
from portal.core.permissions import read_grants, write_grants
from portal.database import db, open_database
from tests.browser.conftest import MANAGER_EMAIL, SALES_EMAIL, Browsing, Portal, open_page
from tests.browser.test_journeys import OVERFLOW_TOLERANCE, log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def company(portal: Portal) -> Portal:
    """Everyone may open Objectives; the North head may set them; Lucía won a deal."""
    open_database(f"sqlite:///{portal.log_file.parent / 'data' / 'cartera.db'}")
    try:
        for profile in Profile.select():
            extra = {"menu.objectives": ""}
            if profile.name == "Jefatura Norte":
                extra["objectives.manage"] = ""
            write_grants(profile, {**read_grants(profile), **extra})
            profile.save()
        seller = User.get(User.email == SALES_EMAIL)
        pipeline = Pipeline.select().first() or Pipeline.create(name="Ventas")
        stage = Stage.create(pipeline=pipeline, name="Firmada", position=99, kind="won")
        Opportunity.create(
            client=Client.get(Client.owner == seller),
            owner=seller,
            title="Pedido de otoño",
            amount=Decimal("1500.00"),
            status="won",
            pipeline=pipeline,
            stage=stage,
            closed_on=date.today(),
        )
    finally:
        db.close()
    return portal


@pytest.fixture
def phone(browser: Browser, company: Portal, js: bool) -> Iterator[Browsing]:
    yield from open_page(browser, company, js=js, width=360, height=740)


def test_a_manager_sets_an_objective_and_reads_it_on_a_phone(phone: Browsing) -> None:
    page = phone.page
    log_in(page, MANAGER_EMAIL)
    page.goto("/objectives")
    page.get_by_role("link", name="Set an objective").click()
    page.select_option("#f-who", label="Lucía Peña")
    page.select_option("#f-metric", label="Value of won opportunities")
    page.fill("#f-target", "3000")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("heading", name="My team")).to_be_visible()
    row = page.locator("table.objectives-team tbody tr").first
    expect(row).to_contain_text("Lucía Peña")
    expect(row).to_contain_text("50%")
    # The team's rows stack as cards on a phone: nothing runs off the side,
    # and each person's curve unfolds under their row, without JavaScript.
    assert_fits(page)
    expect(row.locator("td.num").first).to_be_in_viewport()
    page.get_by_text("Curve of Lucía Peña").click()
    curve = page.locator(".objective-curve svg.objective-chart").first
    expect(curve).to_be_visible()
    box = curve.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 360
    assert_fits(page)
    # The measure selector narrows the ranking: to nothing for calls.
    page.select_option("#f-metric", label="Calls")
    if not phone.js:
        page.get_by_role("button", name="Show").click()
    expect(page.locator("table.objectives-team")).to_have_count(0)
    assert "metric=activities.calls" in page.url
    assert_fits(page)
    phone.assert_quiet()


def assert_fits(page: Page) -> None:
    """Nothing on the page is wider than the phone's 360 px."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360 + OVERFLOW_TOLERANCE
    # The table's scrolling wrapper hides a wide table from the page's width.
    widest = page.evaluate(
        "Math.max(...[...document.querySelectorAll('.objectives-team-section *')]"
        ".map(e => e.getBoundingClientRect().right))"
    )
    culprit = page.evaluate(
        "[...document.querySelectorAll('.objectives-team-section *')]"
        ".filter(e => e.getBoundingClientRect().right > 362)"
        ".map(e => `${e.tagName}.${e.className} ${e.getBoundingClientRect().right}`)"
        ".slice(0, 8).join(' | ')"
    )
    assert widest <= 360 + OVERFLOW_TOLERANCE, culprit
