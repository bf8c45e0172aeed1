"""The client pages over HTTP: forms, validation, locking, contacts, activity, list."""

from __future__ import annotations

import csv
import html
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
from starlette.testclient import TestClient

from portal.core import listing
from portal.core.models import Activity, Client, Contact, Notification, User
from tests.conftest import (
    CLIENT_KEYS,
    count_queries,
    grant,
    log_in,
    make_profile,
    make_user,
    post_form,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")


@dataclass
class Team:
    boss: User  # top of the tree: sees Ana's and Luis's clients
    ana: User  # signed in unless a test signs in someone else
    luis: User  # Ana's peer: neither sees the other's clients


@pytest.fixture
def team(http: TestClient) -> Team:
    top = grant(make_profile("Dirección"), *CLIENT_KEYS, discount="100")
    north = grant(make_profile("Norte", parent=top), *CLIENT_KEYS, discount="100")
    south = grant(make_profile("Sur", parent=top), *CLIENT_KEYS, discount="100")
    people = Team(
        boss=make_user("boss@example.com", top, language="en"),
        ana=make_user("ana@example.com", north, language="en"),
        luis=make_user("luis@example.com", south, language="en"),
    )
    log_in(http, "ana@example.com")
    return people


def add_client(owner: User, name: str, **extra: object) -> Client:
    client = Client(owner=owner, name=name, **extra)
    client.reindex()
    client.save()
    return client


def valid_form(who: User, /, **changes: object) -> dict[str, object]:
    form = {
        "name": "Acme Ibérica SL",
        "kind": "company",
        "status": "lead",
        "segment": "",
        "owner": who.id,
        "fiscal_id_type": "",
        "country": "ES",
    }
    return {**form, **changes}


def field_error(page: str, name: str) -> str:
    """The message shown next to a form field, or '' when there is none."""
    match = re.search(rf'<p class="error" id="e-{name}">(.*?)</p>', page, re.DOTALL)
    return html.unescape(match.group(1)) if match else ""


def row_ids(page: str) -> list[int]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [int(i) for i in re.findall(r'href="/clients/(\d+)"', body)]


def link(page: str, label: str) -> str | None:
    for href, text in re.findall(r'<a href="([^"]+)"[^>]*>([^<]*)</a>', page):
        if label in text:
            return html.unescape(href)
    return None


# ------------------------------------------------------------ create


def test_create_normalises_what_was_typed(http: TestClient, team: Team) -> None:
    decomposed = unicodedata.normalize("NFD", "Muñoz Hermanos")
    answer = post_form(
        http,
        "/clients/new",
        valid_form(
            team.ana,
            name=f"  {decomposed}  ",
            status="prospect",
            segment="small",
            zone="Norte",
            fiscal_id="12.345.678-z",
            email="Compras@Munoz-Hermanos.ES",
            phone="600 11 22 33",
            mobile="(+34) 611-22-33-44",
            website="www.munoz.example",
            latitude="40,4168",
            longitude="-3.7038",
            country="España",
            city="A Coruña",
        ),
    )

    assert answer.status_code == 303
    client = Client.get()
    assert answer.headers["location"] == f"/clients/{client.id}"
    assert client.name == "Muñoz Hermanos"
    assert unicodedata.is_normalized("NFC", client.name)
    assert (client.fiscal_id_type, client.fiscal_id) == ("nif", "12345678Z")
    assert client.email == "compras@munoz-hermanos.es"
    assert (client.phone, client.mobile) == ("+34600112233", "+34611223344")
    assert client.website == "https://www.munoz.example"
    assert (client.latitude, client.longitude) == (
        Decimal("40.4168"),
        Decimal("-3.7038"),
    )
    assert (client.country, client.status, client.segment) == (
        "ES",
        "prospect",
        "small",
    )
    assert client.owner_id == team.ana.id and client.version == 1
    detail = http.get(answer.headers["location"])
    assert detail.status_code == 200
    assert "Muñoz Hermanos" in detail.text and "+34600112233" in detail.text


def test_new_form_offers_the_visible_owners(http: TestClient, team: Team) -> None:
    page = http.get("/clients/new")

    assert page.status_code == 200
    assert f'<option value="{team.ana.id}" selected>' in page.text
    assert f'value="{team.luis.id}"' not in page.text


def test_boss_may_give_a_client_to_someone_below(http: TestClient, team: Team) -> None:
    log_in(http, "boss@example.com")

    answer = post_form(http, "/clients/new", valid_form(team.luis))

    assert answer.status_code == 303
    assert Client.get().owner_id == team.luis.id


# (field, typed value, message shown next to it); "@luis" and "@boss" stand for
# people Ana may not give a client to (a peer, and her own boss).
BAD_INPUTS = [
    ("name", "", "The name is required."),
    ("name", "   ", "The name is required."),
    ("name", "x" * 201, "At most 200 characters."),
    ("zone", "z" * 101, "At most 100 characters."),
    ("fiscal_id", "12345678A", "Not a valid Spanish NIF, NIE or CIF"),
    ("fiscal_id", "hello", "Not a valid Spanish NIF, NIE or CIF"),
    ("email", "ana@", "Not a valid email address"),
    ("email", "ana@example", "Not a valid email address"),
    ("email", "ana @example.com", "Not a valid email address"),
    ("phone", "12", "Not a valid phone number"),
    ("mobile", "call me", "Not a valid phone number"),
    ("website", "javascript:alert(1)", "Not a valid web address"),
    ("website", "http://localhost", "Not a valid web address"),
    ("website", "not a site", "Not a valid web address"),
    ("latitude", "91", "A number between -90 and 90."),
    ("latitude", "NaN", "A number between -90 and 90."),
    ("latitude", "north", "A number between -90 and 90."),
    ("longitude", "-180.5", "A number between -180 and 180."),
    ("longitude", "1e400", "A number between -180 and 180."),
    ("owner", "@luis", "Choose an owner among the people you can see."),
    ("owner", "@boss", "Choose an owner among the people you can see."),
    ("owner", "999999", "Choose an owner among the people you can see."),
    ("owner", "me", "Choose an owner among the people you can see."),
    ("status", "closed", "Choose one of the options."),
    ("segment", "huge", "Choose one of the options."),
    ("kind", "robot", "Choose one of the options."),
    ("fiscal_id_type", "ssn", "Choose one of the options."),
    ("country", "Narnia", "Unknown country"),
]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    BAD_INPUTS,
    ids=[f"{name}={value[:12]!r}" for name, value, _message in BAD_INPUTS],
)
def test_bad_input_is_refused_next_to_the_field(
    http: TestClient, team: Team, name: str, value: str, message: str
) -> None:
    if value.startswith("@"):
        value = str(getattr(team, value[1:]).id)

    answer = post_form(http, "/clients/new", valid_form(team.ana, **{name: value}))

    assert answer.status_code == 400
    assert field_error(answer.text, name) == message
    assert "Please correct the fields marked below." in answer.text
    assert Client.select().count() == 0
    if name != "name":
        # What was typed stays in the form, so nothing has to be typed again.
        assert 'value="Acme Ibérica SL"' in answer.text


def test_several_errors_are_reported_at_once(http: TestClient, team: Team) -> None:
    form = valid_form(team.ana, name="", email="nope", latitude="100")

    answer = post_form(http, "/clients/new", form)

    assert answer.status_code == 400
    assert field_error(answer.text, "name") and field_error(answer.text, "email")
    assert field_error(answer.text, "latitude")
    assert field_error(answer.text, "phone") == ""
    assert Client.select().count() == 0


def test_control_characters_are_dropped(http: TestClient, team: Team) -> None:
    # PostgreSQL refuses NUL in text; a pasted one must not turn into a server error.
    form = valid_form(team.ana, name="Acme\x00 SL\x07", notes="uno\ndos\x00")

    answer = post_form(http, "/clients/new", form)

    assert answer.status_code == 303
    client = Client.get()
    assert (client.name, client.notes) == ("Acme SL", "uno\ndos")


@pytest.mark.parametrize("path", ["/clients", "/clients/autocomplete", "/clients/export.csv"])
def test_control_characters_in_a_search_are_harmless(
    http: TestClient, team: Team, path: str
) -> None:
    add_client(team.ana, "Acme SL", zone="Norte")

    answer = http.get(path, params={"q": "ac\x00me", "zone": "Nor\x00te"})

    assert answer.status_code == 200


# -------------------------------------------------------------- edit


def _edit_form(page: str) -> dict[str, str]:
    form = {}
    for name, value in re.findall(
        r'<input id="f-(\w+)" name="\w+" type="\w+" value="([^"]*)"', page
    ):
        form[name] = html.unescape(value)
    for name, body in re.findall(
        r'<select id="f-(\w+)" name="\w+"[^>]*>(.*?)</select>', page, re.DOTALL
    ):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        form[name] = html.unescape(chosen.group(1)) if chosen else ""
    for name, value in re.findall(r'<textarea id="f-(\w+)"[^>]*>(.*?)</textarea>', page, re.DOTALL):
        form[name] = html.unescape(value)
    for name in re.findall(r'<input type="checkbox" name="(\w+)" checked>', page):
        form[name] = "on"
    form["version"] = re.search(r'name="version" value="(\d+)"', page).group(1)
    return form


def test_edit_saves_and_bumps_the_version(http: TestClient, team: Team) -> None:
    client = add_client(team.ana, "Acme", city="Lugo", email="a@acme.example")
    form = _edit_form(http.get(f"/clients/{client.id}/edit").text)
    assert (form["name"], form["city"], form["version"]) == ("Acme", "Lugo", "1")

    answer = post_form(http, f"/clients/{client.id}/edit", {**form, "name": "Acme Norte"})

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/clients/{client.id}"
    saved = Client.get_by_id(client.id)
    assert (saved.name, saved.city, saved.email, saved.version) == (
        "Acme Norte",
        "Lugo",
        "a@acme.example",
        2,
    )
    assert "acme norte" in saved.search_text


def test_invalid_edit_changes_nothing(http: TestClient, team: Team) -> None:
    client = add_client(team.ana, "Acme")
    form = _edit_form(http.get(f"/clients/{client.id}/edit").text)

    answer = post_form(http, f"/clients/{client.id}/edit", {**form, "name": "Otro", "email": "x@"})

    assert answer.status_code == 400
    assert field_error(answer.text, "email") == "Not a valid email address"
    saved = Client.get_by_id(client.id)
    assert (saved.name, saved.version) == ("Acme", 1)


def test_stale_edit_is_refused_and_the_first_save_kept(
    http: TestClient, other_http: TestClient, team: Team
) -> None:
    client = add_client(team.ana, "Acme")
    log_in(other_http, "boss@example.com")
    mine = _edit_form(http.get(f"/clients/{client.id}/edit").text)
    theirs = _edit_form(other_http.get(f"/clients/{client.id}/edit").text)

    first = post_form(other_http, f"/clients/{client.id}/edit", {**theirs, "name": "Boss"})
    second = post_form(http, f"/clients/{client.id}/edit", {**mine, "name": "Ana's"})

    assert first.status_code == 303
    assert second.status_code == 409
    assert "Someone else saved this client while you were editing." in second.text
    assert 'value="Ana&#39;s"' in second.text  # the loser's typing is not thrown away
    saved = Client.get_by_id(client.id)
    assert (saved.name, saved.version) == ("Boss", 2)


def test_edit_without_a_version_is_a_conflict(http: TestClient, team: Team) -> None:
    client = add_client(team.ana, "Acme")
    form = _edit_form(http.get(f"/clients/{client.id}/edit").text)
    del form["version"]

    answer = post_form(http, f"/clients/{client.id}/edit", {**form, "name": "Nuevo"})

    assert answer.status_code == 409
    assert Client.get_by_id(client.id).name == "Acme"


# ------------------------------------------------------------ delete


def test_delete_asks_then_deletes_with_contacts_and_activity(http: TestClient, team: Team) -> None:
    client = add_client(team.ana, "Acme")
    keep = add_client(team.ana, "Keep")
    Contact.create(client=client, name="Pepa")
    Activity.create(client=client, author=team.ana, kind="call", subject="Hola")

    question = http.get(f"/clients/{client.id}/delete")

    assert question.status_code == 200
    assert "Delete Acme?" in question.text
    assert f'action="/clients/{client.id}/delete"' in question.text
    assert Client.get_or_none(Client.id == client.id) is not None

    answer = post_form(http, f"/clients/{client.id}/delete")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/clients"
    assert Client.get_or_none(Client.id == client.id) is None
    assert Contact.select().count() == 0 and Activity.select().count() == 0
    assert Client.get_or_none(Client.id == keep.id) is not None
    assert http.get(f"/clients/{client.id}").status_code == 404


# ----------------------------------------------------- wrong clients


@pytest.mark.parametrize(
    "path",
    [
        "/clients/{missing}",
        "/clients/abc",
        "/clients/{missing}/edit",
        "/clients/{missing}/delete",
        "/clients/{missing}/timeline",
        "/clients/-1",
        "/clients/{peer}",
        "/clients/{peer}/edit",
        "/clients/{peer}/delete",
        "/clients/{peer}/timeline",
        "/clients/{peer}/contacts/{peer_contact}/edit",
        "/clients/{peer}/contacts/{peer_contact}/delete",
        "/clients/export.pdf",
    ],
)
def test_wrong_or_hidden_clients_are_not_found(http: TestClient, team: Team, path: str) -> None:
    peer = add_client(team.luis, "Secreto de Luis")
    contact = Contact.create(client=peer, name="Pepa")
    url = path.format(missing=999999, peer=peer.id, peer_contact=contact.id)

    answer = http.get(url)

    assert answer.status_code == 404
    assert "Secreto de Luis" not in answer.text


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/clients/{id}/edit", {"name": "Robado", "kind": "company", "status": "lead"}),
        ("/clients/{id}/delete", {}),
        ("/clients/{id}/contacts", {"name": "Intrusa"}),
        ("/clients/{id}/contacts/{contact}/edit", {"name": "Intrusa"}),
        ("/clients/{id}/contacts/{contact}/delete", {}),
        ("/clients/{id}/activities", {"kind": "call", "subject": "Intrusa"}),
    ],
)
def test_changes_to_hidden_clients_are_not_found(
    http: TestClient, team: Team, path: str, data: dict
) -> None:
    peer = add_client(team.luis, "Secreto de Luis")
    contact = Contact.create(client=peer, name="Pepa")

    answer = post_form(http, path.format(id=peer.id, contact=contact.id), data)

    assert answer.status_code == 404
    assert Client.get_by_id(peer.id).name == "Secreto de Luis"
    assert [c.name for c in Contact.select()] == ["Pepa"]
    assert Activity.select().count() == 0


# ---------------------------------------------------------- contacts


def test_contact_add_edit_and_remove(http: TestClient, team: Team) -> None:
    client = add_client(team.ana, "Acme")

    added = post_form(
        http,
        f"/clients/{client.id}/contacts",
        {
            "name": "Pepa Ruiz",
            "position": "Compras",
            "email": "Pepa@Acme.Example",
            "phone": "600 11 22 33",
        },
    )

    assert added.status_code == 303
    assert added.headers["location"] == f"/clients/{client.id}#contacts"
    contact = Contact.get()
    assert (contact.email, contact.phone) == ("pepa@acme.example", "+34600112233")
    assert "Pepa Ruiz" in http.get(f"/clients/{client.id}").text

    form = http.get(f"/clients/{client.id}/contacts/{contact.id}/edit")
    assert form.status_code == 200 and 'value="Pepa Ruiz"' in form.text
    edited = post_form(
        http,
        f"/clients/{client.id}/contacts/{contact.id}/edit",
        {"name": "Pepa Ruiz Gil", "position": "Dirección"},
    )
    assert edited.status_code == 303
    contact = Contact.get_by_id(contact.id)
    assert (contact.name, contact.position, contact.email) == (
        "Pepa Ruiz Gil",
        "Dirección",
        "",
    )

    question = http.get(f"/clients/{client.id}/contacts/{contact.id}/delete")
    assert question.status_code == 200 and "Remove Pepa Ruiz Gil?" in question.text
    assert Contact.select().count() == 1
    removed = post_form(http, f"/clients/{client.id}/contacts/{contact.id}/delete")
    assert removed.status_code == 303
    assert Contact.select().count() == 0


@pytest.mark.parametrize(
    ("fields", "name", "message"),
    [
        ({"name": ""}, "name", "The name is required."),
        ({"name": "Pepa", "email": "pepa@"}, "email", "Not a valid email address"),
        ({"name": "Pepa", "phone": "12"}, "phone", "Not a valid phone number"),
        ({"name": "P" * 151}, "name", "At most 150 characters."),
    ],
)
def test_bad_contacts_are_refused(
    http: TestClient, team: Team, fields: dict, name: str, message: str
) -> None:
    client = add_client(team.ana, "Acme")
    existing = Contact.create(client=client, name="Lola")

    added = post_form(http, f"/clients/{client.id}/contacts", fields)
    edited = post_form(http, f"/clients/{client.id}/contacts/{existing.id}/edit", fields)

    for answer in (added, edited):
        assert answer.status_code == 400
        assert field_error(answer.text, name) == message
    assert [c.name for c in Contact.select()] == ["Lola"]


def test_contact_of_another_client_is_not_found(http: TestClient, team: Team) -> None:
    mine = add_client(team.ana, "Acme")
    other = add_client(team.ana, "Beta")
    contact = Contact.create(client=other, name="Pepa")
    base = f"/clients/{mine.id}/contacts/{contact.id}"

    assert http.get(f"{base}/edit").status_code == 404
    assert http.get(f"{base}/delete").status_code == 404
    assert post_form(http, f"{base}/edit", {"name": "Cambiada"}).status_code == 404
    assert post_form(http, f"{base}/delete").status_code == 404
    assert http.get(f"/clients/{mine.id}/contacts/999999/edit").status_code == 404
    assert Contact.get_by_id(contact.id).name == "Pepa"


# ---------------------------------------------------------- activity


def test_activity_time_is_read_in_the_users_zone(http: TestClient, team: Team) -> None:
    make_user(
        "mx@example.com",
        team.ana.profile,
        language="en",
        time_zone="America/Mexico_City",
    )
    log_in(http, "mx@example.com")
    client = add_client(User.get(User.email == "mx@example.com"), "Cliente MX")

    answer = post_form(
        http,
        f"/clients/{client.id}/activities",
        {
            "kind": "visit",
            "subject": "Demo",
            "happened_at": "2026-03-01T09:00",
            "notes": "Llevar catálogo",
        },
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/clients/{client.id}#timeline"
    activity = Activity.get()
    assert activity.happened_at == datetime(2026, 3, 1, 15, 0)
    assert (activity.kind, activity.subject, activity.notes) == (
        "visit",
        "Demo",
        "Llevar catálogo",
    )
    # Shown back in the same zone it was typed in.
    detail = http.get(f"/clients/{client.id}").text
    assert "01/03/2026, 09:00" in detail


def test_activity_without_a_time_is_now(http: TestClient, team: Team) -> None:
    client = add_client(team.ana, "Acme")

    answer = post_form(
        http,
        f"/clients/{client.id}/activities",
        {"kind": "note", "notes": "Sin asunto"},
    )

    assert answer.status_code == 303
    activity = Activity.get()
    assert activity.author_id == team.ana.id
    assert abs(activity.happened_at - activity.created_at) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("fields", "name", "message"),
    [
        ({"kind": "party", "subject": "x"}, "kind", "Choose one of the options."),
        ({"kind": "call"}, "subject", "Write a subject or some notes."),
        ({"kind": "call", "subject": "s" * 201}, "subject", "At most 200 characters."),
        (
            {"kind": "call", "subject": "x", "happened_at": "yesterday"},
            "happened_at",
            "Not a valid date and time.",
        ),
        (
            {"kind": "call", "subject": "x", "happened_at": "2026-02-30T10:00"},
            "happened_at",
            "Not a valid date and time.",
        ),
    ],
)
def test_bad_activity_is_refused(
    http: TestClient, team: Team, fields: dict, name: str, message: str
) -> None:
    client = add_client(team.ana, "Acme")

    answer = post_form(http, f"/clients/{client.id}/activities", fields)

    assert answer.status_code == 400
    assert field_error(answer.text, name) == message
    assert Activity.select().count() == 0


def test_timeline_pages_through_every_activity_once(http: TestClient, team: Team) -> None:
    client = add_client(team.ana, "Acme")
    start = datetime(2026, 1, 1, 8, 0)
    for number in range(45):
        Activity.create(
            client=client,
            author=team.ana,
            kind="call",
            subject=f"Llamada {number:02d}",
            happened_at=start + timedelta(hours=number),
        )

    page = http.get(f"/clients/{client.id}").text
    seen = re.findall(r"<strong>(Llamada \d+)</strong>", page)
    more = link(page, "Older activity")
    while more:
        fragment = http.get(more, headers={"hx-request": "true"})
        assert fragment.status_code == 200
        assert "<html" not in fragment.text
        seen += re.findall(r"<strong>(Llamada \d+)</strong>", fragment.text)
        more = link(fragment.text, "Older activity")

    assert seen == [f"Llamada {n:02d}" for n in reversed(range(45))]
    plain = http.get(f"/clients/{client.id}/timeline?before=999999")
    assert plain.status_code == 200 and "<html" in plain.text


def test_timeline_follows_when_things_happened_not_when_logged(
    http: TestClient, team: Team
) -> None:
    client = add_client(team.ana, "Acme")
    base = datetime(2026, 3, 2, 9, 0)
    # Logged in this order; the middle one happened first.
    for subject, hours in (("Segunda", 5), ("Primera", 0), ("Tercera", 9)):
        Activity.create(
            client=client, author=team.ana, kind="visit", subject=subject,
            happened_at=base + timedelta(hours=hours),
        )  # fmt: skip
    page = http.get(f"/clients/{client.id}").text
    shown = re.findall(r"<strong>(Primera|Segunda|Tercera)</strong>", page)
    assert shown == ["Tercera", "Segunda", "Primera"]


# -------------------------------------------------------------- list


def test_search_ignores_case_and_accents(http: TestClient, team: Team) -> None:
    add_client(team.ana, "Muñoz Hermanos")
    add_client(team.ana, "jose perez")
    add_client(team.ana, "Otra Empresa", city="Ávila")
    add_client(team.luis, "Muñoz de Luis")

    def names(q: str) -> set[str]:
        page = http.get("/clients", params={"q": q}).text
        return {c.name for c in Client.select().where(Client.id.in_(row_ids(page) or [0]))}

    assert names("munoz") == {"Muñoz Hermanos"}
    assert names("MUÑOZ") == {"Muñoz Hermanos"}
    assert names("JOSÉ") == {"jose perez"}
    assert names("avila") == {"Otra Empresa"}
    assert names("perez jose") == {"jose perez"}
    assert names("nadie") == set()
    assert "No client matches." in http.get("/clients?q=nadie").text


def test_a_percent_sign_or_underscore_in_a_search_is_a_character(
    http: TestClient, team: Team
) -> None:
    for name in ("Rebajas 100% Norte", "Rebajas 1000 Norte", "Taller_Uno", "TallerXUno"):
        add_client(team.ana, name)

    def names(q: str) -> set[str]:
        page = http.get("/clients", params={"q": q}).text
        return {c.name for c in Client.select().where(Client.id.in_(row_ids(page) or [0]))}

    assert names("100%") == {"Rebajas 100% Norte"}
    assert names("taller_uno") == {"Taller_Uno"}
    assert names("100% norte") == {"Rebajas 100% Norte"}
    # The export reads the same filters.
    exported = http.get("/clients/export.csv", params={"q": "100%"}).text
    assert "Rebajas 100% Norte" in exported
    assert "Rebajas 1000 Norte" not in exported


def test_filters_narrow_the_list(http: TestClient, team: Team) -> None:
    log_in(http, "boss@example.com")
    a = add_client(team.ana, "A", status="customer", segment="large", zone="Norte")
    b = add_client(team.ana, "B", status="lead", segment="small", zone="Norte")
    c = add_client(team.luis, "C", status="customer", segment="small", zone="Sur")

    def ids(**params: object) -> set[int]:
        return set(row_ids(http.get("/clients", params=params).text))

    assert ids() == {a.id, b.id, c.id}
    assert ids(status="customer") == {a.id, c.id}
    assert ids(segment="small") == {b.id, c.id}
    assert ids(zone="Norte") == {a.id, b.id}
    assert ids(owner=team.luis.id) == {c.id}
    assert ids(status="customer", zone="Norte") == {a.id}
    # Values outside the allow-lists are ignored, not errors.
    assert ids(status="deleted", segment="x", owner="abc") == {a.id, b.id, c.id}


def test_owner_filter_cannot_reach_outside_the_scope(http: TestClient, team: Team) -> None:
    add_client(team.luis, "Secreto de Luis")

    page = http.get("/clients", params={"owner": team.luis.id})

    assert page.status_code == 200
    assert row_ids(page.text) == []
    assert "Secreto de Luis" not in page.text
    assert "0 clients" in page.text


def test_unknown_sort_falls_back_to_the_name(http: TestClient, team: Team) -> None:
    for name in ("Zeta", "alfa", "Ñandú", "Nube", "Oro"):
        add_client(team.ana, name)

    page = http.get("/clients", params={"sort": "password_hash"})
    by_city = http.get("/clients", params={"sort": "city", "dir": "desc"})

    assert page.status_code == by_city.status_code == 200
    names = [Client.get_by_id(i).name for i in row_ids(page.text)]
    assert names == ["alfa", "Nube", "Ñandú", "Oro", "Zeta"]


def _walk(http: TestClient, url: str, label: str) -> tuple[list[list[int]], str]:
    """Follow the `label` links from `url`: the ids of each page, and the last URL."""
    pages = []
    while True:
        page = http.get(url)
        assert page.status_code == 200
        pages.append(row_ids(page.text))
        assert len(pages) < 20, "the pager does not end"
        following = link(page.text, label)
        if following is None:
            return pages, url
        url = following


@pytest.mark.parametrize(
    ("sort", "descending"),
    [
        ("name", False),
        ("name", True),
        ("city", False),
        ("updated", True),
        ("created", False),
        ("status", True),
    ],
)
def test_pager_never_repeats_or_skips(
    http: TestClient, team: Team, sort: str, descending: bool
) -> None:
    names = ["Álvarez", "alvarez", "Ñandú", "Nadal", "Zoë", "zapata", "Éxito", "Muñoz"]
    base = datetime(2026, 1, 1, 9, 0)
    clients = []
    for number in range(130):
        # Many ties on every sort key, and whole-second times, so the id decides.
        client = Client(
            owner=team.ana,
            name=names[number % 8],
            city=["Lugo", "León", ""][number % 3],
            status=["lead", "customer"][number % 2],
            created_at=base + timedelta(seconds=number // 7),
            updated_at=base + timedelta(microseconds=number // 5),
        )
        client.reindex()
        clients.append(client)
    Client.bulk_create(clients, batch_size=50)
    key = listing.SORTS[sort]
    order = (key.desc(), Client.id.desc()) if descending else (key, Client.id)
    expected = [c.id for c in Client.select(Client.id).order_by(*order)]
    params = f"sort={sort}&size=25" + ("&dir=desc" if descending else "")

    forward, last_url = _walk(http, f"/clients?{params}", "Next")
    backward, first_url = _walk(http, last_url, "Previous")

    assert [len(p) for p in forward] == [25, 25, 25, 25, 25, 5]
    assert [i for p in forward for i in p] == expected
    assert backward == list(reversed(forward))
    assert "before=" in first_url


def test_broken_cursor_starts_again(http: TestClient, team: Team) -> None:
    first = add_client(team.ana, "Alfa")
    for cursor in ("!!!", "WzEsMl0", "eyJhIjogMX0", "W251bGwsICJ4Il0"):
        page = http.get("/clients", params={"after": cursor})
        assert page.status_code == 200
        assert row_ids(page.text) == [first.id]


@pytest.mark.parametrize(
    ("language", "capped", "exact"),
    [("en", "10,000+ clients", "5 clients"), ("es", "10.000", "5 ")],
)
def test_count_is_capped(
    http: TestClient,
    team: Team,
    monkeypatch: pytest.MonkeyPatch,
    language: str,
    capped: str,
    exact: str,
) -> None:
    User.update(language=language).where(User.id == team.ana.id).execute()
    monkeypatch.setattr(listing, "COUNT_CAP", 5)
    for number in range(5):
        add_client(team.ana, f"Cliente {number}")

    at_cap = http.get("/clients").text
    add_client(team.ana, "Uno más")
    over_cap = http.get("/clients").text

    count = re.compile(r'<p class="count">\s*(.*?)\s*·', re.DOTALL)
    assert count.search(at_cap).group(1).startswith(exact)
    assert capped in count.search(over_cap).group(1)
    assert len(row_ids(over_cap)) == 6  # the cap limits the count, not the rows


def test_htmx_gets_only_the_results(http: TestClient, team: Team) -> None:
    add_client(team.ana, "Muñoz Hermanos")

    full = http.get("/clients?q=munoz")
    fragment = http.get("/clients?q=munoz", headers={"hx-request": "true"})
    restore = http.get(
        "/clients?q=munoz",
        headers={"hx-request": "true", "hx-history-restore-request": "true"},
    )
    boosted = http.get("/clients?q=munoz", headers={"hx-request": "true", "hx-boosted": "true"})

    assert full.status_code == fragment.status_code == restore.status_code == 200
    assert boosted.status_code == 200 and "<html" in boosted.text
    assert "<html" in full.text and 'id="results"' in full.text
    assert "<html" not in fragment.text and "<form" not in fragment.text
    assert fragment.text.lstrip().startswith('<section id="results">')
    assert "Muñoz Hermanos" in fragment.text
    assert "<html" in restore.text and "Muñoz Hermanos" in restore.text
    for answer in (full, fragment, restore, boosted):
        assert "HX-Request" in answer.headers["vary"]


def test_the_list_runs_the_same_few_queries_whatever_its_length(
    http: TestClient, team: Team
) -> None:
    Notification.create(user=team.ana, text="Your request was approved")

    def run(url: str) -> tuple[int, str]:
        with count_queries() as seen:
            answer = http.get(url)
        assert answer.status_code == 200
        return len(seen), answer.text

    # The first page after a start (or a change of tags, zones or views) reads
    # them; the pages after it find them kept (portal/core/catalogue.py).
    run("/clients")
    empty, page = run("/clients")
    for i in range(120):
        add_client(team.ana if i % 2 else team.luis, f"Cliente {i:03}")
    sizes = [run(f"/clients?size={size}")[0] for size in (25, 50, 100)]

    assert sizes == [empty] * 3 and empty <= 5
    # The header's unread badge comes with the session's row, not a query of its own.
    assert re.search(r'<span class="badge"[^>]*>1</span>', page)


# ------------------------------------------------------------ export


def _csv_rows(answer: object) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


def test_csv_export_opens_in_excel_with_accents(http: TestClient, team: Team) -> None:
    add_client(team.ana, "Muñoz Hermanos", city="A Coruña", notes="Línea 1\nLínea 2")

    answer = http.get("/clients/export.csv")

    assert answer.status_code == 200
    assert answer.content.startswith(b"\xef\xbb\xbf")
    assert "Muñoz Hermanos".encode() in answer.content
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="clients.csv"' in answer.headers["content-disposition"]
    (row,) = _csv_rows(answer)
    assert (row["Name"], row["City"], row["Notes"]) == (
        "Muñoz Hermanos",
        "A Coruña",
        "Línea 1\nLínea 2",
    )
    assert row["Owner"] == "ana@example.com"


def test_exports_neutralise_formulas(http: TestClient, team: Team) -> None:
    add_client(team.ana, '=HYPERLINK("x")', city="+34 Lugo", notes="@SUM(A1)")

    text = http.get("/clients/export.csv")
    workbook = http.get("/clients/export.xlsx")

    (row,) = _csv_rows(text)
    assert row["Name"] == '\'=HYPERLINK("x")'
    assert (row["City"], row["Notes"]) == ("'+34 Lugo", "'@SUM(A1)")
    assert workbook.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    cell = sheet.cell(row=2, column=header.index("Name") + 1)
    assert cell.value == '=HYPERLINK("x")' and cell.data_type == "s"


def test_export_follows_the_filters_and_the_scope(http: TestClient, team: Team) -> None:
    add_client(team.ana, "Muñoz Cliente", status="customer")
    add_client(team.ana, "Muñoz Lead", status="lead")
    add_client(team.ana, "Otro Cliente", status="customer")
    add_client(team.luis, "Muñoz de Luis", status="customer", visible_to_all=False)

    page = http.get("/clients?q=munoz&status=customer&sort=city&after=xyz")
    export_url = link(page.text, "CSV")
    answer = http.get(export_url)
    everything = http.get("/clients/export.xlsx")

    assert [row["Name"] for row in _csv_rows(answer)] == ["Muñoz Cliente"]
    sheet = openpyxl.load_workbook(io.BytesIO(everything.content)).active
    names = sorted(row[1] for row in sheet.iter_rows(min_row=2, values_only=True))
    assert names == ["Muñoz Cliente", "Muñoz Lead", "Otro Cliente"]


def test_a_shared_client_is_seen_but_not_changed_by_another_team(
    http: TestClient, team: Team
) -> None:
    shared = add_client(team.luis, "Cuenta Clave SA", visible_to_all=True)
    page = http.get(f"/clients/{shared.id}")
    assert page.status_code == 200 and "Cuenta Clave SA" in page.text
    assert f"/clients/{shared.id}/edit" not in page.text

    edit = {**valid_form(team.ana), "version": "1"}
    assert http.get(f"/clients/{shared.id}/edit").status_code == 404
    assert http.get(f"/clients/{shared.id}/delete").status_code == 404
    assert post_form(http, f"/clients/{shared.id}/edit", edit).status_code == 404
    assert post_form(http, f"/clients/{shared.id}/delete").status_code == 404
    kept = Client.get_by_id(shared.id)
    assert (kept.owner_id, kept.name, kept.version) == (team.luis.id, "Cuenta Clave SA", 1)

    # Working with it is allowed: the whole company shares this account.
    note = {"kind": "call", "subject": "Llamada de seguimiento"}
    assert post_form(http, f"/clients/{shared.id}/activities", note).status_code == 303


def test_keeping_an_owner_who_has_left_is_allowed(http: TestClient, team: Team) -> None:
    client = add_client(team.ana, "Heredado SL")
    User.update(is_active=False).where(User.id == team.ana.id).execute()
    log_in(http, "boss@example.com")
    form = http.get(f"/clients/{client.id}/edit").text
    assert f'value="{team.ana.id}" selected' in form
    answer = post_form(http, f"/clients/{client.id}/edit", {**valid_form(team.ana), "version": "1"})
    assert answer.status_code == 303, answer.text
    assert Client.get_by_id(client.id).owner_id == team.ana.id
