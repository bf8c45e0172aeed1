from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import peewee
import pytest

from portal.core.importing import (
    IMPORT_FIELDS,
    RowResult,
    convert_rows,
    guess_mapping,
    write_clients,
)
from portal.core.models import Client, Contact, Profile, User
from portal.core.tabular import read_table
from portal.database import db
from tests.core.conftest import convert_upload

DATA = Path(__file__).parent.parent / "data"


def _convert(name: str, **options: str) -> list[RowResult]:
    return convert_upload((DATA / name).read_bytes(), name, **options)


def _convert_text(text: str, locale: str = "es") -> list[RowResult]:
    return convert_upload(text.encode(), locale=locale)


# -------------------------------------------------------------- mapping


def test_spanish_headers_are_mapped() -> None:
    headers = [
        "Nombre",
        "Apellidos",
        "E-mail",
        "Teléfono",
        "Móvil",
        "NIF/CIF",
        "Dirección",
        "Población",
        "C.P.",
        "Provincia",
        "País",
        "Página web",
        "Observaciones",
        "Facturación",
        "Nº empleados",
        "Fecha alta",
        "Zona",
        "Segmento",
        "Estado",
        "Comercial",
        "Cargo",
        "Sin usar",
    ]
    mapping = guess_mapping(headers)

    assert [mapping.get(i, "") for i in range(len(headers))] == [
        "first_name",
        "last_name",
        "email",
        "phone",
        "mobile",
        "fiscal_id",
        "address",
        "city",
        "postal_code",
        "province",
        "country",
        "website",
        "notes",
        "annual_revenue",
        "employees",
        "registered_on",
        "zone",
        "segment",
        "status",
        "owner_email",
        "contact_position",
        "",
    ]


def test_lone_nombre_is_the_whole_name() -> None:
    assert guess_mapping(["Nombre", "Empresa", "Notas"]) == {
        0: "name",
        1: "company",
        2: "notes",
    }
    assert guess_mapping(["Razón social", "CIF"]) == {0: "company", 1: "fiscal_id"}


def test_english_headers_are_mapped() -> None:
    headers = [
        "Name",
        "Company",
        "Email",
        "Phone",
        "Address",
        "City",
        "Zip",
        "Country",
        "Website",
        "Notes",
        "Annual revenue",
        "Employees",
        "Owner",
    ]
    mapping = guess_mapping(headers)
    assert list(mapping.values()) == [
        "name",
        "company",
        "email",
        "phone",
        "address",
        "city",
        "postal_code",
        "country",
        "website",
        "notes",
        "annual_revenue",
        "employees",
        "owner_email",
    ]


def test_salesforce_billing_columns_win_over_shipping() -> None:
    headers = [
        "SHIPPINGSTREET",
        "BILLINGSTREET",
        "SHIPPINGCITY",
        "BILLINGCITY",
        "OWNERSHIP",
        "FAX",
        "NAME",
    ]
    assert guess_mapping(headers) == {1: "address", 3: "city", 6: "name"}


def test_each_field_is_mapped_once() -> None:
    mapping = guess_mapping(["Email", "Correo", "Teléfono 1", "Teléfono 2"])
    assert mapping == {0: "email", 2: "phone"}
    assert set(mapping.values()) <= set(IMPORT_FIELDS)


# ----------------------------------------------------------- conversion


def test_salesforce_accounts_convert_without_errors() -> None:
    results = _convert("salesforce_accounts_export.csv", locale="en", region="US")
    raw = list(
        csv.DictReader(
            io.StringIO((DATA / "salesforce_accounts_export.csv").read_text("utf-8"), newline="")
        )
    )

    assert len(results) == 100
    assert [r.errors for r in results if r.errors] == []
    for result, source in zip(results, raw, strict=True):
        assert result.values["name"] == source["NAME"]
        assert result.values.get("address", "") == source["BILLINGSTREET"].strip()
    first = results[0].values
    assert first["address"] == "345 Shoreline Park\nMountain View, CA 94043\nUSA"
    assert first["annual_revenue"] == Decimal("30000000")
    assert str(first["annual_revenue"]) == "30000000"
    assert first["employees"] == 265
    assert first["phone"] == "+16508673450"
    assert first["status"] == "customer"
    assert first["kind"] == "company"
    assert first["website"] == "https://www.genepoint.com"
    assert results[0].line == 2 and results[-1].line == 101
    countries = {r.values["country"] for r in results}
    assert countries == {"US", "FR", "ES"}  # "USA", "France", or the default


def test_spanish_excel_file_converts_exactly() -> None:
    results = _convert("import_es_excel_bom_semicolon.csv")

    assert [r.errors for r in results] == [[], [], [], []]
    jose, maria, nandu, zoe = (r.values for r in results)
    assert jose["name"] == "José Ángel Muñoz Ibáñez"
    assert jose["kind"] == "person"
    assert jose["email"] == "ja.munoz@ejemplo.es"
    assert (jose["fiscal_id_type"], jose["fiscal_id"]) == ("nif", "12345678Z")
    assert (maria["fiscal_id_type"], maria["fiscal_id"]) == ("nie", "X1111111G")
    assert (nandu["fiscal_id_type"], nandu["fiscal_id"]) == ("cif", "A11111119")
    # Y1234567X has a correct check letter, so it is a valid NIE.
    assert (zoe["fiscal_id_type"], zoe["fiscal_id"]) == ("nie", "Y1234567X")
    assert nandu["name"] == "Ñandú Soluciones SL"
    assert nandu["kind"] == "company"
    assert zoe["name"] == "Zoë O'Brien-García"

    amounts = [r.values["annual_revenue"] for r in results]
    assert amounts == [
        Decimal("1234.56"),
        Decimal("-7.50"),
        Decimal("1000"),
        Decimal("0.1"),
    ]
    assert all(isinstance(a, Decimal) for a in amounts)
    assert [str(a) for a in amounts] == ["1234.56", "-7.50", "1000", "0.1"]
    assert jose["registered_on"] == date(2024, 2, 3)
    assert [r.values["phone"] for r in results] == [
        "+34600112233",
        "+34600112233",
        "+34912345678",
        "+34600112234",
    ]


def test_windows_1252_file_makes_companies_with_contacts() -> None:
    results = _convert("import_windows1252.csv")

    assert [r.errors for r in results] == [[], []]
    first, second = results
    assert first.values["name"] == "Construcciones Peña, S.L."
    assert first.values["kind"] == "company"
    assert first.values["notes"] == "Presupuesto 1.500 € – “urgente”"
    assert first.contact == {
        "name": "Iñaki García",
        "email": "",
        "phone": "",
        "position": "",
    }
    assert second.values["name"] == "Café Ñu"
    assert second.contact is not None and second.contact["name"] == "Begoña Ruíz"


def test_person_without_company_is_the_client() -> None:
    [result] = _convert_text("Nombre,Empresa,Email\nAna Ruiz,,ana@example.com\n")
    assert result.values["name"] == "Ana Ruiz"
    assert result.contact is None


def test_impossible_date_is_a_row_error() -> None:
    results = _convert_text("Nombre;Fecha alta\nAna;13/01/2024\nLuis;31/02/2024\n")

    assert results[0].values["registered_on"] == date(2024, 1, 13)
    assert results[1].errors == [("registered_on", "No such date")]
    assert "registered_on" not in results[1].values


def test_date_order_comes_from_the_column_then_the_locale() -> None:
    text = "Name,Registered on\nAna,03/02/2024\nLuis,12/31/2023\n"
    results = _convert_text(text, locale="es")
    assert results[0].values["registered_on"] == date(2024, 3, 2)

    ambiguous = "Name,Registered on\nAna,03/02/2024\n"
    assert _convert_text(ambiguous, "es")[0].values["registered_on"] == date(2024, 2, 3)
    assert _convert_text(ambiguous, "en")[0].values["registered_on"] == date(2024, 3, 2)


def test_row_errors_name_the_field_and_the_line() -> None:
    text = (
        "Nombre;Email;NIF;Estado;Empleados;Contacto email\n"
        ";ana@example.com;;;;\n"
        "Luis;luis@;12345678A;unknown;2,5;x@example.com\n"
    )
    first, second = _convert_text(text)

    assert first.line == 2
    assert first.errors == [("name", "A name is required")]
    assert second.line == 3
    assert dict(second.errors) == {
        "email": "Not a valid email address",
        "fiscal_id": "Not a valid Spanish NIF, NIE or CIF",
        "status": "Not one of: lead, prospect, customer",
        "employees": "Not a whole number",
        "contact_name": "A contact needs a name",
    }


def test_choices_accept_spanish_and_english_words() -> None:
    text = (
        "Name;Kind;Status;Segment\n"
        "A;Particular;Cliente potencial;Grande\n"
        "B;company;Customer - Direct;pequeña\n"
    )
    first, second = _convert_text(text)
    assert (first.values["kind"], first.values["status"], first.values["segment"]) == (
        "person",
        "prospect",
        "large",
    )
    assert (
        second.values["kind"],
        second.values["status"],
        second.values["segment"],
    ) == (
        "company",
        "customer",
        "small",
    )


def test_unknown_mapping_field_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown import fields"):
        convert_rows(
            read_table(b"Name\nA\n", "clients.csv"),
            {0: "nickname"},
            locale="es",
            phone_region="ES",
            default_country="ES",
        )


# -------------------------------------------------------------- writing


def _user(email: str) -> User:
    profile, _ = Profile.get_or_create(name="Sales")
    return User.create(email=email, name=email.split("@")[0], profile=profile)


def test_write_clients_stores_good_rows_in_one_go(memory_db: peewee.Database) -> None:
    boss = _user("boss@example.com")
    rep = _user("rep@example.com")
    text = (
        "Nombre,Empresa,Comercial,Email\n"
        "Iñaki García,Construcciones Peña,rep@example.com,obra@pena.example\n"
        "Begoña Ruíz,,,begona@example.com\n"
        "Luis,Otra SA,stranger@example.com,\n"
        ",,,\n"
        ",Sin Email,,bad@\n"
    )
    results = _convert_text(text)
    summary = write_clients(
        results,
        owner_for=lambda email: User.get_or_none(User.email == email),
        default_owner=boss,
    )

    assert (summary.created, summary.contacts) == (2, 1)
    assert summary.rejected == [
        (
            4,
            "owner_email",
            "Unknown owner, or not one you may choose: stranger@example.com",
        ),
        (6, "email", "Not a valid email address"),
    ]
    pena = Client.get(Client.name == "Construcciones Peña")
    assert pena.owner == rep
    assert pena.search_text == "construcciones pena obra@pena.example"
    assert [c.name for c in pena.contacts] == ["Iñaki García"]
    begona = Client.get(Client.name == "Begoña Ruíz")
    assert (begona.owner, begona.kind, begona.country) == (boss, "person", "ES")
    assert Contact.select().count() == 1


def test_write_clients_rolls_back_on_failure(memory_db: peewee.Database) -> None:
    boss = _user("boss@example.com")
    results = _convert_text("Name\nFirst\nSecond\n")
    results[1].values["kind"] = None  # NOT NULL: the second insert fails

    with pytest.raises(peewee.IntegrityError):
        write_clients(results, owner_for=lambda email: None, default_owner=boss)
    assert Client.select().count() == 0
    assert db.obj is memory_db


def test_national_phone_numbers_are_read_for_the_row_country() -> None:
    text = "Name;Phone;Country\nA;01 42 68 53 00;Francia\nB;600 11 22 33;\n"
    first, second = _convert_text(text)
    assert first.values["phone"] == "+33142685300"
    assert second.values["phone"] == "+34600112233"
