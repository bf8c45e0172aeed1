"""The import pages over HTTP: upload, review the mapping, import, read the report."""

from __future__ import annotations

import csv
import html
import io
import os
import re
import shutil
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from portal.config import Settings
from portal.core.models import Client, Contact, User
from tests.conftest import log_in, make_profile, make_user, post_form, token

pytestmark = pytest.mark.usefixtures("fast_passwords")

DATA = Path(__file__).resolve().parents[1] / "data"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def sample(name: str) -> bytes:
    """A sample file from tests/data, copied from the shared folder if missing."""
    path = DATA / name
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        shutil.copyfile(SHARED / name, path)
    return path.read_bytes()


@pytest.fixture
def ana(http: TestClient) -> User:
    top = make_profile("Dirección")
    sales = make_profile("Ventas", parent=top)
    make_profile("Otra rama", parent=top)
    user = make_user("ana@example.com", sales, language="en")
    log_in(http, "ana@example.com")
    return user


def upload(client: TestClient, name: str, data: bytes, kind: str = "text/csv") -> object:
    return post_form(client, "/clients/import", files={"file": (name, data, kind)})


def shown_form(page: str) -> dict[str, str]:
    """The review form's choices as a browser would submit them untouched."""
    form = {}
    for name, body in re.findall(r'<select name="(\w+)"[^>]*>(.*?)</select>', page, re.DOTALL):
        form[name] = _chosen(body)
    for name, body in re.findall(
        r'<select id="f-\w+" name="(\w+)"[^>]*>(.*?)</select>', page, re.DOTALL
    ):
        form[name] = _chosen(body)
    return form


def _chosen(options: str) -> str:
    values = re.findall(r'<option value="([^"]*)"( selected)?>', options)
    picked = [value for value, selected in values if selected] or [values[0][0]]
    return html.unescape(picked[0])


def review_and_import(
    client: TestClient, name: str, data: bytes, **choices: str
) -> tuple[str, object]:
    """Upload, open the review page, and import with the guessed mapping."""
    answer = upload(client, name, data)
    assert answer.status_code == 303, answer.text
    review_url = answer.headers["location"]
    review = client.get(review_url)
    assert review.status_code == 200
    form = {**shown_form(review.text), **choices, "action": "import"}
    report = post_form(client, review_url, form)
    assert report.status_code == 200, report.text
    return review.text, report


def pending_uploads(settings: Settings) -> list[Path]:
    folder = settings.data_dir / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


# ------------------------------------------------------------- samples


def test_salesforce_export_imports_every_account(http: TestClient, ana: User) -> None:
    data = sample("salesforce_accounts_export.csv")
    source = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))

    # Rows without a country hold US phone numbers: the importer says so.
    review, report = review_and_import(http, "salesforce_accounts_export.csv", data, country="US")

    guessed = shown_form(review)
    headers = list(source[0].keys())
    assert guessed[f"column_{headers.index('NAME')}"] == "name"
    assert guessed[f"column_{headers.index('BILLINGSTREET')}"] == "address"
    assert guessed[f"column_{headers.index('SHIPPINGSTREET')}"] == ""
    assert "100 rows found." in review
    assert "100 clients created." in report.text
    clients = list(Client.select().order_by(Client.id))
    assert len(clients) == 100
    for client, row in zip(clients, source, strict=True):
        assert client.name == row["NAME"]
        assert client.address == row["BILLINGSTREET"].replace("\r\n", "\n").strip()
        assert client.owner_id == ana.id
    assert clients[0].address == "345 Shoreline Park\nMountain View, CA 94043\nUSA"
    assert clients[0].annual_revenue == Decimal(30000000)
    assert pending_uploads(http.app.state.settings) == []


def test_spanish_excel_file_keeps_accents_amounts_and_ids(http: TestClient, ana: User) -> None:
    # A Spanish user reads "1.000" as a thousand, as Excel wrote it.
    User.update(language="es").where(User.id == ana.id).execute()

    review_and_import(http, "clientes.csv", sample("import_es_excel_bom_semicolon.csv"))

    clients = {c.name: c for c in Client.select()}
    assert sorted(clients) == [
        "José Ángel Muñoz Ibáñez",
        "María Núñez",
        "Zoë O'Brien-García",
        "Ñandú Soluciones SL",
    ]
    jose, nandu = clients["José Ángel Muñoz Ibáñez"], clients["Ñandú Soluciones SL"]
    assert (jose.fiscal_id_type, jose.fiscal_id) == ("nif", "12345678Z")
    assert (nandu.fiscal_id_type, nandu.fiscal_id) == ("cif", "A11111119")
    assert (jose.email, jose.phone) == ("ja.munoz@ejemplo.es", "+34600112233")
    assert jose.registered_on == date(2024, 2, 3)
    amounts = sorted(c.annual_revenue for c in clients.values())
    assert amounts == [
        Decimal("-7.50"),
        Decimal("0.10"),
        Decimal(1000),
        Decimal("1234.56"),
    ]
    assert (jose.kind, nandu.kind) == ("person", "company")
    listed = http.get("/clients", params={"q": "nandu"}).text
    assert "Ñandú Soluciones SL" in listed


def test_the_file_number_format_is_read_from_the_file_not_the_interface(
    http: TestClient, ana: User
) -> None:
    # Ana reads the portal in English; the file came from a Spanish Excel.
    data = sample("import_es_excel_bom_semicolon.csv")
    answer = upload(http, "clientes.csv", data)
    review = http.get(answer.headers["location"]).text
    assert shown_form(review)["number_format"] == "es", "1.234,56 and 31/01 tell"
    assert "€1,234.56" in review, "the preview shows amounts as they will be stored"

    review_and_import(http, "clientes.csv", data)

    amounts = sorted(c.annual_revenue for c in Client.select())
    assert Decimal(1000) in amounts and Decimal("1234.56") in amounts
    jose = Client.get(Client.fiscal_id == "12345678Z")
    assert jose.registered_on == date(2024, 2, 3)


def test_a_wrong_number_format_can_be_chosen_and_is_visible(http: TestClient, ana: User) -> None:
    data = b'Name,Revenue\nAcme,"1,500.25"\nBeta,200\n'
    answer = upload(http, "en.csv", data)
    review = http.get(answer.headers["location"]).text
    assert shown_form(review)["number_format"] == "en"
    review_and_import(http, "en.csv", data)
    assert Client.get(Client.name == "Acme").annual_revenue == Decimal("1500.25")


def test_windows_1252_file_decodes_euro_and_enye(http: TestClient, ana: User) -> None:
    review, _report = review_and_import(http, "viejo.csv", sample("import_windows1252.csv"))

    assert "Iñaki García" in review
    pena = Client.get(Client.name == "Construcciones Peña, S.L.")
    assert pena.notes == "Presupuesto 1.500 € – “urgente”"
    assert [c.name for c in pena.contacts] == ["Iñaki García"]
    assert Client.get_or_none(Client.name == "Café Ñu") is not None
    assert Contact.select().count() == 2


def test_bad_rows_are_reported_by_line_and_good_rows_imported(http: TestClient, ana: User) -> None:
    rows = "Nombre;NIF;Email\nAna Ruiz;12345678Z;ana@x.example\nMal;12345678A;\n"
    rows += "Carlos;X1111111G;carlos@\nDiana;;diana@x.example\n"

    _review, report = review_and_import(http, "mezcla.csv", rows.encode())

    assert "2 clients created." in report.text
    problems = re.findall(r'<tr class="rejected"><td>(\d+)</td><td>(.*?)</td>', report.text)
    reported = [(line, html.unescape(text)) for line, text in problems]
    assert [line for line, _text in reported] == ["3", "4"]
    assert reported[0][1].endswith(": Not a valid Spanish NIF, NIE or CIF")
    assert reported[1][1].endswith(": Not a valid email address")
    assert sorted(c.name for c in Client.select()) == ["Ana Ruiz", "Diana"]


def test_preview_writes_nothing(http: TestClient, ana: User) -> None:
    answer = upload(http, "mezcla.csv", b"Nombre;NIF\nAna;12345678Z\nMal;12345678A\n")
    review_url = answer.headers["location"]
    review = http.get(review_url)

    preview = post_form(http, review_url, {**shown_form(review.text), "action": "preview"})

    assert preview.status_code == 200
    assert "Not a valid Spanish NIF, NIE or CIF" in preview.text
    assert Client.select().count() == 0
    assert len(pending_uploads(http.app.state.settings)) == 2


def test_an_import_cannot_run_twice(http: TestClient, ana: User) -> None:
    answer = upload(http, "uno.csv", b"Nombre\nAna\n")
    review_url = answer.headers["location"]
    form = {**shown_form(http.get(review_url).text), "action": "import"}

    first = post_form(http, review_url, form)
    again = post_form(http, review_url, form)

    assert first.status_code == 200 and again.status_code == 404
    assert Client.select().count() == 1
    assert http.get(review_url).status_code == 404


# ------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "report.pdf",
            b"%PDF-1.4\n1 0 obj\n",
            "Only CSV and Excel (.xlsx) files can be imported.",
        ),
        (
            "photo.csv",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
            "This does not look like a CSV file",
        ),
        ("empty.csv", b"", "The file is empty"),
        ("blank.csv", b" \r\n\r\n  ", "The file is empty"),
        ("broken.xlsx", b"PK\x03\x04 not really a workbook", "Not a valid XLSX file"),
        (
            "old.xls",
            b"\xd0\xcf\x11\xe0",
            "Only CSV and Excel (.xlsx) files can be imported.",
        ),
    ],
)
def test_unusable_files_are_refused_with_a_message(
    http: TestClient, ana: User, name: str, data: bytes, message: str
) -> None:
    answer = upload(http, name, data)

    assert answer.status_code == 400
    assert message in html.unescape(answer.text)
    assert '<p class="error" role="alert">' in answer.text
    assert Client.select().count() == 0
    assert pending_uploads(http.app.state.settings) == []


def test_a_form_without_a_file_is_refused(http: TestClient, ana: User) -> None:
    answer = post_form(http, "/clients/import", {"file": ""})

    assert answer.status_code == 400
    assert "Choose a CSV or Excel (.xlsx) file." in answer.text
    assert pending_uploads(http.app.state.settings) == []


@pytest.mark.parametrize("via_header", [False, True], ids=["form field", "htmx header"])
def test_oversized_upload_is_refused(http: TestClient, ana: User, via_header: bool) -> None:
    limit = http.app.state.settings.max_upload_bytes
    data = b"Nombre\n" + b"Cliente con un nombre largo\n" * (limit // 28 + 10)
    assert len(data) > limit
    files = {"file": ("big.csv", data, "text/csv")}

    if via_header:
        headers = {"x-csrf-token": token(http)}
        answer = http.post("/clients/import", files=files, headers=headers)
    else:
        answer = post_form(http, "/clients/import", files=files)

    assert answer.status_code == 413
    assert "The upload is too large (limit 2 MB)." in html.unescape(answer.text)
    assert Client.select().count() == 0
    assert pending_uploads(http.app.state.settings) == []


def test_review_needs_a_name_column(http: TestClient, ana: User) -> None:
    answer = upload(http, "sin-nombre.csv", b"Email;Telefono\nana@x.example;600112233\n")
    review_url = answer.headers["location"]
    form = shown_form(http.get(review_url).text)

    refused = post_form(http, review_url, {**form, "action": "import"})

    assert refused.status_code == 400
    assert "Map at least one column to the name or the company." in refused.text
    assert Client.select().count() == 0
    assert len(pending_uploads(http.app.state.settings)) == 2


def test_review_refuses_an_owner_out_of_reach(http: TestClient, ana: User) -> None:
    outsider = make_user("luis@example.com", User.get(User.id == ana.id).profile.parent)
    answer = upload(http, "uno.csv", b"Nombre\nAna\n")
    review_url = answer.headers["location"]
    form = shown_form(http.get(review_url).text)

    refused = post_form(http, review_url, {**form, "owner": outsider.id, "action": "import"})

    assert refused.status_code == 400
    assert "Choose an owner among the people you can see." in refused.text
    assert Client.select().count() == 0


def test_someone_elses_upload_is_not_found(
    http: TestClient, other_http: TestClient, ana: User
) -> None:
    make_user("bob@example.com", ana.profile, language="en")
    log_in(other_http, "bob@example.com")
    answer = upload(other_http, "de-bob.csv", b"Nombre\nSecreto de Bob\n")
    review_url = answer.headers["location"]

    peek = http.get(review_url)
    steal = post_form(http, review_url, {"column_0": "name", "action": "import"})

    assert peek.status_code == steal.status_code == 404
    assert "Secreto de Bob" not in peek.text + steal.text
    assert Client.select().count() == 0
    assert other_http.get(review_url).status_code == 200


@pytest.mark.parametrize("name", ["does-not-exist", "0123456789abcdef0123456789abcdef"])
def test_unknown_upload_tokens_are_not_found(http: TestClient, ana: User, name: str) -> None:
    assert http.get(f"/clients/import/{name}").status_code == 404


def test_abandoned_uploads_are_deleted_after_a_day(http: TestClient, ana: User) -> None:
    first = upload(http, "a.csv", b"Name\nAcme\n")
    assert first.status_code == 303
    stale = pending_uploads(http.app.state.settings)
    assert len(stale) == 2
    day_ago = time.time() - 25 * 3600
    for path in stale:
        os.utime(path, (day_ago, day_ago))

    upload(http, "b.csv", b"Name\nBeta\n")
    left = pending_uploads(http.app.state.settings)
    assert len(left) == 2 and not set(left) & set(stale)
    assert http.get(first.headers["location"]).status_code == 404


def test_a_stale_upload_cannot_be_opened_even_by_its_owner(http: TestClient, ana: User) -> None:
    answer = upload(http, "a.csv", b"Name\nAcme\n")
    day_ago = time.time() - 25 * 3600
    for path in pending_uploads(http.app.state.settings):
        os.utime(path, (day_ago, day_ago))
    assert http.get(answer.headers["location"]).status_code == 404
    assert pending_uploads(http.app.state.settings) == []
