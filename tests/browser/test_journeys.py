"""What a salesperson does in a real browser, with JavaScript on and off.

With JavaScript the pages are boosted by htmx; without it every link and form
must still work as plain HTML.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (
    MANAGER_EMAIL,
    SALES_EMAIL,
    Browsing,
    Portal,
    open_page,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/cartera-360.png")
# A scroll bar or rounding may add a pixel or two; a real overflow is far more.
OVERFLOW_TOLERANCE = 2


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("header .who")).to_be_visible()


def mark_window(page: Page) -> None:
    """Leave a value on `window` that only survives while no full load happens."""
    page.evaluate("window.carteraMarker = 'still here'")


def marker(page: Page) -> object:
    return page.evaluate("window.carteraMarker")


def result_rows(page: Page) -> list[str]:
    return page.locator("#results tbody tr td:first-child").all_inner_texts()


def test_log_in_shows_the_team_and_log_out_ends_it(browsing: Browsing) -> None:
    page = browsing.page
    page.goto("/login")
    page.fill("#email", MANAGER_EMAIL)
    page.fill("#password", "not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")

    log_in(page, MANAGER_EMAIL)
    expect(page.locator("header .who")).to_contain_text("Ramón Ibáñez")
    menu = page.get_by_role("navigation", name="Main")
    menu.get_by_role("link", name="Clients").click()
    expect(page).to_have_url(re.compile(r"/clients$"))
    # The manager sees the salesperson's clients below them, not the peer team's.
    expect(page.locator("#results")).to_contain_text("Muñoz Ibáñez")
    expect(page.locator("#results")).not_to_contain_text("Cooperativa Agrícola")
    expect(page.locator(".filters")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/clients")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fclients$"))
    browsing.assert_quiet()


def test_search_finds_accented_names_from_plain_letters(browsing: Browsing) -> None:
    page = browsing.page
    log_in(page, SALES_EMAIL)
    page.goto("/clients")
    assert len(result_rows(page)) == 3
    assert "Cooperativa Agrícola del Sur" not in result_rows(page)

    if browsing.js:
        mark_window(page)
        # Typing alone searches: htmx swaps the rows after a short pause.
        page.fill("#q", "munoz")
        expect(page.locator("#results tbody tr")).to_have_count(1)
        assert marker(page) == "still here"
    else:
        page.fill("#q", "munoz")
        page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"[?&]q=munoz"))
    assert result_rows(page) == ["Muñoz Ibáñez"]
    expect(page.locator("#results .count")).to_contain_text("1 client")

    page.fill("#q", "PEÑA")
    page.press("#q", "Enter")
    expect(page.locator("#results")).to_contain_text("Ferretería Peña e Hijos")
    assert result_rows(page) == ["Ferretería Peña e Hijos"]
    if browsing.js:
        assert marker(page) == "still here"
    browsing.assert_quiet()


def test_open_and_edit_a_client(browsing: Browsing) -> None:
    page = browsing.page
    client_id = browsing.portal.client_ids["Muñoz Ibáñez"]
    log_in(page, SALES_EMAIL)
    page.goto("/clients")
    if browsing.js:
        mark_window(page)

    page.get_by_role("link", name="Muñoz Ibáñez").click()
    expect(page).to_have_url(re.compile(rf"/clients/{client_id}$"))
    expect(page.locator("h1")).to_have_text("Muñoz Ibáñez")
    expect(page.locator(".facts")).to_contain_text("Valladolid")

    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/clients/{client_id}/edit$"))
    expect(page.locator("#f-city")).to_have_value("Valladolid")
    page.fill("#f-city", "Logroño")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(rf"/clients/{client_id}$"))
    expect(page.locator(".facts")).to_contain_text("Logroño")
    expect(page.locator(".facts")).not_to_contain_text("Valladolid")
    if browsing.js:
        # hx-boost turned every click and the save into swaps, not page loads.
        assert marker(page) == "still here"

    page.goto("/clients?q=logrono")
    assert result_rows(page) == ["Muñoz Ibáñez"]
    browsing.assert_quiet()


def test_log_a_call_in_the_timeline(browsing: Browsing) -> None:
    page = browsing.page
    client_id = browsing.portal.client_ids["Óptica Núñez"]
    subject = "Llamada: pide presupuesto de gafas"
    log_in(page, SALES_EMAIL)
    page.goto(f"/clients/{client_id}")
    expect(page.locator("#timeline")).to_contain_text("No activity yet.")

    # Neither subject nor notes: the message shows next to the field.
    page.get_by_role("button", name="Save activity").click()
    expect(page.locator("#e-subject")).to_have_text("Write a subject or some notes.")
    expect(page.locator("#timeline")).to_contain_text("No activity yet.")

    page.select_option("#f-kind", "call")
    page.fill("#f-subject", subject)
    page.get_by_role("button", name="Save activity").click()

    expect(page).to_have_url(re.compile(rf"/clients/{client_id}(#timeline)?$"))
    entry = page.locator("#timeline li").first
    expect(entry).to_contain_text(subject)
    expect(entry.locator(".tag")).to_have_text("Call")
    expect(entry).to_contain_text("Lucía Peña")
    expect(page.locator("#timeline")).not_to_contain_text("No activity yet.")
    browsing.assert_quiet()


def test_import_a_spanish_excel_csv(browsing: Browsing, import_file: Path) -> None:
    page = browsing.page
    log_in(page, SALES_EMAIL)
    page.goto("/clients")
    page.get_by_role("link", name="Import").click()
    expect(page).to_have_url(re.compile(r"/clients/import$"))

    page.set_input_files("#file", import_file)
    page.get_by_role("button", name="Upload and review").click()
    expect(page).to_have_url(re.compile(r"/clients/import/[0-9a-f]+$"))
    expect(page.locator("main")).to_contain_text("4 rows found.")
    # The Spanish headers were recognised: Nombre, Apellidos, Email, NIF.
    mapping = page.locator("main form tbody tr")
    expect(mapping.nth(0)).to_contain_text("Nombre")
    assert page.locator("select[name=column_0]").input_value() == "first_name"
    assert page.locator("select[name=column_1]").input_value() == "last_name"
    assert page.locator("select[name=column_4]").input_value() == "fiscal_id"

    page.get_by_role("button", name="Preview").click()
    preview = page.locator("main table.report").last
    expect(preview).to_contain_text("Ñandú Soluciones SL")
    expect(preview).to_contain_text("12345678Z")
    # A person clicks seconds later; a test must wait for htmx to finish wiring
    # the swapped-in form, or the click may lose which button was pressed.
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)

    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("4 clients created.")
    page.get_by_role("link", name="Go to the clients").click()
    expect(page).to_have_url(re.compile(r"/clients$"))
    page.fill("#q", "nandu")
    page.press("#q", "Enter")
    # The unfiltered list already holds the name: wait for the search's rows.
    expect(page.locator("#results tbody tr")).to_have_count(1)
    assert result_rows(page) == ["Ñandú Soluciones SL"]
    browsing.assert_quiet()


@pytest.fixture
def phone(browser: Browser, portal: Portal) -> Iterator[Browsing]:
    yield from open_page(browser, portal, js=True, width=360, height=740)


def test_client_list_fits_a_phone_screen(phone: Browsing) -> None:
    page = phone.page
    log_in(page, SALES_EMAIL)
    page.goto("/clients")
    expect(page.locator("#results")).to_contain_text("Muñoz Ibáñez")

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360 + OVERFLOW_TOLERANCE
    page.screenshot(path=SCREENSHOT, full_page=True)
    phone.assert_quiet()


def test_check_every_row_then_import_and_undo(browsing: Browsing, import_file: Path) -> None:
    page = browsing.page
    log_in(page, SALES_EMAIL)
    page.goto("/clients/import")
    page.set_input_files("#file", import_file)
    page.get_by_role("button", name="Upload and review").click()
    expect(page).to_have_url(re.compile(r"/clients/import/[0-9a-f]+$"))
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)

    page.get_by_role("button", name="Check every row (dry run)").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    status = page.get_by_role("status")
    expect(status).to_contain_text("Dry run: nothing has been saved yet.")
    expect(status).to_contain_text("4 clients would be created.")

    page.get_by_role("button", name="Import these rows").click()
    expect(page.get_by_role("status")).to_contain_text("4 clients created.")
    page.goto("/clients?q=nandu")
    assert result_rows(page) == ["Ñandú Soluciones SL"]

    page.goto("/imports")
    page.get_by_role("link", name="import_es_excel_bom_semicolon.csv").click()
    page.get_by_role("button", name="Undo this import").click()
    expect(page.get_by_role("status")).to_contain_text("This import was undone.")
    page.goto("/clients?q=nandu")
    assert result_rows(page) == ["No client matches."]
    browsing.assert_quiet()
