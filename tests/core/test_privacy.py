"""Contacts' details and consent evidence; a person's copy of their data and erasure."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from portal.config import Settings
from portal.core import consent
from portal.core.models import (
    Activity,
    AuditEntry,
    Client,
    ClientMerge,
    ConsentRecord,
    Contact,
    Opportunity,
    Suppression,
)
from portal.hookspecs import hookimpl
from tests.conftest import (
    client_with_plugin,
    grant,
    log_in,
    make_profile,
    make_user,
    post_form,
)
from tests.core.test_client_pages import Team, add_client, field_error, team, valid_form

__all__ = ["team"]
pytestmark = pytest.mark.usefixtures("fast_passwords")

TEXT = "Acepto recibir ofertas comerciales por correo electrónico."


@pytest.fixture
def gdpr(team: Team) -> Team:
    """Ana's and her boss's profiles may hand over and erase personal data."""
    grant(team.ana.profile, "clients.gdpr")
    grant(team.boss.profile, "clients.gdpr")
    return team


def company_with_contact(team: Team) -> tuple[Client, Contact]:
    client = add_client(team.ana, "Talleres Ruiz SL")
    contact = Contact.create(
        client=client, name="Marta Ruiz", email="marta@ruiz.example", phone="+34600111222"
    )
    return client, contact


def _members(answer: object) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(answer.content))  # type: ignore[attr-defined]
    return {name: archive.read(name) for name in archive.namelist()}


# ------------------------------------------------------------- contacts


def test_contact_details_are_normalised(http: TestClient, team: Team) -> None:
    client = add_client(team.ana, "Talleres Ruiz SL")
    answer = post_form(
        http,
        f"/clients/{client.id}/contacts",
        {"name": "Marta Ruiz", "position": "Compras", "email": "Marta@Ruiz.example",
         "email_alt": " m.ruiz@gmail.example ", "mobile": "611 22 33 44", "language": "en"},
    )  # fmt: skip
    assert answer.status_code == 303
    contact = Contact.get()
    assert (contact.email, contact.email_alt, contact.mobile, contact.language) == (
        "marta@ruiz.example", "m.ruiz@gmail.example", "+34611223344", "en",
    )  # fmt: skip
    page = http.get(f"/clients/{client.id}").text
    assert "m.ruiz@gmail.example" in page and "Marketing consent not asked" in page


def test_bad_contact_details_are_refused(http: TestClient, team: Team) -> None:
    client = add_client(team.ana, "Talleres Ruiz SL")
    answer = post_form(
        http,
        f"/clients/{client.id}/contacts",
        {"name": "Marta", "email_alt": "no-es-correo", "mobile": "12", "language": "fr"},
    )
    assert answer.status_code == 400
    assert field_error(answer.text, "email_alt")
    assert field_error(answer.text, "mobile")
    assert field_error(answer.text, "language") == "Choose one of the options."
    assert Contact.select().count() == 0


# ------------------------------------------------------------- consent


def test_consent_is_recorded_with_its_evidence(http: TestClient, team: Team) -> None:
    client, contact = company_with_contact(team)
    url = f"/clients/{client.id}/contacts/{contact.id}"

    given = post_form(
        http, f"{url}/consent",
        {"state": "given", "method": "email", "text_shown": TEXT, "evidence": "Correo del 3/2"},
    )  # fmt: skip
    assert given.status_code == 303
    withdrawn = post_form(http, f"{url}/consent", {"state": "withdrawn", "method": "phone"})
    assert withdrawn.status_code == 303

    assert Contact.get_by_id(contact.id).marketing_consent == "withdrawn"
    records = list(ConsentRecord.select().order_by(ConsentRecord.id))
    assert [(r.state, r.method, r.actor_id, r.email) for r in records] == [
        ("given", "email", team.ana.id, "marta@ruiz.example"),
        ("withdrawn", "phone", team.ana.id, "marta@ruiz.example"),
    ]
    assert records[0].text_shown == TEXT and records[0].evidence == "Correo del 3/2"
    page = http.get(f"{url}/edit").text
    assert "Consent withdrawn" in page and TEXT in page and "By phone" in page
    # A company's contact withdrawing does not opt the whole company out.
    assert not Client.get_by_id(client.id).marketing_opt_out
    assert not consent.may_market_to(Contact.get_by_id(contact.id))


def test_consent_needs_the_text_shown_and_a_known_method(http: TestClient, team: Team) -> None:
    client, contact = company_with_contact(team)
    answer = post_form(
        http,
        f"/clients/{client.id}/contacts/{contact.id}/consent",
        {"state": "given", "method": "import"},
    )
    assert answer.status_code == 400
    assert field_error(answer.text, "text_shown") == (
        "Consent needs the text the person agreed to."
    )
    assert field_error(answer.text, "method") == "Choose one of the options."
    assert ConsentRecord.select().count() == 0
    assert Contact.get_by_id(contact.id).marketing_consent == ""


def test_a_person_withdrawing_opts_the_client_out(http: TestClient, team: Team) -> None:
    person = add_client(team.ana, "Lucía Gómez", kind="person")
    herself = Contact.create(client=person, name="Lucía Gómez", email="lucia@example.com")
    post_form(
        http, f"/clients/{person.id}/contacts/{herself.id}/consent",
        {"state": "withdrawn", "method": "in_person"},
    )  # fmt: skip
    assert Client.get_by_id(person.id).marketing_opt_out


def test_consent_of_another_team_is_not_found(http: TestClient, team: Team) -> None:
    theirs = add_client(team.luis, "Del Sur SL")
    contact = Contact.create(client=theirs, name="Pepe", email="pepe@sur.example")
    answer = post_form(
        http,
        f"/clients/{theirs.id}/contacts/{contact.id}/consent",
        {"state": "given", "method": "email", "text_shown": TEXT},
    )
    assert answer.status_code == 404
    assert ConsentRecord.select().count() == 0


# ------------------------------------------------------------- the copy


def test_a_contact_gets_everything_held_about_them(http: TestClient, gdpr: Team) -> None:
    client, contact = company_with_contact(gdpr)
    consent.record(contact, "given", "form", text_shown=TEXT, actor=gdpr.ana)
    Activity.create(client=client, author=gdpr.ana, kind="call", subject="Llamada a Marta Ruiz")
    Activity.create(client=client, author=gdpr.ana, kind="visit", subject="Visita al taller")

    answer = http.get(f"/clients/{client.id}/contacts/{contact.id}/personal-data.zip")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/zip"
    files = _members(answer)
    assert set(files) == {
        "personal-data.json", "contact.csv", "consent.csv", "activities.csv", "tasks.csv",
        "audit.csv",
    }  # fmt: skip
    data = json.loads(files["personal-data.json"])
    assert data["contact"][0]["email"] == "marta@ruiz.example"
    assert data["contact"][0]["client_name"] == "Talleres Ruiz SL"
    assert [a["subject"] for a in data["activities"]] == ["Llamada a Marta Ruiz"]
    assert data["consent"][0]["text_shown"] == TEXT
    rows = list(csv.DictReader(io.StringIO(files["contact.csv"].decode("utf-8-sig"))))
    assert rows[0]["name"] == "Marta Ruiz" and rows[0]["phone"] == "'+34600111222"
    assert AuditEntry.select().where(AuditEntry.action == "gdpr.contact.exported").count() == 1


def test_the_copy_needs_the_permission_and_the_scope(http: TestClient, team: Team) -> None:
    client, contact = company_with_contact(team)
    url = f"/clients/{client.id}/contacts/{contact.id}/personal-data.zip"
    assert http.get(url).status_code == 403
    assert (
        "Download everything"
        not in http.get(f"/clients/{client.id}/contacts/{contact.id}/edit").text
    )

    grant(team.luis.profile, "clients.gdpr")
    log_in(http, "luis@example.com")
    assert http.get(url).status_code == 404
    assert http.get(f"/clients/{client.id}/contacts/{contact.id}/erase").status_code == 404


def test_a_company_is_not_a_person(http: TestClient, gdpr: Team) -> None:
    client = add_client(gdpr.ana, "Talleres Ruiz SL")
    assert http.get(f"/clients/{client.id}/personal-data.zip").status_code == 404
    assert post_form(http, f"/clients/{client.id}/erase").status_code == 404
    assert Client.get_by_id(client.id).name == "Talleres Ruiz SL"


# ------------------------------------------------------------- erasure


def test_erasing_a_contact(http: TestClient, gdpr: Team) -> None:
    client, contact = company_with_contact(gdpr)
    other_client, bystander = company_with_contact(gdpr)
    consent.record(contact, "given", "form", text_shown=TEXT, evidence="IP 10.0.0.1")
    Activity.create(
        client=client, author=gdpr.ana, kind="email",
        subject="Oferta para Marta Ruiz", notes="Escribir a MARTA@ruiz.example o al +34600111222",
    )  # fmt: skip
    # Spelt without the accent, or by first name only.
    Activity.create(client=client, author=gdpr.ana, kind="call", subject="Llamada a MARTA",
                    notes="Martá Ruíz pide presupuesto; Martinez no")  # fmt: skip
    http.get(f"/clients/{client.id}/contacts/{contact.id}/personal-data.zip")
    kept = Activity.create(client=other_client, author=gdpr.ana, kind="note", notes="Marta Ruiz")
    url = f"/clients/{client.id}/contacts/{contact.id}/erase"

    question = http.get(url)
    assert question.status_code == 200 and "cannot be undone" in question.text
    assert Contact.select().count() == 2

    assert post_form(http, url).status_code == 303
    assert not Contact.select().where(Contact.id == contact.id).exists()
    assert Contact.select().where(Contact.id == bystander.id).exists()
    first, second = Activity.select().where(Activity.client == client.id).order_by(Activity.id)
    assert (first.subject, first.notes) == ("Oferta para […]", "Escribir a […] o al […]")
    assert (second.subject, second.notes) == ("Llamada a […]", "[…] pide presupuesto; Martinez no")
    # The entry of the download is about her too: it keeps no name.
    exported = AuditEntry.get(AuditEntry.action == "gdpr.contact.exported")
    assert exported.object_label == "[…]" and "Marta" not in exported.after
    assert Activity.get_by_id(kept.id).notes == "Marta Ruiz"
    [proof] = ConsentRecord.select()
    assert (proof.state, proof.email, proof.evidence, proof.contact_id) == ("given", "", "", None)
    assert consent.is_suppressed(" Marta@Ruiz.example")
    assert Suppression.select().count() == 1
    assert AuditEntry.select().where(AuditEntry.action == "gdpr.contact.erased").count() == 1


def test_erasing_a_person_client(http: TestClient, gdpr: Team) -> None:
    person = add_client(
        gdpr.ana, "Lucía Gómez Pardo", kind="person", email="lucia@example.com",
        phone="+34911222333", address="Calle Mayor 1", city="Soria", fiscal_id="12345678Z",
    )  # fmt: skip
    Contact.create(client=person, name="Lucía Gómez", email="lucia.trabajo@example.com")
    Activity.create(client=person, author=gdpr.ana, kind="call", notes="Le interesa el plan B")
    Opportunity.create(client=person, owner=gdpr.ana, title="Plan para Lucía Gómez Pardo")
    # Her history, under her id and under the id of a duplicate merged into her.
    ClientMerge.create(merged_id=person.id + 100, survivor=person)
    for object_id in (person.id, person.id + 100):
        AuditEntry.create(action="clients.owner.changed", object_type="client",
                          object_id=object_id, object_label="Lucía Gómez Pardo",
                          before='{"email": "lucia@example.com"}', after="{}")  # fmt: skip
    before = (Activity.select().count(), Opportunity.select().count())

    assert post_form(http, f"/clients/{person.id}/erase").status_code == 303
    erased = Client.get_by_id(person.id)
    assert erased.erased_at is not None and erased.marketing_opt_out
    assert (erased.email, erased.phone, erased.address, erased.city, erased.fiscal_id) == (
        "", "", "", "", ""
    )  # fmt: skip
    assert "lucia" not in erased.search_text and "gomez" not in erased.search_text
    assert Contact.select().count() == 0
    assert (Activity.select().count(), Opportunity.select().count()) == before
    assert Activity.get().notes == "" and Opportunity.get().title == "Plan para […]"
    assert consent.is_suppressed("lucia@example.com")
    assert consent.is_suppressed("lucia.trabajo@example.com")
    about = AuditEntry.select().where(AuditEntry.object_type == "client")
    assert [(e.before, e.after, e.object_label) for e in about] == [("{}", "{}", "[…]")] * 2
    listing = http.get("/clients?q=lucia").text
    assert f"/clients/{person.id}" not in listing
    page = http.get(f"/clients/{person.id}").text
    assert "was erased" in page and "Lucía" not in page


def test_erasure_outside_the_scope_touches_nothing(http: TestClient, gdpr: Team) -> None:
    theirs = add_client(gdpr.luis, "Pepe Pérez", kind="person", email="pepe@example.com")
    contact = Contact.create(client=theirs, name="Pepe", email="pepe@example.com")
    assert post_form(http, f"/clients/{theirs.id}/erase").status_code == 404
    url = f"/clients/{theirs.id}/contacts/{contact.id}/erase"
    assert post_form(http, url).status_code == 404
    assert Client.get_by_id(theirs.id).email == "pepe@example.com"
    assert Contact.select().count() == 1 and Suppression.select().count() == 0


class InvoicesLike:
    """A plugin holding data about people, which must keep issued invoices."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.erased: list[tuple[str, int]] = []

    @hookimpl
    def personal_data(self, kind: str, record_id: int) -> dict[str, list[dict]]:
        return {"invoices": [{"number": "F-2024-001", "kind": kind, "id": record_id}]}

    @hookimpl
    def erase_personal_data(self, kind: str, record_id: int) -> None:
        if self.fail:
            raise RuntimeError("invoice store unavailable")
        self.erased.append((kind, record_id))


@pytest.fixture
def plugin() -> InvoicesLike:
    return InvoicesLike()


@pytest.fixture
def plugin_http(settings: Settings, plugin: InvoicesLike) -> Iterator[TestClient]:
    with client_with_plugin(settings, plugin, "invoices-like") as client:
        yield client


def _signed_in_person(http: TestClient) -> Client:
    top = grant(make_profile("Dirección"), "menu.clients", "clients.gdpr")
    ana = make_user("ana@example.com", top, language="en")
    log_in(http, "ana@example.com")
    return add_client(ana, "Lucía Gómez", kind="person", email="lucia@example.com")


def test_personal_data_of_plugins_joins_the_copy_and_they_erase_their_part(
    plugin_http: TestClient, plugin: InvoicesLike
) -> None:
    person = _signed_in_person(plugin_http)
    files = _members(plugin_http.get(f"/clients/{person.id}/personal-data.zip"))
    assert json.loads(files["personal-data.json"])["invoices"][0]["number"] == "F-2024-001"
    assert "invoices.csv" in files

    assert post_form(plugin_http, f"/clients/{person.id}/erase").status_code == 303
    assert plugin.erased == [("client", person.id)]


@pytest.mark.parametrize("plugin", [InvoicesLike(fail=True)])
def test_erase_personal_data_failing_in_a_plugin_leaves_the_person_untouched(
    plugin_http: TestClient,
) -> None:
    person = _signed_in_person(plugin_http)
    Contact.create(client=person, name="Lucía", email="lucia@example.com")
    with pytest.raises(RuntimeError):
        post_form(plugin_http, f"/clients/{person.id}/erase")
    kept = Client.get_by_id(person.id)
    assert kept.email == "lucia@example.com" and kept.erased_at is None
    assert Contact.select().count() == 1 and Suppression.select().count() == 0
    assert not AuditEntry.select().where(AuditEntry.action.startswith("gdpr.")).exists()


def test_an_erased_address_cannot_be_given_consent_again(http: TestClient, gdpr: Team) -> None:
    client, contact = company_with_contact(gdpr)
    post_form(http, f"/clients/{client.id}/contacts/{contact.id}/erase")
    again = Contact.create(client=client, name="Marta R.", email="marta@ruiz.example")
    answer = post_form(
        http, f"/clients/{client.id}/contacts/{again.id}/consent",
        {"state": "given", "method": "email", "text_shown": TEXT},
    )  # fmt: skip
    assert answer.status_code == 400
    assert "may not be mailed again" in field_error(answer.text, "state")
    assert Contact.get_by_id(again.id).marketing_consent == ""


def test_a_client_can_be_opted_out_of_marketing_by_hand(http: TestClient, team: Team) -> None:
    client = add_client(team.ana, "Talleres Ruiz SL")
    form = valid_form(team.ana, name="Talleres Ruiz SL", version=1, marketing_opt_out="on")
    assert post_form(http, f"/clients/{client.id}/edit", form).status_code == 303
    assert Client.get_by_id(client.id).marketing_opt_out
    assert "Opted out" in http.get(f"/clients/{client.id}").text
