from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from decimal import Decimal

import openpyxl
import peewee
import pytest

from portal.core.exporting import CLIENT_EXPORT_COLUMNS, write_csv, write_xlsx
from portal.core.importing import write_clients
from portal.core.models import Client, Profile, User
from tests.core.conftest import convert_upload

NASTY_NAME = '=HYPERLINK("http://evil.example","Click")'


@pytest.fixture
def owner(memory_db: peewee.Database) -> User:
    profile = Profile.create(name="Sales")
    return User.create(email="rep@example.com", name="Rep", profile=profile)


def _client(owner: User, **values: object) -> Client:
    client = Client(owner=owner, **values)
    client.reindex()
    client.save()
    return client


def _clients() -> list[Client]:
    return list(Client.select(Client, User).join(User).order_by(Client.id))


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _xlsx_rows(data: bytes) -> list[tuple[object, ...]]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    book.close()
    return rows


def test_csv_is_utf8_with_bom_commas_and_crlf(owner: User) -> None:
    _client(
        owner,
        name="Ñandú Soluciones, SL",
        address="Calle Mayor 1\n28001 Madrid",
        annual_revenue=Decimal("1234.56"),
        registered_on=date(2024, 2, 3),
    )
    columns = [
        ("name", "Nombre"),
        ("address", "Dirección"),
        ("annual_revenue", "Importe"),
        ("registered_on", "Alta"),
        ("employees", "Empleados"),
        ("owner.email", "Comercial"),
    ]
    data = write_csv(_clients(), columns)

    assert data.startswith("\ufeffNombre,Dirección,".encode())
    assert data.count(b"\r\n") == 2  # the line break inside the address stays \n
    assert _csv_rows(data) == [
        ["Nombre", "Dirección", "Importe", "Alta", "Empleados", "Comercial"],
        [
            "Ñandú Soluciones, SL",
            "Calle Mayor 1\n28001 Madrid",
            "1234.56",
            "2024-02-03",
            "",
            "rep@example.com",
        ],
    ]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_neutralises_formula_starts(owner: User, start: str) -> None:
    _client(owner, name=start + "1+1", notes="fine", annual_revenue=Decimal("-7.50"))
    rows = _csv_rows(
        write_csv(
            _clients(),
            [("name", "Name"), ("notes", "Notes"), ("annual_revenue", "Revenue")],
        )
    )
    # Numbers are not text, so a negative amount keeps its sign.
    assert rows[1] == ["'" + start + "1+1", "fine", "-7.50"]


def test_xlsx_writes_numbers_dates_and_text_cells(owner: User) -> None:
    _client(
        owner,
        name="Zoë O'Brien-García",
        kind="person",
        phone="+34600112233",
        annual_revenue=Decimal("1234.56"),
        employees=3,
        registered_on=date(2024, 2, 3),
    )
    data = write_xlsx(_clients(), CLIENT_EXPORT_COLUMNS)
    header, row = _xlsx_rows(data)

    assert header == tuple(label for _, label in CLIENT_EXPORT_COLUMNS)
    values = dict(zip(header, row, strict=True))
    assert values["Name"] == "Zoë O'Brien-García"
    assert values["Phone"] == "+34600112233"
    assert values["Annual revenue"] == 1234.56
    assert values["Employees"] == 3
    assert values["Customer since"].date() == date(2024, 2, 3)
    assert values["Owner"] == "rep@example.com"
    assert values["Latitude"] is None


def test_formula_from_an_imported_csv_is_neutralised_on_export(owner: User) -> None:
    upload = f'Name,Notes\n"{NASTY_NAME.replace(chr(34), chr(34) * 2)}",@SUM(A1)\n'
    results = convert_upload(upload.encode(), locale="en", region="US", country="US")
    assert results[0].values["name"] == NASTY_NAME
    write_clients(results, owner_for=lambda email: None, default_owner=owner)
    columns = [("name", "Name"), ("notes", "Notes")]

    assert _csv_rows(write_csv(_clients(), columns))[1] == [
        "'" + NASTY_NAME,
        "'@SUM(A1)",
    ]

    data = write_xlsx(_clients(), columns)
    book = openpyxl.load_workbook(io.BytesIO(data))
    name_cell, notes_cell = book.worksheets[0][2]
    assert (name_cell.value, name_cell.data_type) == (NASTY_NAME, "s")
    assert (notes_cell.value, notes_cell.data_type) == ("@SUM(A1)", "s")
    book.close()
    assert b"<f>" not in _sheet_xml(data)


def test_headers_can_be_translated(owner: User) -> None:
    _client(owner, name="Ana")
    columns = [("name", "Nombre"), ("city", "Población")]
    assert _xlsx_rows(write_xlsx(_clients(), columns))[0] == ("Nombre", "Población")
    assert _csv_rows(write_csv(_clients(), columns))[0] == ["Nombre", "Población"]


def test_export_then_import_round_trips(owner: User) -> None:
    _client(
        owner,
        name="Café Ñu",
        city="A Coruña",
        email="hola@cafe.example",
        annual_revenue=Decimal("1000.10"),
        registered_on=date(2023, 12, 31),
        address="Rúa Nova 2\n15001 A Coruña",
    )
    columns = [c for c in CLIENT_EXPORT_COLUMNS if c[0] not in ("id", "owner.email")]

    for data, filename in (
        (write_xlsx(_clients(), columns), "clients.xlsx"),
        (write_csv(_clients(), columns), "clients.csv"),
    ):
        [result] = convert_upload(data, filename, locale="en")
        assert result.errors == []
        assert result.values["name"] == "Café Ñu"
        assert result.values["city"] == "A Coruña"
        assert result.values["address"] == "Rúa Nova 2\n15001 A Coruña"
        assert result.values["annual_revenue"] == Decimal("1000.10")
        assert result.values["registered_on"] == date(2023, 12, 31)


def test_empty_export_still_has_headers(memory_db: peewee.Database) -> None:
    assert _csv_rows(write_csv([], [("name", "Name")])) == [["Name"]]
    assert _xlsx_rows(write_xlsx([], [("name", "Name")])) == [("Name",)]


def _sheet_xml(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("xl/worksheets/sheet1.xml")
