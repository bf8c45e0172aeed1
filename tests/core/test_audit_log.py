"""Administration → Audit log over HTTP, and the entries client changes write."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import datetime, timedelta

import openpyxl
import pytest
from starlette.testclient import TestClient

from portal.core.models import AuditEntry, Client, Contact, Profile, User
from portal.core.permissions import read_grants, write_grants
from tests.conftest import count_queries, log_in, make_profile, make_user, post_form

pytestmark = pytest.mark.usefixtures("fast_passwords")

T0 = datetime(2026, 3, 1, 12, 0, 0)


@pytest.fixture
def top(http: TestClient) -> Profile:
    profile = make_profile("Dirección", kind="structural")
    make_user("admin@example.com", profile, is_admin=True, language="en", time_zone="UTC")
    log_in(http, "admin@example.com")
    return profile


@pytest.fixture
def admin(top: Profile) -> User:
    return User.get(User.email == "admin@example.com")


def add(action: str, at: datetime = T0, **extra: object) -> AuditEntry:
    return AuditEntry.create(action=action, at=at, **extra)


def shown_ids(page: str) -> list[int]:
    """Entry ids as the page lists them (each entry links its object id)."""
    return [int(i) for i in re.findall(r"<small>#(\d+)</small>", page)]


def listed(http: TestClient, **params: str) -> list[str]:
    page = http.get("/admin/audit", params=params).text
    return re.findall(r"<code>([a-z_.]+)</code></p>", page)


def add_client(owner: User, name: str, **extra: object) -> Client:
    client = Client(owner=owner, name=name, **extra)
    client.reindex()
    client.save()
    return client


def client_form(client: Client, **changes: object) -> dict[str, object]:
    form = {
        "name": client.name,
        "kind": "company",
        "status": "lead",
        "owner": client.owner_id,
        "country": "ES",
        "version": client.version,
    }
    return {**form, **changes}


# ------------------------------------------------------------ access


def test_without_the_audit_menu_the_log_is_refused(http: TestClient, top: Profile) -> None:
    add("profiles.created", object_label="Secreto")
    boss = make_profile("Jefes", parent=top)
    held = read_grants(boss)
    write_grants(boss, {**held, "menu.admin": "", "menu.admin.users": ""})
    boss.save()
    make_user("boss@example.com", boss, language="en")
    with TestClient(http.app, base_url="http://testserver") as browser:
        log_in(browser, "boss@example.com")
        answers = [
            browser.get(path)
            for path in ("/admin/audit", "/admin/audit/export.csv", "/admin/audit/export.xlsx")
        ]
        menu = browser.get("/").text

    assert [a.status_code for a in answers] == [403, 403, 403]
    assert all("Your profile does not include “Audit log”." in a.text for a in answers)
    assert all("Secreto" not in a.text for a in answers)
    assert 'href="/admin/audit"' not in menu


def test_a_profile_holding_the_audit_menu_reads_its_teams_entries(
    http: TestClient, top: Profile, admin: User
) -> None:
    auditor = make_profile("Auditoría", parent=top)
    write_grants(auditor, {"menu.admin": "", "menu.admin.audit": ""})
    auditor.save()
    make_user("auditor@example.com", auditor, language="en")
    below = make_user("rep@example.com", make_profile("Ventas", parent=auditor))
    peer = make_user("peer@example.com", make_profile("Otra rama", parent=top))
    add("clients.deleted", actor=below, actor_name=below.name, object_label="Visible SL")
    add("clients.deleted", actor=peer, actor_name=peer.name, object_label="Ajeno SL")
    add("profiles.created", actor=admin, actor_name=admin.name, object_label="Secreto")
    add("clients.deleted", object_label="Sin autor SL")
    with TestClient(http.app, base_url="http://testserver") as browser:
        log_in(browser, "auditor@example.com")
        page = browser.get("/admin/audit")
        exported = browser.get("/admin/audit/export.csv")
        menu = browser.get("/").text

    assert page.status_code == 200 and "Visible SL" in page.text
    for hidden in ("Ajeno SL", "Secreto", "Sin autor SL", "peer@example.com"):
        assert hidden not in page.text + exported.text
    assert "Visible SL" in exported.text
    assert 'href="/admin/audit"' in menu
    # The administrator reads everything.
    everything = http.get("/admin/audit").text
    assert all(name in everything for name in ("Visible SL", "Ajeno SL", "Secreto", "Sin autor"))


# ------------------------------------------------------------ showing


def test_entries_read_newest_first_with_labels_and_values(http: TestClient, admin: User) -> None:
    add("clients.owner.changed", at=T0, actor=admin, actor_name="Admin")
    add(
        "profiles.updated",
        at=T0 + timedelta(minutes=5),
        actor=admin,
        actor_name="Admin",
        object_type="profile",
        object_id=admin.profile_id,
        object_label="Dirección",
        before=json.dumps({"name": "<script>x</script>", "is_assistant": False}),
        after=json.dumps({"name": "Nueva", "is_assistant": True}),
    )
    add("plugin.thing.done", at=T0 - timedelta(days=1), actor_name="")

    page = http.get("/admin/audit").text

    assert listed(http) == ["profiles.updated", "clients.owner.changed", "plugin.thing.done"]
    assert "<strong>Profile changed</strong> <code>profiles.updated</code>" in page
    assert "<code>plugin.thing.done</code>" in page  # no label: the dotted name alone
    assert f'<a href="/admin/profiles/{admin.profile_id}">Dirección</a>' in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    assert "<td><code>is_assistant</code></td><td>no</td><td>→ yes</td>" in page
    assert "01/03/2026, 12:05" in page  # the admin reads UTC
    assert "The system" in page


def test_objects_link_only_while_they_exist_and_are_visible(
    http: TestClient, top: Profile, admin: User
) -> None:
    north, south = make_profile("Norte", parent=top), make_profile("Sur", parent=top)
    ana = make_user("ana@example.com", north, language="en")
    luis = make_user("luis@example.com", south)
    mine, theirs = add_client(ana, "Propio SL"), add_client(luis, "Ajeno SL")
    for client, who in ((mine, ana), (theirs, luis)):
        add(
            "clients.deleted",
            actor=who,
            object_type="client",
            object_id=client.id,
            object_label=client.name,
        )
    add("clients.deleted", object_type="client", object_id=999999, object_label="Borrado SL")
    # Ana's own entry about a client she cannot see: named, never linked.
    add("clients.owner.changed", actor=ana, object_type="client", object_id=theirs.id,
        object_label="Cedido SL")  # fmt: skip
    write_grants(north, {**read_grants(north), "menu.admin": "", "menu.admin.audit": ""})
    north.save()

    seen_by_admin = http.get("/admin/audit").text
    with TestClient(http.app, base_url="http://testserver") as browser:
        log_in(browser, "ana@example.com")
        seen_by_ana = browser.get("/admin/audit").text

    assert f'<a href="/clients/{mine.id}">Propio SL</a>' in seen_by_admin
    assert f'<a href="/clients/{theirs.id}">Ajeno SL</a>' in seen_by_admin
    assert "/clients/999999" not in seen_by_admin and "Borrado SL" in seen_by_admin
    assert f'<a href="/clients/{mine.id}">Propio SL</a>' in seen_by_ana
    assert f"/clients/{theirs.id}" not in seen_by_ana and "Cedido SL" in seen_by_ana
    # Luis's entry is not Ana's team's: she does not read it at all.
    assert "Ajeno SL" not in seen_by_ana


# ------------------------------------------------------------ filters


def test_action_filter_exact_and_prefix(http: TestClient, admin: User) -> None:
    for i, action in enumerate(
        ["users.created", "users.deactivated", "usersx.odd", "profiles.deleted"]
    ):
        add(action, at=T0 + timedelta(minutes=i))

    assert listed(http, action="users.") == ["users.deactivated", "users.created"]
    assert listed(http, action="users.*") == ["users.deactivated", "users.created"]
    assert listed(http, action="users.created") == ["users.created"]
    assert listed(http, action="users") == []  # not a prefix without the dot
    assert listed(http, action="profiles.deleted") == ["profiles.deleted"]


def test_actor_filter_by_email(http: TestClient, top: Profile, admin: User) -> None:
    ana = make_user("ana@example.com", top)
    add("users.created", actor=admin, actor_name="Admin")
    add("users.deactivated", actor=ana, actor_name="Ana")

    only_ana = listed(http, actor=" ANA@example.com ")
    unknown = http.get("/admin/audit", params={"actor": "nobody@example.com"})

    assert only_ana == ["users.deactivated"]
    assert unknown.status_code == 400
    assert '<p class="error" id="e-actor">Nobody has this email.</p>' in unknown.text
    assert re.findall(r"<code>([a-z_.]+)</code></p>", unknown.text) == []


def test_object_filter(http: TestClient, admin: User) -> None:
    add("profiles.updated", object_type="profile", object_id=7, object_label="Siete")
    add("profiles.updated", object_type="profile", object_id=8, object_label="Ocho")
    add("clients.deleted", object_type="client", object_id=7, object_label="Cliente siete")

    page = http.get("/admin/audit", params={"type": "profile", "object": "7"}).text
    bad = http.get("/admin/audit", params={"object": "siete"})

    assert "Siete" in page and "Ocho" not in page and "Cliente siete" not in page
    assert bad.status_code == 400
    assert '<p class="error" id="e-object">Not a valid number.</p>' in bad.text


@pytest.mark.parametrize(
    ("zone", "day", "found"),
    [
        # 23:30 UTC on 1 March is already 2 March in Madrid (UTC+1)...
        ("Europe/Madrid", "2026-03-02", True),
        ("Europe/Madrid", "2026-03-01", False),
        # ...and still 1 March in Bogotá (UTC-5).
        ("America/Bogota", "2026-03-01", True),
        ("America/Bogota", "2026-03-02", False),
    ],
)
def test_date_range_is_in_the_viewers_zone(
    http: TestClient, admin: User, zone: str, day: str, found: bool
) -> None:
    admin.time_zone = zone
    admin.save()
    add("users.created", at=datetime(2026, 3, 1, 23, 30))
    add("users.deactivated", at=datetime(2026, 2, 27, 12, 0))

    result = listed(http, **{"from": day, "to": day})

    assert result == (["users.created"] if found else [])


def test_date_range_bounds_and_mistakes(http: TestClient, admin: User) -> None:
    add("a.first", at=datetime(2026, 3, 1, 0, 0))
    add("a.last", at=datetime(2026, 3, 3, 23, 59, 59))
    add("a.after", at=datetime(2026, 3, 4, 0, 0))

    inside = listed(http, **{"from": "2026-03-01", "to": "2026-03-03"})
    reversed_range = http.get("/admin/audit", params={"from": "2026-03-03", "to": "2026-03-01"})
    nonsense = http.get("/admin/audit", params={"from": "yesterday"})

    assert inside == ["a.last", "a.first"]
    assert 'id="e-to">The end is before the start.' in reversed_range.text
    assert 'id="e-from">Not a valid date.' in nonsense.text


def test_entry_times_show_in_the_viewers_zone(http: TestClient, admin: User) -> None:
    admin.time_zone = "America/Bogota"
    admin.save()
    add("users.created", at=datetime(2026, 3, 1, 23, 30))

    page = http.get("/admin/audit").text

    assert "01/03/2026, 18:30" in page
    assert "Times in America/Bogota." in page


# ------------------------------------------------------------ pages


def _walk(http: TestClient, start: str, rel: str) -> list[list[int]]:
    pages, url = [], start
    while url:
        page = http.get(url).text
        pages.append(shown_ids(page))
        match = re.search(rf'<a rel="{rel}" href="([^"]+)"', page)
        url = html.unescape(match.group(1)) if match else ""
        assert len(pages) < 20
    return pages


def test_pages_never_repeat_or_skip(http: TestClient, admin: User) -> None:
    # Ties on the timestamp (five entries a second) test the id tie-breaker.
    made = [
        add("users.updated", at=T0 + timedelta(seconds=i // 5), object_type="x", object_id=i)
        for i in range(1, 63)
    ]
    expected = [e.object_id for e in sorted(made, key=lambda e: (e.at, e.id), reverse=True)]

    first = http.get("/admin/audit?size=25").text
    add("users.updated", at=T0 + timedelta(days=1), object_type="x", object_id=1000)  # meanwhile
    older = re.search(r'<a rel="next" href="([^"]+)"', first).group(1)
    rest = _walk(http, html.unescape(older), "next")
    forward = [shown_ids(first), *rest]

    assert [len(p) for p in forward] == [25, 25, 12]
    assert [i for p in forward for i in p] == expected
    last = http.get(html.unescape(older)).text
    newer = re.search(r'<a rel="prev" href="([^"]+)"', last).group(1)
    back = shown_ids(http.get(html.unescape(newer)).text)
    assert back == expected[:25]  # walking back shows the first page again, not the new entry


def test_the_first_page_offers_no_newer_link(http: TestClient, admin: User) -> None:
    add("users.updated")

    page = http.get("/admin/audit").text

    assert 'rel="prev"' not in page and 'rel="next"' not in page


# ------------------------------------------------------------ export


def test_csv_export_follows_the_filters_and_neutralises_formulas(
    http: TestClient, admin: User
) -> None:
    add(
        "clients.deleted",
        at=datetime(2026, 3, 1, 23, 30),
        actor=admin,
        actor_name="Admin",
        object_type="client",
        object_id=5,
        object_label='=HYPERLINK("http://x","Ñandú")',
        before=json.dumps({"name": "Ñandú"}, ensure_ascii=False),
        ip="127.0.0.1",
    )
    add("users.created")

    answer = http.get("/admin/audit/export.csv", params={"action": "clients."})

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "When (UTC)",
        "Who",
        "Action",
        "Description",
        "Object type",
        "Object ID",
        "Object",
        "Before",
        "After",
        "IP address",
    ]
    assert rows[1:] == [
        [
            "2026-03-01 23:30:00",
            "Admin <admin@example.com>",
            "clients.deleted",
            "Client deleted",
            "client",
            "5",
            '\'=HYPERLINK("http://x","Ñandú")',
            '{"name": "Ñandú"}',
            "{}",
            "127.0.0.1",
        ]
    ]


def test_xlsx_export_in_the_viewers_zone(http: TestClient, admin: User) -> None:
    admin.time_zone = "Europe/Madrid"
    admin.language = "es"
    admin.save()
    add("clients.deleted", at=datetime(2026, 3, 1, 23, 30), object_label="=1+1")
    add("users.created", at=datetime(2026, 3, 1, 10, 0))

    answer = http.get("/admin/audit/export.xlsx")

    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("Cuándo (Europe/Madrid)", "Quién", "Acción", "Descripción")
    assert [row[2] for row in rows[1:]] == ["clients.deleted", "users.created"]
    assert rows[1][0] == datetime(2026, 3, 2, 0, 30)
    assert rows[1][3] == "Cliente eliminado"
    assert rows[1][6] == "=1+1" and sheet.cell(row=2, column=7).data_type == "s"


# ------------------------------------------------------------ written by client changes


@pytest.fixture
def team(top: Profile) -> tuple[User, User]:
    north = make_profile("Norte", parent=top)
    return make_user("ana@example.com", north), make_user("luis@example.com", north)


def test_changing_a_clients_owner_is_audited(
    http: TestClient, admin: User, team: tuple[User, User]
) -> None:
    ana, luis = team
    client = add_client(ana, "Acme SL")

    renamed = post_form(http, f"/clients/{client.id}/edit", client_form(client, name="Acme"))
    client = Client.get_by_id(client.id)
    moved = post_form(http, f"/clients/{client.id}/edit", client_form(client, owner=luis.id))
    stale = post_form(
        http, f"/clients/{client.id}/edit", client_form(client, owner=ana.id, version=1)
    )

    assert (renamed.status_code, moved.status_code, stale.status_code) == (303, 303, 409)
    [entry] = AuditEntry.select().where(AuditEntry.action == "clients.owner.changed")
    assert (entry.actor_id, entry.object_type, entry.object_id, entry.object_label) == (
        admin.id,
        "client",
        client.id,
        "Acme",
    )
    assert json.loads(entry.before) == {"owner_id": ana.id, "owner_name": "Ana"}
    assert json.loads(entry.after) == {"owner_id": luis.id, "owner_name": "Luis"}
    assert entry.ip == "testclient"
    assert AuditEntry.select().count() == 1  # renaming alone and the stale save wrote nothing


def test_deleting_a_client_is_audited_with_its_fields(
    http: TestClient, admin: User, team: tuple[User, User]
) -> None:
    ana, _luis = team
    client = add_client(ana, "Acme SL", city="León", email="hola@acme.example", status="customer")
    Contact.create(client=client, name="Pepa")

    answer = post_form(http, f"/clients/{client.id}/delete")

    assert answer.status_code == 303
    assert Client.get_or_none(Client.id == client.id) is None
    [entry] = AuditEntry.select().where(AuditEntry.action == "clients.deleted")
    before = json.loads(entry.before)
    assert (entry.actor_id, entry.object_id, entry.object_label) == (admin.id, client.id, "Acme SL")
    assert before["name"] == "Acme SL" and before["city"] == "León"
    assert before["status"] == "customer" and before["email"] == "hola@acme.example"
    assert (before["owner_id"], before["owner_name"], before["contacts"]) == (ana.id, "Ana", 1)
    page = http.get("/admin/audit", params={"action": "clients.deleted"}).text
    assert "Acme SL" in page and f'href="/clients/{client.id}"' not in page


def test_deleting_a_contact_is_audited(
    http: TestClient, admin: User, team: tuple[User, User]
) -> None:
    client = add_client(team[0], "Acme SL")
    contact = Contact.create(client=client, name="Pepa Ruiz", email="pepa@acme.example")

    answer = post_form(http, f"/clients/{client.id}/contacts/{contact.id}/delete")

    assert answer.status_code == 303
    [entry] = AuditEntry.select().where(AuditEntry.action == "contacts.deleted")
    assert (entry.object_type, entry.object_id, entry.object_label) == (
        "contact",
        contact.id,
        "Pepa Ruiz",
    )
    before = json.loads(entry.before)
    assert (before["email"], before["client_id"], before["client_name"]) == (
        "pepa@acme.example",
        client.id,
        "Acme SL",
    )


def test_a_failed_deletion_leaves_no_entry(
    http: TestClient, admin: User, team: tuple[User, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = add_client(team[0], "Acme SL")

    def refuse(*args: object, **kwargs: object) -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr("peewee.ModelDelete.execute", refuse)
    with pytest.raises(RuntimeError):
        post_form(http, f"/clients/{client.id}/delete")
    monkeypatch.undo()

    assert Client.get_or_none(Client.id == client.id) is not None
    assert AuditEntry.select().count() == 0


def test_a_longer_page_runs_no_more_queries(http: TestClient, top: Profile, admin: User) -> None:
    client = add_client(admin, "Acme SL")
    contact = Contact.create(client=client, name="Pepa")
    targets = [
        ("profile", top.id),
        ("user", admin.id),
        ("client", client.id),
        ("contact", contact.id),
    ]

    def page_queries(entries: int) -> int:
        AuditEntry.delete().execute()
        for i in range(entries):
            kind, key = targets[i % 4]
            add(
                "x.done", at=T0 + timedelta(seconds=i), actor=admin, object_type=kind, object_id=key
            )
        with count_queries() as seen:
            page = http.get("/admin/audit").text
        assert page.count("<li>") >= entries
        return len(seen)

    assert page_queries(4) == page_queries(40)


def test_the_log_reads_in_spanish(http: TestClient, admin: User) -> None:
    admin.language = "es"
    admin.save()
    add(
        "profiles.updated",
        object_type="profile",
        object_id=admin.profile_id,
        before=json.dumps({"is_assistant": False}),
        after=json.dumps({"is_assistant": True}),
    )

    page = http.get("/admin/audit").text

    assert "<strong>Perfil modificado</strong> <code>profiles.updated</code>" in page
    assert "<td>no</td><td>→ sí</td>" in page
    assert "El sistema" in page and "Perfil" in page
