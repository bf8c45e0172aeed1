"""A web lead end to end in Chromium: the hosted form and the pasted snippet
become a client and a first-contact task, and the owner's email is delivered.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from portal.core import webforms
from portal.core.models import (
    Client,
    ConsentRecord,
    LeadSubmission,
    Profile,
    Task,
    User,
    WebForm,
)
from portal.core.permissions import read_grants, write_grants
from portal.database import db, open_database
from tests.browser.conftest import MANAGER_EMAIL, SALES_EMAIL, Browsing, Portal, open_page
from tests.browser.test_journeys import log_in
from tests.browser.test_vacations import wait_for_mail
from tests.conftest import Mailbox

pytestmark = pytest.mark.browser

KEY = "browser-form-key-0123456789"
CONSENT = "I agree to receive offers by email."
SECRET = "browser-test-secret-key"


def _database(tmp_path: Path) -> None:
    open_database(f"sqlite:///{tmp_path / 'data' / 'cartera.db'}")


@pytest.fixture
def form(portal: Portal, tmp_path: Path) -> WebForm:
    """A form whose leads go to the salesperson; her manager may see the leads."""
    _database(tmp_path)
    try:
        seller = User.get(User.email == SALES_EMAIL)
        fields = [
            {"name": spec.name, "required": spec.name in ("name", "email"),
             "label_es": spec.label_es, "label_en": spec.label_en}
            for spec in webforms.FIELDS
            if spec.name in ("name", "company", "email", "phone", "message")
        ]  # fmt: skip
        created = WebForm.create(
            name="Ask for a quote", key=KEY, language="en", fields=json.dumps(fields),
            consent_en=CONSENT, thanks_en="Thanks, we will call you today.",
            fallback_owner=seller, due_hours=2,
        )  # fmt: skip
        manager = User.get(User.email == MANAGER_EMAIL)
        profile = Profile.get_by_id(manager.profile_id)
        write_grants(profile, {**read_grants(profile), "menu.leads": ""})
        profile.save()
        return created
    finally:
        db.close()


def _stored(tmp_path: Path) -> tuple[Client, Task, list[ConsentRecord], list[str]]:
    _database(tmp_path)
    try:
        client = Client.get(Client.name == "Astilleros Ría")
        task = Task.get(Task.client == client)
        consents = list(ConsentRecord.select())
        statuses = [s.status for s in LeadSubmission.select().order_by(LeadSubmission.id)]
        return client, task, consents, statuses
    finally:
        db.close()


def test_a_visitor_fills_in_the_hosted_form_and_the_owner_hears_of_it(
    browsing: Browsing, form: WebForm, portal: Portal, mailbox: Mailbox, tmp_path: Path,
    browser: Browser,
) -> None:  # fmt: skip
    page = browsing.page
    page.goto(f"/f/{KEY}")
    expect(page.get_by_role("heading", name="Ask for a quote")).to_be_visible()
    # The honeypot is there for bots, not for people, on a phone too.
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 740})
        box = page.locator("input[name=url]").bounding_box()
        assert box is not None and box["x"] + box["width"] < 0
    page.get_by_label("Full name").fill("Íñigo Ruiz")
    page.get_by_label("Company").fill("Astilleros Ría")
    page.get_by_role("textbox", name="Email").fill("not an address")
    page.get_by_label("Phone").fill("944 000 111")
    page.get_by_label("Message").fill("Two boats to repair")
    page.get_by_label(CONSENT).check()
    # A person takes a few seconds; the form refuses faster ones as bots.
    page.wait_for_timeout(3200)
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#e-email")).to_have_text("Not a valid email address")
    # What was typed is kept; only the bad field needs fixing.
    expect(page.get_by_label("Company")).to_have_value("Astilleros Ría")

    page.get_by_role("textbox", name="Email").fill("inigo@astilleros.example")
    page.get_by_label(CONSENT).check()
    page.wait_for_timeout(3200)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Thanks, we will call you today.")).to_be_visible()

    client, task, consents, statuses = _stored(tmp_path)
    assert statuses == ["processed"]
    assert (client.status, client.owner.email) == ("lead", SALES_EMAIL)
    assert (task.source, task.status, task.assignee.email) == ("lead", "open", SALES_EMAIL)
    assert [record.text_shown for record in consents] == [CONSENT]
    mail = wait_for_mail(mailbox, SALES_EMAIL)
    assert "Astilleros Ría" in mail and f"/clients/{client.id}" in mail
    browsing.assert_quiet()

    # The salesperson's manager finds it among the team's new leads.
    for manager in open_page(browser, portal, js=browsing.js):
        log_in(manager.page, MANAGER_EMAIL)
        manager.page.goto("/leads?state=new")
        expect(manager.page.get_by_role("link", name="Astilleros Ría")).to_be_visible()
        manager.assert_quiet()


def test_the_snippet_pasted_in_another_page_posts_to_cartera(
    browsing: Browsing, form: WebForm, portal: Portal, mailbox: Mailbox, tmp_path: Path
) -> None:
    code = webforms.snippet(form, base_url=portal.url, secret=SECRET, language="en")
    page = browsing.page
    # A page that is not Cartera's, with the snippet as the company would paste it.
    page.set_content(f"<!doctype html><title>Company</title><h1>Contact us</h1>{code}")
    page.get_by_label("Full name").fill("Rosa Vidal")
    page.get_by_label("Company").fill("Astilleros Ría")
    page.get_by_role("textbox", name="Email").fill("rosa@astilleros.example")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Thanks, we will call you today.")).to_be_visible()

    client, task, consents, statuses = _stored(tmp_path)
    assert statuses == ["processed"] and consents == []
    assert task.assignee.email == SALES_EMAIL
    assert "Astilleros Ría" in wait_for_mail(mailbox, SALES_EMAIL)


def test_the_form_settings_fit_a_phone_screen(
    browser: Browser, form: WebForm, portal: Portal, tmp_path: Path
) -> None:
    _database(tmp_path)
    try:
        User.update(is_admin=True).where(User.email == MANAGER_EMAIL).execute()
    finally:
        db.close()
    for browsing in open_page(browser, portal, js=True, width=360, height=740):
        page = browsing.page
        log_in(page, MANAGER_EMAIL)
        page.goto(f"/admin/webforms/{form.id}")
        expect(page.locator("fieldset .table-wrap table")).to_be_visible()

        # The fields' table scrolls in its own box; the page does not.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        wrap = page.locator("fieldset .table-wrap").first
        assert wrap.evaluate("e => e.scrollWidth > e.clientWidth")
        for path in ("/admin/webforms", f"/admin/webforms/{form.id}/snippet", "/admin/lead-rules"):
            page.goto(path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
        browsing.assert_quiet()
