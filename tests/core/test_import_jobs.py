"""Import jobs: updates instead of duplicates, dry runs, contacts, other CRMs'
exports, large files in the background, undo, and exports that import back."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from starlette.testclient import TestClient

from portal import jobs
from portal.config import Settings
from portal.core import consent, import_jobs, importer, importing, tabular
from portal.core.models import (
    Activity,
    AuditEntry,
    Client,
    ConsentRecord,
    Contact,
    ImportJob,
    User,
)
from portal.database import utcnow
from tests.conftest import log_in, make_profile, make_user, post_form

pytestmark = pytest.mark.usefixtures("fast_passwords")

SHARED = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def team(http: TestClient) -> dict[str, User]:
    """Ana heads sales; Luis sells under her; Eva works in another branch."""
    top = make_profile("Dirección")
    heads = make_profile("Jefes", parent=top)
    sellers = make_profile("Comerciales", parent=heads)
    other = make_profile("Otra rama", parent=top)
    people = {
        "ana": make_user("ana@example.com", heads, language="en"),
        "luis": make_user("luis@example.com", sellers, language="en"),
        "eva": make_user("eva@example.com", other, language="en"),
    }
    User.update(name="Luis Pérez").where(User.id == people["luis"].id).execute()
    return people


def run(
    user: User,
    text: str | bytes,
    settings: Settings,
    *,
    name: str = "file.csv",
    kind: str = "clients",
    dry_run: bool = False,
    **options: object,
) -> ImportJob:
    """Import a file as `user` with the guessed mapping, through the job engine."""
    data = text.encode() if isinstance(text, str) else text
    table = tabular.read_table(data, name)
    mapping = importing.guess_mapping(table.headers, kind)
    chosen = {
        "mapping": {str(column): target for column, target in mapping.items()},
        "country": "ES",
        "number_format": importing.guess_number_format(table, mapping) or "es",
        "on_match": "update",
        "owner": user.id,
        **options,
    }
    job = importer.start_job(
        user, kind, name, data, settings.data_dir, chosen, total=len(table.rows), dry_run=dry_run
    )
    return import_jobs.run_job(job.id, settings.data_dir, "en")


def report(job: ImportJob, outcome: str) -> list[tuple[int, str, str]]:
    return [(line, column, message) for line, kind, column, message, *_ in json.loads(job.report)
            if kind == outcome]  # fmt: skip


# ------------------------------------------------------- real-world files


def test_duplicate_emails_differing_in_case_and_spaces_make_one_client(
    team: dict, settings: Settings
) -> None:
    text = "Nombre;Email\nAna Ruiz; Ana.Ruiz@Example.com \nAna R.;ana.ruiz@example.com\n"

    job = run(team["ana"], text, settings)

    assert (job.created, job.skipped, job.rejected) == (1, 1, 0)
    assert report(job, "skipped") == [(3, "Email", "Same email as line 2")]
    assert Client.get().email == "ana.ruiz@example.com"


def test_phones_written_several_ways_are_stored_alike(team: dict, settings: Settings) -> None:
    spellings = ["600 11 22 33", "+34 600-112-233", "0034600112233", "(+34) 600.11.22.33"]
    rows = [f"Cliente {n};{phone}" for n, phone in enumerate(spellings)]

    job = run(team["ana"], "Nombre;Teléfono\n" + "\n".join(rows), settings)

    assert job.created == 4
    assert {c.phone for c in Client.select()} == {"+34600112233"}


def test_bom_semicolons_decimal_commas_and_day_first_dates(team: dict, settings: Settings) -> None:
    data = (SHARED / "import_es_excel_bom_semicolon.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")

    job = run(team["ana"], data, settings)

    assert (job.created, job.rejected) == (4, 0)
    jose = Client.get(Client.fiscal_id == "12345678Z")
    assert jose.registered_on == date(2024, 2, 3)
    assert sorted(c.annual_revenue for c in Client.select())[-1] == Decimal("1234.56")


def test_windows_1252_and_line_breaks_inside_quotes(team: dict, settings: Settings) -> None:
    text = 'Nombre;Dirección;Notas\n"Peña, S.L.";"Calle Mayor 1\r\n2º B";"Presupuesto 1.500 €"\n'

    job = run(team["ana"], text.encode("cp1252"), settings)

    assert job.created == 1
    client = Client.get()
    assert (client.name, client.address) == ("Peña, S.L.", "Calle Mayor 1\n2º B")
    assert client.notes == "Presupuesto 1.500 €"


def test_dates_follow_the_whole_column_then_the_locale(team: dict, settings: Settings) -> None:
    # 12/25/2024 settles the column as month first, whatever the language.
    american = run(team["ana"], "Name,Customer since\nA,03/02/2024\nB,12/25/2024\n", settings)
    assert american.created == 2
    assert Client.get(Client.name == "A").registered_on == date(2024, 3, 2)

    # Nothing above 12: a Spanish file reads day first.
    spanish = run(team["ana"], "Nombre;Fecha alta\nC;03/02/2024\n", settings, number_format="es")
    assert Client.get(Client.name == "C").registered_on == date(2024, 2, 3)
    assert spanish.created == 1


def test_an_impossible_date_is_reported_never_rolled_over(team: dict, settings: Settings) -> None:
    text = "Nombre;Fecha alta\nA;31/01/2024\nB;01/31/2024\nC;30/02/2024\n"

    job = run(team["ana"], text, settings, number_format="es")

    # The column says both orders, so Spanish decides; 01/31 and 30/02 do not exist.
    assert job.created == 1
    assert report(job, "rejected") == [
        (3, "Fecha alta", "No such date"),
        (4, "Fecha alta", "No such date"),
    ]
    assert Client.get().registered_on == date(2024, 1, 31)


def test_ten_thousand_rows_with_three_percent_bad(
    http: TestClient, team: dict, settings: Settings
) -> None:
    lines = ["Nombre;Email;Facturación"]
    for number in range(10_000):
        if number % 100 < 3:
            lines.append(f"Mal {number};no-es-un-correo-{number};1.000,50")
        else:
            lines.append(f"Cliente {number};c{number}@example.com;{number},25")
    log_in(http, "ana@example.com")
    upload = post_form(
        http, "/clients/import", files={"file": ("big.csv", "\n".join(lines).encode(), "text/csv")}
    )
    review = http.get(upload.headers["location"])
    assert "in the background" in review.text

    form = {"column_0": "name", "column_1": "email", "column_2": "annual_revenue"}
    form.update(owner=str(team["ana"].id), country="ES", number_format="es", on_match="update")
    answer = post_form(http, upload.headers["location"], {**form, "action": "import"})

    # Over the synchronous limit: the page follows the job; tests run the queue at once.
    assert answer.status_code == 303
    job = ImportJob.get()
    assert answer.headers["location"] == f"/imports/{job.id}"
    assert (job.status, job.processed, job.created, job.rejected) == ("done", 10_000, 9700, 300)
    assert Client.select().count() == 9700
    assert Client.get(Client.name == "Cliente 4").annual_revenue == Decimal("4.25")
    rejected = report(job, "rejected")
    assert len(rejected) == 300
    assert rejected[0] == (2, "Email", "Not a valid email address")
    page = http.get(f"/imports/{job.id}").text
    assert "300 rows were not imported" in page and "9,700 clients created." in page


# ------------------------------------------------------ updates, dry runs


def test_rows_update_the_client_with_the_same_fiscal_id(team: dict, settings: Settings) -> None:
    old = Client.create(name="Ñandú SL", fiscal_id="A11111119", fiscal_id_type="cif",
                        owner=team["luis"], city="Lugo", phone="+34981000000")  # fmt: skip
    text = "Empresa;CIF;Teléfono;Población\nÑandú Soluciones SL;A-11111119;600112233;\n"

    job = run(team["ana"], text, settings)

    assert (job.created, job.updated) == (0, 1)
    client = Client.get_by_id(old.id)
    assert (client.name, client.phone) == ("Ñandú Soluciones SL", "+34600112233")
    assert client.city == "Lugo", "an empty cell leaves the value as it was"
    assert client.version == 2 and client.owner_id == team["luis"].id
    assert Client.select().count() == 1


def test_rows_match_on_external_id_then_email(team: dict, settings: Settings) -> None:
    first = Client.create(name="Uno", external_id="0015000000abc", owner=team["ana"])
    second = Client.create(name="Dos", email="dos@example.com", owner=team["ana"])
    text = "Id,Name,Email,City\n0015000000abc,Uno,,Soria\n,Dos,DOS@example.com,Teruel\n"

    job = run(team["ana"], text, settings)

    assert (job.created, job.updated) == (0, 2)
    assert Client.get_by_id(first.id).city == "Soria"
    assert Client.get_by_id(second.id).city == "Teruel"


def test_a_dry_run_writes_nothing_and_counts_like_the_import(
    team: dict, settings: Settings
) -> None:
    Client.create(name="Existe", fiscal_id="12345678Z", fiscal_id_type="nif", owner=team["ana"])
    text = "Nombre;NIF;Email\nExiste Ya;12345678Z;\nNuevo;;n@example.com\nOtro;;n@example.com\n"
    text += "Malo;12345678A;\nIgual;12345678Z;\n"

    dry = run(team["ana"], text, settings, dry_run=True)

    assert dry.status == "checked"
    counts = (dry.created, dry.updated, dry.skipped, dry.rejected)
    assert counts == (1, 1, 2, 1)
    assert Client.select().count() == 1 and Client.get().name == "Existe"
    assert report(dry, "updated")[0][2] == "Updates Existe (Nombre)"

    real = run(team["ana"], text, settings)
    assert (real.created, real.updated, real.skipped, real.rejected) == counts
    assert sorted(c.name for c in Client.select()) == ["Existe Ya", "Nuevo"]


def test_matches_can_be_left_alone(team: dict, settings: Settings) -> None:
    Client.create(name="Existe", email="e@example.com", owner=team["ana"])
    job = run(team["ana"], "Name,Email\nOtro nombre,e@example.com\n", settings, on_match="skip")
    assert (job.updated, job.skipped) == (0, 1)
    assert Client.get().name == "Existe"


def test_a_match_outside_the_scope_is_rejected_without_its_contents(
    http: TestClient, team: dict, settings: Settings
) -> None:
    Client.create(name="Secreto de Eva", fiscal_id="12345678Z", fiscal_id_type="nif",
                  owner=team["eva"], email="secreto@example.com")  # fmt: skip
    # Shared clients can be seen by all, but changed only by those above the owner.
    Client.create(name="Compartido", email="todos@example.com", owner=team["eva"],
                  visible_to_all=True)  # fmt: skip
    text = "Nombre;NIF;Email\nMío;12345678Z;\nTambién;;todos@example.com\n"

    job = run(team["luis"], text, settings)

    assert (job.created, job.updated, job.rejected, job.skipped) == (0, 0, 1, 1)
    assert [m for _, _, m in report(job, "rejected")] == ["Matches a client you may not change"]
    assert [m for _, _, m in report(job, "skipped")] == ["Shared by another team; left as it was"]
    assert Client.get(Client.fiscal_id == "12345678Z").name == "Secreto de Eva"
    log_in(http, "luis@example.com")
    page = http.get(f"/imports/{job.id}").text
    assert "Secreto" not in page and "Compartido" not in page


def test_owners_given_by_email_or_by_name(team: dict, settings: Settings) -> None:
    text = "Company name,Contact owner\nA,luis@example.com\nB,Luis Pérez\nC,luis perez\n"
    text += "D,Eva\n"

    job = run(team["ana"], text, settings)

    assert job.created == 3
    assert {c.owner_id for c in Client.select()} == {team["luis"].id}
    assert report(job, "rejected") == [
        (5, "Contact owner", "Unknown owner, or not one you may choose: Eva")
    ]


# --------------------------------------------------------------- contacts


def test_contacts_link_to_clients_by_name_fiscal_id_or_email(
    team: dict, settings: Settings
) -> None:
    acme = Client.create(name="Acme Ibérica", owner=team["ana"], sort_name="acme iberica")
    beta = Client.create(name="Beta", fiscal_id="B12345674", owner=team["ana"])
    gamma = Client.create(name="Gamma", email="info@gamma.example", owner=team["ana"])
    hidden = Client.create(name="Oculta", fiscal_id="A11111119", owner=team["eva"])
    text = (
        "Nombre;Apellidos;Email;Empresa;CIF;Email empresa\n"
        "Lola;Martín;lola@acme.example;ACME IBERICA;;\n"
        "Pau;Vidal;pau@beta.example;;B12345674;\n"
        "Rut;Gil;rut@gamma.example;;;info@gamma.example\n"
        "Sin;Cliente;sin@example.com;;A11111119;\n"
    )

    job = run(team["ana"], text, settings, kind="contacts")

    assert (job.created, job.rejected) == (3, 1)
    assert [c.name for c in acme.contacts] == ["Lola Martín"]
    assert [c.email for c in beta.contacts] == ["pau@beta.example"]
    assert [c.name for c in gamma.contacts] == ["Rut Gil"]
    assert report(job, "rejected") == [(5, "Empresa", "No client found for this row")] or (
        report(job, "rejected") == [(5, "CIF", "No client found for this row")]
    )
    assert not hidden.contacts.exists()


def test_hubspot_contacts_update_by_email_and_create_missing_companies(
    team: dict, settings: Settings
) -> None:
    acme = Client.create(name="Acme", owner=team["ana"], sort_name="acme")
    Contact.create(client=acme, name="Lola", email="lola@acme.example", position="")
    text = (
        "Record ID,First Name,Last Name,Email,Phone Number,Job Title,Company Name,"
        "Contact owner,Company Domain Name\n"
        "101,Lola,Martín,LOLA@acme.example,600112233,CEO,Acme,,\n"
        "102,Nuevo,Cliente,n@newco.example,,,NewCo,luis@example.com,newco.example\n"
    )

    job = run(team["ana"], text, settings, kind="contacts")

    assert (job.created, job.updated, job.rejected) == (1, 1, 0)
    lola = Contact.get(Contact.email == "lola@acme.example")
    assert (lola.name, lola.position, lola.phone) == ("Lola Martín", "CEO", "+34600112233")
    assert lola.external_id == "101"
    newco = Client.get(Client.name == "NewCo")
    assert (newco.owner_id, newco.website) == (team["luis"].id, "https://newco.example")
    assert [c.name for c in newco.contacts] == ["Nuevo Cliente"]


def test_a_name_shared_by_two_clients_is_not_guessed(team: dict, settings: Settings) -> None:
    for city in ("Lugo", "Vigo"):
        Client.create(name="Bar Central", city=city, owner=team["ana"], sort_name="bar central")
    job = run(team["ana"], "Name,Company\nLola,Bar Central\n", settings, kind="contacts")
    assert job.rejected == 1 and not Contact.select().exists()
    assert "Several clients match" in report(job, "rejected")[0][2]


# ------------------------------------------------------- other CRMs' files


@pytest.mark.parametrize(
    ("headers", "source", "expected"),
    [
        ("ID,NAME,TYPE,BILLINGSTREET,BILLINGCITY,PHONE,OWNERID", "Salesforce",
         {"ID": "external_id", "NAME": "name", "BILLINGCITY": "city"}),
        ("Record ID,Company name,Company Domain Name,Company owner,Phone Number,City",
         "HubSpot", {"Record ID": "external_id", "Company name": "company",
                     "Company Domain Name": "website", "Company owner": "owner_email"}),
        ("Organization - ID,Organization - Name,Organization - Owner,Organization - Address,"
         "Person - Name,Person - Email", "Pipedrive",
         {"Organization - Name": "company", "Organization - Owner": "owner_email",
          "Person - Name": "contact_name", "Person - Email": "contact_email",
          "Organization - ID": "external_id"}),
        ("External ID,Name,Is a Company,Related Company,Street,City,Zip,Country,Tax ID,"
         "Salesperson", "Odoo", {"Is a Company": "is_company", "Tax ID": "fiscal_id",
                                 "Salesperson": "owner_email", "Zip": "postal_code"}),
        ("ID,Name,Email Address,Phone Number,Billing Address Street,Billing Address City,"
         "Billing Address Postal Code,Assigned User", "EspoCRM",
         {"Billing Address City": "city", "Assigned User": "owner_email",
          "Email Address": "email", "Billing Address Postal Code": "postal_code"}),
        ("id,name,email,street,zip,state_id,country_id,vat,user_id,is_company,comment",
         "Odoo", {"id": "external_id", "vat": "fiscal_id", "user_id": "owner_email",
                  "country_id": "country", "comment": "notes", "is_company": "is_company"}),
        ("id,name,emailAddress,billingAddressCity,billingAddressPostalCode,assignedUserName",
         "EspoCRM", {"emailAddress": "email", "billingAddressCity": "city",
                     "assignedUserName": "owner_email", "id": "external_id"}),
        ("Razón social;CIF;Correo electrónico;Teléfono móvil;Código postal;Comercial", "",
         {"Razón social": "company", "CIF": "fiscal_id", "Comercial": "owner_email",
          "Teléfono móvil": "mobile"}),
    ],
)  # fmt: skip
def test_other_crms_exports_are_recognised(headers: str, source: str, expected: dict) -> None:
    columns = re.split("[,;]", headers)

    mapping = importing.guess_mapping(columns)

    assert importing.recognise_source(columns) == source
    assert {columns[c]: t for c, t in mapping.items() if columns[c] in expected} == expected


def test_odoo_is_a_company_column_sets_the_kind(team: dict, settings: Settings) -> None:
    text = "Name,Is a Company,Tax ID\nLa Tienda,True,\nMarta Gil,False,\n"
    run(team["ana"], text, settings)
    assert {c.name: c.kind for c in Client.select()} == {
        "La Tienda": "company",
        "Marta Gil": "person",
    }


def test_pipedrive_people_only_export_makes_person_clients() -> None:
    columns = ["Person - Name", "Person - Email", "Person - Phone"]
    assert importing.guess_mapping(columns) == {0: "name", 1: "email", 2: "phone"}


# ------------------------------------------------------ history and undo


def test_undo_removes_what_the_import_created_and_restores_what_it_changed(
    http: TestClient, team: dict, settings: Settings
) -> None:
    old = Client.create(name="Viejo", email="v@example.com", city="Lugo", owner=team["ana"])
    text = "Nombre;Email;Población;Contacto\nNuevo;n@example.com;Soria;Lola\n"
    text += "Viejo;v@example.com;Vigo;\n"
    job = run(team["ana"], text, settings)
    assert (job.created, job.updated) == (1, 1)
    log_in(http, "ana@example.com")

    answer = post_form(http, f"/imports/{job.id}/undo")

    assert answer.status_code == 303
    assert [c.name for c in Client.select()] == ["Viejo"]
    assert Client.get_by_id(old.id).city == "Lugo"
    assert not Contact.select().exists()
    assert ImportJob.get_by_id(job.id).status == "undone"
    entry = AuditEntry.get(AuditEntry.action == "imports.undone")
    assert (entry.actor_id, json.loads(entry.after)) == (
        team["ana"].id,
        {"deleted": 2, "restored": 1},
    )
    assert post_form(http, f"/imports/{job.id}/undo").status_code == 404


def test_undo_refuses_when_records_changed_since_and_says_which(
    http: TestClient, team: dict, settings: Settings
) -> None:
    job = run(team["ana"], "Nombre\nUno\nDos\n", settings)
    dos = Client.get(Client.name == "Dos")
    Activity.create(client=dos, author=team["ana"], kind="call", subject="Llamada")
    log_in(http, "ana@example.com")

    answer = post_form(http, f"/imports/{job.id}/undo")

    assert answer.status_code == 409
    assert "Nothing was undone" in html.unescape(answer.text)
    assert "<li>Dos</li>" in answer.text and "<li>Uno</li>" not in answer.text
    assert Client.select().count() == 2


def test_only_the_last_import_can_be_undone(
    http: TestClient, team: dict, settings: Settings
) -> None:
    first = run(team["ana"], "Nombre\nUno\n", settings)
    second = run(team["ana"], "Nombre\nDos\n", settings)
    log_in(http, "ana@example.com")

    assert post_form(http, f"/imports/{first.id}/undo").status_code == 404
    assert "Undo this import" in http.get(f"/imports/{second.id}").text
    assert post_form(http, f"/imports/{second.id}/undo").status_code == 303


def test_history_shows_own_imports_and_everyones_to_administrators(
    http: TestClient, team: dict, settings: Settings
) -> None:
    mine = run(team["luis"], "Nombre\nDe Luis\n", settings, name="luis.csv")
    theirs = run(team["ana"], "Nombre\nDe Ana\n", settings, name="ana.csv")
    log_in(http, "luis@example.com")

    listed = http.get("/imports").text
    assert "luis.csv" in listed and "ana.csv" not in listed
    assert http.get(f"/imports/{theirs.id}").status_code == 404
    assert post_form(http, f"/imports/{theirs.id}/undo").status_code == 404
    assert http.get(f"/imports/{mine.id}").status_code == 200

    boss = make_user("boss@example.com", make_profile("Admin", kind="structural"), is_admin=True)
    log_in(http, boss.email)
    listed = http.get("/imports").text
    assert "luis.csv" in listed and "ana.csv" in listed


# --------------------------------------------------- the review page flow


def test_check_every_row_then_import_from_the_job_page(
    http: TestClient, team: dict, settings: Settings
) -> None:
    log_in(http, "ana@example.com")
    data = b"Nombre;NIF\nAna;12345678Z\nMal;12345678A\n"
    upload = post_form(http, "/clients/import", files={"file": ("a.csv", data, "text/csv")})
    review = http.get(upload.headers["location"])
    assert review.status_code == 200
    form = {"column_0": "name", "column_1": "fiscal_id", "owner": str(team["ana"].id)}

    checked = post_form(http, upload.headers["location"], {**form, "action": "check"})

    assert checked.status_code == 303 and not Client.select().exists()
    page = http.get(checked.headers["location"]).text
    assert "Dry run: nothing has been saved yet." in page
    assert "1 client would be created." in page and "1 row rejected." in page
    ran = post_form(http, checked.headers["location"] + "/run")
    assert ran.status_code == 303
    assert [c.name for c in Client.select()] == ["Ana"]
    assert "1 client created." in http.get(checked.headers["location"]).text


def test_a_stalled_job_can_be_resumed_where_it_stopped(
    http: TestClient, team: dict, settings: Settings
) -> None:
    rows = [f"Cliente {n}" for n in range(2500)]
    data = ("Nombre\n" + "\n".join(rows)).encode()
    table = tabular.read_table(data, "big.csv")
    options = {"mapping": {"0": "name"}, "country": "ES", "number_format": "es"}
    job = importer.start_job(team["ana"], "clients", "big.csv", data, settings.data_dir,
                             options, total=len(table.rows), dry_run=False)  # fmt: skip
    # A worker imported the first batch, then died.
    first = tabular.Table(table.headers, table.rows[:1000], table.lines[:1000])
    results = importing.convert_rows(
        first, {0: "name"}, locale="es", phone_region="ES", default_country="ES"
    )
    importer_ = import_jobs.ClientImport(job, team["ana"], table.headers, {0: "name"})
    importer_.apply(results, write=True)
    ImportJob.update(
        status="running", processed=1000, created=1000,
        updated_at=utcnow() - timedelta(minutes=30),
    ).where(ImportJob.id == job.id).execute()  # fmt: skip
    log_in(http, "ana@example.com")
    assert "Resume" in http.get(f"/imports/{job.id}").text

    assert post_form(http, f"/imports/{job.id}/run").status_code == 303

    job = ImportJob.get_by_id(job.id)
    assert (job.status, job.processed, job.created) == ("done", 2500, 2500)
    assert Client.select().count() == 2500


def test_the_queue_keeps_jobs_in_the_data_folder_for_the_worker(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url="sqlite://")
    try:
        queue = jobs.configure(settings)
        assert not queue.immediate
        jobs.run_import(123, str(tmp_path), "es")
        assert queue.pending_count() == 1
        assert (tmp_path / "data" / "jobs.db").exists()
    finally:
        jobs.configure(Settings(data_dir=tmp_path, database_url="sqlite://", immediate_jobs=True))
    assert jobs.queue.immediate


# ------------------------------------------------------------- round trip


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_an_export_imports_back_unchanged(
    http: TestClient, team: dict, settings: Settings, kind: str
) -> None:
    values = dict(
        kind="company", status="customer", segment="large", zone="Norte",
        fiscal_id_type="cif", fiscal_id="A11111119", email="hola@nandu.example",
        phone="+34981123456", mobile="+34600112233", address="Rúa Nova 2\n15001 A Coruña",
        city="A Coruña", postal_code="15001", province="A Coruña", country="ES",
        website="https://nandu.example", notes="=cuidado, -fórmula", is_supplier=True,
        annual_revenue=Decimal("-1234.50"), employees=12, registered_on=date(2023, 12, 31),
        latitude=Decimal("43.362344"), longitude=Decimal("-8.411540"),
        external_id="0015000000XYZ", marketing_opt_out=True,
    )  # fmt: skip
    fields = ["name", "owner", *values]
    first = Client.create(name="Ñandú Soluciones, S.L.", owner=team["luis"], **values)
    first.reindex()
    first.save()
    Client.create(name="Zoë O'Brien", kind="person", owner=team["ana"], fiscal_id_type="other",
                  fiscal_id="P-123/X", sort_name="zoe o'brien")  # fmt: skip
    before = {c.name: {f: getattr(c, f) for f in fields} for c in Client.select()}
    grants = ["clients.supplier", "clients.coordinates", "clients.fiscal_id_other"]
    from tests.conftest import grant

    grant(team["ana"].profile, *grants)
    log_in(http, "ana@example.com")
    exported = http.get(f"/clients/export.{kind}").content

    # Into the same portal: every row matches its client and changes nothing.
    again = run(team["ana"], exported, settings, name=f"clients.{kind}")
    assert (again.created, again.updated, again.rejected, again.skipped) == (0, 0, 0, 2), (
        again.report
    )

    # Into an empty portal: the same clients come back.
    Client.delete().execute()
    fresh = run(team["ana"], exported, settings, name=f"clients.{kind}")
    assert (fresh.created, fresh.rejected) == (2, 0), fresh.report
    after = {c.name: {f: getattr(c, f) for f in fields} for c in Client.select()}
    assert after == before


def test_the_xlsx_export_names_the_cartera_id_column(http: TestClient, team: dict) -> None:
    Client.create(name="Uno", owner=team["ana"])
    log_in(http, "ana@example.com")
    book = openpyxl.load_workbook(io.BytesIO(http.get("/clients/export.xlsx").content))
    header = [cell.value for cell in book.worksheets[0][1]]
    assert header[0] == "Cartera ID"
    assert importing.guess_mapping(header)[0] == "record_id"


def test_consent_stated_in_a_contacts_file_is_recorded_with_its_evidence(
    team: dict, settings: Settings
) -> None:
    client = Client.create(name="Acme", owner=team["ana"], sort_name="acme")
    text = "Nombre;Email;Empresa;Acepta publicidad\nLola;lola@acme.example;Acme;sí\n"
    text += "Pau;pau@acme.example;Acme;no\n"

    job = run(team["ana"], text, settings, kind="contacts", name="consent.csv")

    assert job.created == 2
    states = {c.name: c.marketing_consent for c in client.contacts}
    assert states == {"Lola": "given", "Pau": "withdrawn"}
    record = ConsentRecord.get(ConsentRecord.email == "lola@acme.example")
    assert (record.state, record.method, record.actor_id) == ("given", "import", team["ana"].id)
    assert record.evidence == f"consent.csv, line 2 (import #{job.id})"


def test_a_dry_run_warns_of_likely_duplicates_naming_only_visible_ones(
    http: TestClient, team: dict, settings: Settings
) -> None:
    Client.create(name="Bar Pepe", city="Lugo", owner=team["eva"], sort_name="bar pepe")
    mine = Client.create(
        name="Bodega Central", city="Vigo", phone="+34600112233", owner=team["luis"]
    )
    text = "Nombre;Población;Teléfono\nBar Pepe S.L.;Lugo;\nLa Bodeguita;Soria;600 11 22 33\n"
    text += "Otra Cosa;Lugo;\n"

    job = run(team["luis"], text, settings, dry_run=True)

    assert job.created == 3, "a warning never stops a row"
    warnings = [(line, message) for line, message, *_ in
                [(e[0], e[3]) for e in json.loads(job.report) if e[1] == "warning"]]  # fmt: skip
    assert warnings == [
        (2, "May be a client you cannot see, already in the portal "
            "(very similar name in the same city)"),
        (3, "May be Bodega Central, already a client (same phone)"),
    ]  # fmt: skip
    log_in(http, "luis@example.com")
    page = http.get(f"/imports/{job.id}").text
    assert f'<a href="/clients/{mine.id}">' in page
    assert "Bar Pepe</" not in page


def test_a_job_queued_twice_runs_once(team: dict, settings: Settings) -> None:
    data = b"Nombre\nUno\n"
    options = {"mapping": {"0": "name"}, "country": "ES", "number_format": "es"}
    job = importer.start_job(team["ana"], "clients", "uno.csv", data, settings.data_dir,
                             options, total=1, dry_run=False)  # fmt: skip
    # Another worker took it a moment ago and is still going.
    ImportJob.update(status="running", updated_at=utcnow()).where(ImportJob.id == job.id).execute()

    again = import_jobs.run_job(job.id, settings.data_dir)

    assert again.status == "running" and not Client.select().exists()


def test_a_running_job_polls_its_progress_as_a_fragment(
    http: TestClient, team: dict, settings: Settings
) -> None:
    options = {"mapping": {"0": "name"}, "country": "ES", "number_format": "es"}
    job = importer.start_job(team["ana"], "clients", "big.csv", b"Nombre\nUno\n",
                             settings.data_dir, options, total=4000, dry_run=False)  # fmt: skip
    ImportJob.update(status="running", processed=1000).where(ImportJob.id == job.id).execute()
    log_in(http, "ana@example.com")

    fragment = http.get(f"/imports/{job.id}", headers={"HX-Request": "true"})

    assert fragment.text.lstrip().startswith('<div id="job" hx-get="/imports/')
    assert 'hx-trigger="every 2s"' in fragment.text
    assert '<progress max="100" value="25">' in fragment.text
    assert "1,000 of 4,000 rows" in fragment.text
    assert "<html" not in fragment.text


def test_contacts_upload_offers_contact_fields_and_imports(
    http: TestClient, team: dict, settings: Settings
) -> None:
    acme = Client.create(name="Acme", owner=team["ana"], sort_name="acme")
    log_in(http, "ana@example.com")
    data = "Person - Name,Person - Email,Organization - Name\nLola Gil,lola@a.example,Acme\n"
    upload = post_form(
        http,
        "/clients/import",
        {"kind": "contacts"},
        files={"file": ("people.csv", data.encode(), "text/csv")},
    )
    review = http.get(upload.headers["location"]).text
    assert "Import contacts" in review and "Recognised as an export from Pipedrive." in review
    chosen = dict(re.findall(r'name="(column_\d)".*?<option value="(\w*)" selected', review, re.S))
    assert chosen == {"column_0": "name", "column_1": "email", "column_2": "company"}

    form = {**chosen, "owner": str(team["ana"].id), "action": "import"}
    answer = post_form(http, upload.headers["location"], form)

    assert answer.status_code == 200
    assert "1 contact created." in answer.text
    assert [(c.name, c.email) for c in acme.contacts] == [("Lola Gil", "lola@a.example")]


def test_without_immediate_mode_a_large_import_waits_for_the_worker(
    http: TestClient, team: dict, settings: Settings, tmp_path: Path
) -> None:
    queue = jobs.configure(Settings(data_dir=tmp_path / "queue", database_url="sqlite://"))
    try:
        log_in(http, "ana@example.com")
        data = ("Nombre\n" + "\n".join(f"Cliente {n}" for n in range(3500))).encode()
        upload = post_form(http, "/clients/import", files={"file": ("big.csv", data, "text/csv")})
        form = {"column_0": "name", "owner": str(team["ana"].id), "action": "import"}
        answer = post_form(http, upload.headers["location"], form)
        job = ImportJob.get()
        assert (answer.status_code, job.status) == (303, "queued")
        assert "0 of 3,500 rows" in http.get(f"/imports/{job.id}").text
        assert not Client.select().exists()

        # What `cartera worker` does with each message of the queue.
        queue.execute(queue.dequeue())

        assert ImportJob.get_by_id(job.id).status == "done"
        assert Client.select().count() == 3500
    finally:
        jobs.configure(settings)


def test_a_failed_dry_run_resumes_as_a_dry_run(
    http: TestClient, team: dict, settings: Settings
) -> None:
    options = {"mapping": {"0": "name"}, "country": "ES", "number_format": "es"}
    job = importer.start_job(team["ana"], "clients", "a.csv", b"Nombre\nUno\n",
                             settings.data_dir, options, total=1, dry_run=True)  # fmt: skip
    ImportJob.update(status="failed", error="worker lost").where(ImportJob.id == job.id).execute()
    log_in(http, "ana@example.com")
    assert "Resume" in http.get(f"/imports/{job.id}").text

    post_form(http, f"/imports/{job.id}/run")

    assert ImportJob.get_by_id(job.id).status == "checked"
    assert not Client.select().exists()


def test_undoing_a_contacts_import_restores_contacts_and_removes_new_companies(
    team: dict, settings: Settings
) -> None:
    acme = Client.create(name="Acme", owner=team["ana"], sort_name="acme")
    lola = Contact.create(client=acme, name="Lola", email="lola@acme.example", position="")
    text = "Record ID,First Name,Last Name,Email,Job Title,Company Name\n"
    text += "101,Lola,Martín,lola@acme.example,CEO,Acme\n102,Pau,Gil,pau@newco.example,,NewCo\n"
    job = run(team["ana"], text, settings, kind="contacts")
    assert (job.created, job.updated) == (1, 1)

    assert import_jobs.undo(job, team["ana"]) == []

    lola = Contact.get_by_id(lola.id)
    assert (lola.name, lola.position, lola.external_id) == ("Lola", "", "")
    assert [c.name for c in Client.select()] == ["Acme"]
    assert Contact.select().count() == 1


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_contacts_export_imports_back_unchanged(
    http: TestClient, team: dict, settings: Settings, kind: str
) -> None:
    acme = Client.create(name="Acme", fiscal_id="A11111119", owner=team["ana"], sort_name="acme")
    beta = Client.create(name="Acme", owner=team["luis"], sort_name="acme")
    fields = ["client_id", "name", "position", "email", "email_alt", "phone", "mobile",
              "language", "marketing_consent", "notes", "external_id"]  # fmt: skip
    Contact.create(client=acme, name="Lola Gil", position="CEO", email="lola@acme.example",
                   email_alt="l@gil.example", phone="+34981123456", mobile="+34600112233",
                   language="es", marketing_consent="withdrawn", notes="=no llamar\nnunca",
                   external_id="003XYZ")  # fmt: skip
    Contact.create(client=beta, name="Pau", marketing_consent="given")
    before = sorted(tuple(getattr(c, f) for f in fields) for c in Contact.select())
    log_in(http, "ana@example.com")
    exported = http.get(f"/clients/contacts/export.{kind}").content

    again = run(team["ana"], exported, settings, name=f"contacts.{kind}", kind="contacts")
    assert (again.created, again.updated, again.skipped, again.rejected) == (0, 0, 2, 0)

    # Two clients share the name: each contact finds its own by the Cartera ID.
    Contact.delete().execute()
    fresh = run(team["ana"], exported, settings, name=f"contacts.{kind}", kind="contacts")
    assert (fresh.created, fresh.rejected) == (2, 0), fresh.report
    after = sorted(tuple(getattr(c, f) for f in fields) for c in Contact.select())
    assert after == before


def test_the_contacts_export_holds_only_visible_clients_contacts(
    http: TestClient, team: dict
) -> None:
    mine = Client.create(name="Mía", owner=team["luis"])
    theirs = Client.create(name="De Eva", owner=team["eva"])
    Contact.create(client=mine, name="Visible")
    Contact.create(client=theirs, name="Oculto")
    log_in(http, "luis@example.com")

    text = http.get("/clients/contacts/export.csv").content.decode("utf-8-sig")

    assert "Visible" in text and "Oculto" not in text and "De Eva" not in text
    filtered = http.get("/clients/contacts/export.csv", params={"q": "nadie"}).text
    assert "Visible" not in filtered
    assert http.get("/clients/contacts/export.pdf").status_code == 404


def test_spanish_export_headers_map_back_to_every_exported_field() -> None:
    # The client and contact exports' headers as the Spanish catalogue writes them.
    clients = (
        "ID de Cartera;Nombre;Tipo;Estado;Segmento;Zona;Tipo de identificación fiscal;"
        "Identificación fiscal;Correo electrónico;Teléfono;Móvil;Dirección;Población;"
        "Código postal;Provincia;País;Sitio web;Notas;Facturación anual;Empleados;"
        "Cliente desde;Latitud;Longitud;Proveedor;Sin publicidad;Porcentaje de descuento;"
        "ID en el otro sistema;Responsable;Creado;Actualizado"
    ).split(";")
    contacts = (
        "ID de contacto de Cartera;Nombre;Cargo;Correo electrónico;Otro correo electrónico;"
        "Teléfono;Móvil;Idioma preferido;Consentimiento comercial;Notas;"
        "ID en el otro sistema;ID de Cartera del cliente;Nombre del cliente;"
        "Identificación fiscal del cliente"
    ).split(";")

    client_targets = importing.guess_mapping(clients)
    contact_targets = importing.guess_mapping(contacts, "contacts")

    assert sorted(client_targets) == list(range(len(clients) - 2)), "all but the timestamps"
    assert set(client_targets.values()) >= {"record_id", "fiscal_id_type", "marketing_opt_out",
                                            "discount", "external_id", "owner_email"}  # fmt: skip
    assert sorted(contact_targets) == list(range(len(contacts)))
    assert contact_targets[11] == "client_record_id" and contact_targets[0] == "record_id"


def test_consent_changed_by_an_import_and_its_undo_leave_evidence(
    team: dict, settings: Settings
) -> None:
    acme = Client.create(name="Acme", owner=team["ana"], sort_name="acme")
    lola = Contact.create(client=acme, name="Lola", email="lola@acme.example")
    consent.record(lola, "given", "form", text_shown="Sí, quiero ofertas", actor=team["ana"])
    consent.suppress(["erased@acme.example"], "erasure")
    text = "Nombre;Email;Empresa;Acepta publicidad\nLola;lola@acme.example;Acme;no\n"
    text += "Borrada;erased@acme.example;Acme;\n"

    job = run(team["ana"], text, settings, kind="contacts")

    assert Contact.get_by_id(lola.id).marketing_consent == "withdrawn"
    warnings = [e for e in json.loads(job.report) if e[1] == "warning"]
    assert [(e[0], e[2]) for e in warnings] == [(3, "Email")]
    assert "asked to be erased" in warnings[0][3]

    assert import_jobs.undo(job, team["ana"]) == []

    assert Contact.get_by_id(lola.id).marketing_consent == "given"
    methods = [(r.state, r.method) for r in consent.history(lola)]
    assert methods == [("given", "import"), ("withdrawn", "import"), ("given", "form")]


def test_shared_clients_and_stored_coordinates_import_back_unchanged(
    http: TestClient, team: dict, settings: Settings
) -> None:
    # Another branch's client shared with everyone: Ana exports it but may not change it.
    Client.create(name="Compartida", owner=team["eva"], visible_to_all=True, sort_name="compartida")
    mine = Client.create(name="Vértice Logística", owner=team["ana"], sort_name="vertice logistica")
    # What SQLite keeps of a six-decimal coordinate written as a float.
    Client.update(latitude=40.967332999999996).where(Client.id == mine.id).execute()
    from tests.conftest import grant

    grant(team["ana"].profile, "clients.coordinates")
    log_in(http, "ana@example.com")
    exported = http.get("/clients/export.csv").content

    again = run(team["ana"], exported, settings, name="clients.csv", dry_run=True)
    assert (again.created, again.updated, again.rejected) == (0, 0, 0), again.report
    assert again.skipped == 2
    assert "Shared by another team; left as it was" in json.dumps(json.loads(again.report))


def test_a_contacts_import_warns_of_a_company_in_another_portfolio(
    http: TestClient, team: dict, settings: Settings
) -> None:
    Client.create(
        name="Acacia Energía S.L.", owner=team["eva"], city="", sort_name="acacia energia s.l."
    )
    text = "Nombre;Email;Empresa\nMarta Ruiz;marta@acacia.example;Acacia Energía SL\n"
    dry = run(team["ana"], text, settings, kind="contacts", dry_run=True)
    report = json.dumps(json.loads(dry.report), ensure_ascii=False)
    assert "May be a client you cannot see" in report
    assert "eva" not in report.lower()
