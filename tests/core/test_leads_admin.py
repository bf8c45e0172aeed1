"""Administration of web forms: the editor, the snippet, the owner rules, permissions."""

from __future__ import annotations

import html
import json
import re

from starlette.testclient import TestClient

from portal.core.models import AssignmentRule, AssignmentRuleUser, AuditEntry, WebForm
from tests.conftest import grant, log_in, make_profile, make_user, post_form


def _admin(http: TestClient) -> tuple:
    office = make_profile("Marketing", kind="structural")
    grant(office, "menu.admin", "menu.admin.webforms")
    sellers = make_profile("Comercial")
    admin = make_user("mar@example.com", office, language="es")
    seller = make_user("sol@example.com", sellers)
    log_in(http, admin.email)
    return admin, seller


NEW_FORM = {
    "name": "Solicitud de presupuesto",
    "language": "es",
    "use_phone": "on",
    "use_company": "on",
    "required_company": "on",
    "label_es_company": "Nombre de tu empresa",
    "consent_es": "Acepto recibir ofertas.",
    "thanks_es": "Gracias, te llamamos pronto.",
    "due_hours": "8",
    "is_active": "on",
}


def test_the_administrator_creates_a_form_and_gets_its_snippet(
    http: TestClient, fast_passwords: None
) -> None:
    _admin_user, seller = _admin(http)
    page = http.get("/admin/webforms/new")
    assert page.status_code == 200 and '<html lang="es">' in page.text

    answer = post_form(http, "/admin/webforms/new", {**NEW_FORM, "fallback_owner": seller.id})
    assert answer.status_code == 303
    form = WebForm.get()
    assert len(form.key) >= 22 and form.due_hours == 8 and form.fallback_owner_id == seller.id
    fields = {item["name"]: item for item in json.loads(form.fields)}
    assert set(fields) == {"name", "email", "phone", "company"}
    assert fields["company"]["required"] and fields["company"]["label_es"] == (
        "Nombre de tu empresa"
    )
    assert AuditEntry.get(AuditEntry.action == "leads.form.created").object_id == form.id

    snippet = http.get(answer.headers["location"])
    code = html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", snippet.text, re.S)[1])
    assert f'action="http://127.0.0.1:8000/f/{form.key}"' in code
    assert 'name="company"' in code and "required" in code and "<script" not in code
    assert "Nombre de tu empresa" in code
    # The public page shows what was chosen, in the form's language.
    public = http.get(f"/f/{form.key}")
    assert "Nombre de tu empresa" in public.text and "Acepto recibir ofertas." in public.text


def test_the_editor_refuses_bad_values(http: TestClient, fast_passwords: None) -> None:
    _admin(http)
    bad = {**NEW_FORM, "name": "", "redirect_url": "javascript:alert(1)", "due_hours": "0"}
    answer = post_form(http, "/admin/webforms/new", bad)
    assert answer.status_code == 400
    for name in ("name", "redirect_url", "due_hours", "fallback_owner"):
        assert f'id="e-{name}"' in answer.text
    assert WebForm.select().count() == 0


def test_rules_are_edited_with_their_people(http: TestClient, fast_passwords: None) -> None:
    _admin_user, seller = _admin(http)
    answer = post_form(
        http,
        "/admin/lead-rules/new",
        {"name": "Madrid", "position": "5", "postal_prefixes": "28, 45", "countries": "es",
         "segment": "large", "members": [seller.id]},
    )  # fmt: skip
    assert answer.status_code == 303
    rule = AssignmentRule.get()
    assert (rule.postal_prefixes, rule.countries, rule.segment) == ("28 45", "ES", "large")
    assert [link.user_id for link in AssignmentRuleUser.select()] == [seller.id]
    listing = http.get("/admin/lead-rules")
    assert "Madrid" in listing.text and "Sol" in listing.text

    nobody = post_form(http, f"/admin/lead-rules/{rule.id}", {"name": "Madrid"})
    assert nobody.status_code == 400 and 'id="e-members"' in nobody.text
    assert post_form(http, f"/admin/lead-rules/{rule.id}/delete").status_code == 303
    assert AssignmentRule.select().count() == 0


def test_admin_pages_need_the_key_and_a_csrf_token(
    http: TestClient, other_http: TestClient, fast_passwords: None
) -> None:
    _admin_user, seller = _admin(http)
    without_token = http.post(
        "/admin/webforms/new", data={**NEW_FORM, "fallback_owner": str(seller.id)},
        follow_redirects=False,
    )  # fmt: skip
    assert without_token.status_code == 403
    assert WebForm.select().count() == 0

    log_in(other_http, seller.email)
    for path in ("/admin/webforms", "/admin/lead-rules", "/admin/lead-submissions"):
        assert other_http.get(path).status_code == 403


def test_the_form_page_has_a_title_per_language(http: TestClient, fast_passwords: None) -> None:
    _admin_user, seller = _admin(http)
    titles = {"title_es": "Pide tu presupuesto", "title_en": "Ask\r\nfor a quote"}
    data = {**NEW_FORM, **titles, "fallback_owner": seller.id}
    assert post_form(http, "/admin/webforms/new", data).status_code == 303
    form = WebForm.get()
    assert (form.title_es, form.title_en) == ("Pide tu presupuesto", "Ask for a quote")
    assert 'value="Ask for a quote"' in http.get(f"/admin/webforms/{form.id}").text

    english = http.get(f"/f/{form.key}?lang=en").text
    assert "<h1>Ask for a quote</h1>" in english and "<title>Ask for a quote</title>" in english
    assert "Pide tu presupuesto" not in english and ">Send<" in english
    assert "<h1>Pide tu presupuesto</h1>" in http.get(f"/f/{form.key}?lang=es").text
    # Without titles the page keeps the form's name, in either language.
    WebForm.update(title_es="", title_en="").execute()
    assert "<h1>Solicitud de presupuesto</h1>" in http.get(f"/f/{form.key}?lang=en").text
