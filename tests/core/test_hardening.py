"""Input that once broke things: huge ids, far-off dates, wide files, sly URLs."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from portal.core import fields, login, tabular
from portal.core.models import Activity, Client, LoginFailure, User
from tests.conftest import log_in, make_profile, make_user, post_form

pytestmark = pytest.mark.usefixtures("fast_passwords")

TOO_BIG = str(2**63)  # one more than the largest id a column holds


@pytest.fixture
def ana(http: TestClient) -> User:
    top = make_profile("Dirección")
    user = make_user("ana@example.com", top, is_admin=True, language="en")
    log_in(http, "ana@example.com")
    return user


def _client(owner: User) -> Client:
    client = Client(owner=owner, name="Acme")
    client.reindex()
    client.save()
    return client


def test_ids_too_big_for_a_column_are_not_found(http: TestClient, ana: User) -> None:
    client = _client(ana)
    for path in (
        f"/clients/{TOO_BIG}",
        f"/clients/{TOO_BIG}/edit",
        f"/clients/{client.id}/contacts/{TOO_BIG}/edit",
        f"/admin/users/{TOO_BIG}",
        f"/admin/profiles/{TOO_BIG}",
    ):
        assert http.get(path).status_code == 404, path
    for path in (
        f"/clients?owner={TOO_BIG}",
        "/clients?owner=%C2%B2",  # a superscript two is a digit to str.isdigit
        f"/clients/export.csv?owner={TOO_BIG}",
        f"/clients/{client.id}/timeline?before={TOO_BIG}",
    ):
        assert http.get(path).status_code == 200, path

    form = {"name": "Beta", "kind": "company", "status": "lead", "owner": TOO_BIG}
    answer = post_form(http, "/clients/new", form)
    assert answer.status_code == 400
    assert Client.select().count() == 1


def test_a_far_off_activity_date_is_a_field_error(http: TestClient, ana: User) -> None:
    User.update(time_zone="America/Mexico_City").where(User.id == ana.id).execute()
    client = _client(ana)
    form = {"kind": "call", "subject": "Llamada", "happened_at": "9999-12-31T23:59"}
    answer = post_form(http, f"/clients/{client.id}/activities", form)
    assert answer.status_code == 400
    assert "Not a valid date and time." in answer.text
    assert not Activity.select().exists()


def test_activity_notes_have_a_limit(http: TestClient, ana: User) -> None:
    client = _client(ana)
    form = {"kind": "note", "subject": "Larga", "notes": "x" * 10_001}
    assert post_form(http, f"/clients/{client.id}/activities", form).status_code == 400
    assert not Activity.select().exists()


def test_a_file_with_thousands_of_columns_is_refused() -> None:
    wide = ";".join(f"h{n}" for n in range(tabular.MAX_COLUMNS + 1)).encode()
    with pytest.raises(tabular.TableError, match="Too many columns"):
        tabular.read_table(wide + b"\n" + b"x;" * 3, "wide.csv")


@pytest.mark.parametrize(
    "address", ['https://a.example/"><script>', "https://a.example/<b>", "https://a.ex ample"]
)
def test_web_addresses_with_markup_are_refused(address: str) -> None:
    with pytest.raises(fields.FieldError):
        fields.normalise_website(address)


def test_pages_and_exports_are_not_cached(http: TestClient, ana: User) -> None:
    for path in ("/clients", "/clients/export.csv", "/"):
        assert http.get(path).headers["cache-control"] == "no-store", path
    assert "no-store" not in http.get("/static/cartera.css").headers["cache-control"]


def test_failures_from_elsewhere_do_not_lock_a_user_out(http: TestClient, ana: User) -> None:
    for _attempt in range(login.MAX_PER_EMAIL_AND_ADDRESS):
        LoginFailure.create(email="ana@example.com", ip="203.0.113.9")
    assert login.is_throttled("ana@example.com", "203.0.113.9")
    assert not login.is_throttled("ana@example.com", "198.51.100.7")


def test_a_sheet_declaring_a_huge_area_is_read_quickly() -> None:
    import io
    import time

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet["A1"], sheet["A2"] = "Name", "Acme"
    sheet.cell(row=5000, column=16384, value=" ")
    data = io.BytesIO()
    book.save(data)

    started = time.perf_counter()
    table = tabular.read_table(data.getvalue(), "wide.xlsx")
    assert time.perf_counter() - started < 5, "must not pad rows to 16,384 columns"
    assert table.rows == [["Acme"]]


@pytest.mark.parametrize(
    "body",
    [
        "csrf_token=%C3%A9&email=a&password=b",
        "&".join(f"f{n}=x" for n in range(1500)),
    ],
    ids=["non-ascii token", "too many fields"],
)
def test_odd_forms_are_refused_not_crashed(http: TestClient, body: str) -> None:
    http.get("/login")
    answer = http.post(
        "/login",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert answer.status_code in (400, 403)


def test_odd_pages_and_files_are_refused_not_crashed(http: TestClient, ana: User) -> None:
    assert http.get("/clients/import/" + "a" * 300).status_code == 404
    assert http.get("/clients?size=%C2%B2").status_code == 200
    token = "é".encode()  # headers travel as bytes; latin-1 é is not ASCII
    answer = http.post("/clients/new", headers={"x-csrf-token": token}, follow_redirects=False)
    assert answer.status_code == 403
    with pytest.raises(tabular.TableError):
        tabular.read_table(b"\xff\xfeN\x00a\x00,\x00x", "odd.csv")


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [
        (["25,000", "1,500", "1,250,000.50"], "en"),  # a Mexican export
        (["25,000", "120,000"], None),  # could be either: the user decides
        (["1.234,56", "-7,50", "1.000"], "es"),
        (["1.000", "2.500"], None),
    ],
)
def test_only_unmistakable_numbers_decide_the_format(
    amounts: list[str], expected: str | None
) -> None:
    from portal.core.importing import guess_number_format

    table = tabular.Table(
        headers=["Nombre", "Facturación", "Fecha alta"],
        rows=[[f"C{n}", amount, "31/01/2024"] for n, amount in enumerate(amounts)],
        lines=list(range(2, len(amounts) + 2)),
    )
    mapping = {0: "name", 1: "annual_revenue", 2: "registered_on"}
    assert guess_number_format(table, mapping) == expected
