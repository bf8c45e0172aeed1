"""A manager over more people than one list holds gives a new client to one of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal.core import owner_picker
from portal.core.models import Client, Profile, User
from portal.database import db, open_database
from tests.browser.conftest import MANAGER_EMAIL, Browsing
from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser


def crowd_the_team(tmp_path: Path) -> None:
    """As many salespeople below the manager as make the form search instead of list."""
    # The server runs on this file; SQLite lets this process write beside it.
    open_database(f"sqlite:///{tmp_path / 'data' / 'cartera.db'}")
    try:
        team = Profile.get(Profile.name == "Comercial Norte")
        rows = [
            {"email": f"vendedor{n:03}@example.com", "name": f"Vendedor {n:03}", "profile": team}
            for n in range(owner_picker.THRESHOLD)
        ]
        User.insert_many(rows).execute()
    finally:
        db.close()


def owner_of(tmp_path: Path, name: str) -> str:
    open_database(f"sqlite:///{tmp_path / 'data' / 'cartera.db'}")
    try:
        return Client.get(Client.name == name).owner.name
    finally:
        db.close()


def test_a_manager_searches_for_the_new_clients_owner(browsing: Browsing, tmp_path: Path) -> None:
    crowd_the_team(tmp_path)
    page = browsing.page
    log_in(page, MANAGER_EMAIL)
    page.goto("/clients/new")
    expect(page.locator("#owner-current")).to_have_text("Now: Ramón Ibáñez")
    expect(page.locator('select[name="owner"]')).to_have_count(0)
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)

    page.fill("#f-name", "Talleres Peña")
    page.locator("#f-owner_q").press_sequentially("lucia")
    if browsing.js:
        choice = page.locator("#owner-matches").get_by_label(re.compile("Lucía Peña"))
        expect(choice).to_have_count(1)
        choice.check()
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(re.compile(r"/clients/\d+$"))
    assert owner_of(tmp_path, "Talleres Peña") == "Lucía Peña"
    browsing.assert_quiet()
