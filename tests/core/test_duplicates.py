"""Likely duplicates: found by tax ID, email, phone or a similar name in the same
city; warned about on create and edit; never named outside the user's scope."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from portal.core.duplicates import Candidate, likely_duplicates, name_key, similar_names
from portal.core.models import Client
from portal.core.visibility import Scope
from tests.conftest import post_form
from tests.core.test_client_pages import Team, add_client, team, valid_form

__all__ = ["team"]
pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Talleres García S.L.", "TALLERES GARCIA SL"),
        ("Distribuciones Núñez, S.A.", "Distribuciones Nuñez SA"),
        ("Bodegas del Río", "Bodegas Rio"),
        ("Ferretería López Hermanos", "Ferreteria Lopez Hnos"),
        ("García Talleres", "Talleres García"),
    ],
)
def test_names_that_are_the_same_business(first: str, second: str) -> None:
    assert similar_names(first, second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Talleres García", "Talleres Gómez"),
        ("Panadería Sol", "Farmacia Sol"),
        ("S.L.", "Acme"),
    ],
)
def test_names_of_different_businesses(first: str, second: str) -> None:
    assert not similar_names(first, second)


def test_legal_forms_do_not_count() -> None:
    assert name_key("Construcciones Pérez y Cía, S.L.U.") == "construcciones perez"


def test_each_reason_is_found_and_the_client_itself_is_not(team: Team) -> None:
    by_id = add_client(team.ana, "Uno", fiscal_id="B12345674", city="Soria")
    by_email = add_client(team.ana, "Dos", email="compras@dos.example")
    by_phone = add_client(team.ana, "Tres", mobile="+34611223344")
    by_name = add_client(team.ana, "Cerámicas Ortega S.L.", city="Talavera")
    add_client(team.ana, "Cerámicas Ortega S.L.", city="Toledo")  # another city
    scope = Scope.for_user(team.ana)

    def reasons(**values: object) -> dict[int | None, str]:
        found = likely_duplicates(Candidate(**values), scope)
        return {match.client_id: match.reason for match in found}

    assert reasons(fiscal_id="B12345674") == {by_id.id: "fiscal_id"}
    assert reasons(email=" Compras@DOS.example ") == {by_email.id: "email"}
    assert reasons(phones=("+34611223344",)) == {by_phone.id: "phone"}
    assert reasons(name="CERAMICAS ORTEGA SL", city="talavera") == {by_name.id: "name"}
    assert reasons(fiscal_id="B12345674", client_id=by_id.id) == {}
    # Without a city only the very same name counts, wherever it is.
    assert reasons(name="Cerámicas Ortiz", city="") == {}
    assert len(reasons(name="CERÁMICAS ORTEGA, S.L.", city="")) == 2


def test_a_match_outside_the_scope_is_not_named(team: Team) -> None:
    hidden = add_client(team.luis, "Secreto del Sur", fiscal_id="B12345674", city="Cádiz")

    [match] = likely_duplicates(Candidate(fiscal_id="B12345674"), Scope.for_user(team.ana))
    assert (match.reason, match.visible, match.client_id, match.name) == (
        "fiscal_id", False, None, ""
    )  # fmt: skip
    [seen] = likely_duplicates(Candidate(fiscal_id="B12345674"), Scope.for_user(team.boss))
    assert (seen.client_id, seen.name) == (hidden.id, "Secreto del Sur")


def test_create_warns_then_saves_when_confirmed(http: TestClient, team: Team) -> None:
    existing = add_client(team.ana, "Acme Ibérica SL", email="info@acme.example")
    form = valid_form(team.ana, email="INFO@acme.example")

    warned = post_form(http, "/clients/new", form)
    assert warned.status_code == 409
    assert "may already exist" in warned.text
    assert f'href="/clients/{existing.id}"' in warned.text
    assert "same email" in warned.text
    assert Client.select().count() == 1

    saved = post_form(http, "/clients/new", {**form, "not_duplicate": "on"})
    assert saved.status_code == 303
    assert Client.select().count() == 2


def test_warning_about_another_team_reveals_nothing(http: TestClient, team: Team) -> None:
    hidden = add_client(team.luis, "Secreto del Sur", phone="+34955123456", city="Cádiz")

    warned = post_form(http, "/clients/new", valid_form(team.ana, phone="955 12 34 56"))
    assert warned.status_code == 409
    assert "another portfolio" in warned.text
    assert "Secreto" not in warned.text and "Cádiz" not in warned.text
    assert f"/clients/{hidden.id}" not in warned.text
    assert Client.select().count() == 1


def test_edit_warns_only_when_identifying_fields_change(http: TestClient, team: Team) -> None:
    add_client(team.ana, "Acme Ibérica SL", email="info@acme.example")
    twin = add_client(team.ana, "Acme Ibérica SL", email="info@acme.example")
    form = valid_form(team.ana, email="info@acme.example", version=1)

    unchanged = post_form(http, f"/clients/{twin.id}/edit", {**form, "notes": "kept apart"})
    assert unchanged.status_code == 303

    other = add_client(team.ana, "Otra", fiscal_id="B12345674")
    changed = post_form(
        http, f"/clients/{other.id}/edit", valid_form(team.ana, name="Otra", version=1,
                                                       email="info@acme.example"),
    )  # fmt: skip
    assert changed.status_code == 409 and "same email" in changed.text
    assert Client.get_by_id(other.id).email == ""
