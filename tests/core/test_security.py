"""CSRF on every state change, security headers, escaping and cookie flags."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import openpyxl
import pytest
from starlette.testclient import TestClient

from portal.config import Settings
from portal.core.models import (
    Activity,
    Client,
    Contact,
    Profile,
    User,
    UserSession,
)
from portal.web.middleware import csrf_token_for
from tests.conftest import PASSWORD, log_in, make_profile, make_user, post_form, token

pytestmark = pytest.mark.usefixtures("fast_passwords")

BAD_NAMES = ("<script>alert(1)</script>", '" onmouseover="x')


@dataclass
class World:
    admin: TestClient  # the admin's browser
    second: TestClient  # the same admin, signed in on another browser
    anon: TestClient  # a visitor who has not signed in
    stranger: TestClient  # another visitor, for the login form
    settings: Settings
    admin_id: int
    profile_id: int
    user_id: int
    client_id: int
    contact_id: int
    twin_id: int  # a second client, to merge into the first
    import_token: str


def _client_with(app: object) -> TestClient:
    client = TestClient(app, base_url="http://testserver")
    client.headers["accept-language"] = "en"
    return client


@pytest.fixture
def world(http: TestClient, settings: Settings) -> Iterator[World]:
    top = make_profile("Dirección", kind="structural")
    sales = make_profile("Ventas", parent=top)
    admin_id = make_user("admin@example.com", top, is_admin=True, language="en").id
    rep = make_user("rep@example.com", sales, language="en")
    client = Client(name="Acme", owner=admin_id)
    client.reindex()
    client.save()
    contact = Contact.create(client=client, name="Pepa")
    twin = Client(name="Acme SL", owner=admin_id)
    twin.reindex()
    twin.save()

    with (
        _client_with(http.app) as second,
        _client_with(http.app) as anon,
        _client_with(http.app) as stranger,
    ):
        http.headers["accept-language"] = "en"
        log_in(http, "admin@example.com")
        log_in(second, "admin@example.com")
        uploaded = post_form(
            http,
            "/clients/import",
            files={"file": ("list.csv", b"Nombre\nAna\nLuis\n", "text/csv")},
        )
        assert uploaded.status_code == 303, uploaded.text
        yield World(
            admin=http,
            second=second,
            anon=anon,
            stranger=stranger,
            settings=settings,
            admin_id=admin_id,
            profile_id=sales.id,
            user_id=rep.id,
            client_id=client.id,
            contact_id=contact.id,
            twin_id=twin.id,
            import_token=uploaded.headers["location"].rsplit("/", 1)[1],
        )


# name -> (signed in?, path, form fields, files) for one state-changing request
Action = tuple[bool, str, dict[str, object], dict | None]


def _actions(w: World) -> dict[str, Action]:
    client = f"/clients/{w.client_id}"
    contact = f"{client}/contacts/{w.contact_id}"
    new_client = {
        "name": "Nueva SL",
        "kind": "company",
        "status": "lead",
        "owner": w.admin_id,
    }
    rep = {
        "name": "Rep",
        "email": "rep@example.com",
        "profile": w.profile_id,
        "is_active": "on",
    }
    new_user = {**rep, "email": "new@example.com", "password": "long enough pw"}
    login = {"email": "admin@example.com", "password": PASSWORD}
    review = {"column_0": "name", "owner": w.admin_id, "action": "import"}
    upload = {"file": ("more.csv", b"Nombre\nEva\n", "text/csv")}
    return {
        "login": (False, "/login", login, None),
        "logout": (True, "/logout", {}, None),
        "client-create": (True, "/clients/new", new_client, None),
        "client-edit": (True, f"{client}/edit", {**new_client, "version": 1}, None),
        "client-delete": (True, f"{client}/delete", {}, None),
        "contact-add": (True, f"{client}/contacts", {"name": "Lola"}, None),
        "contact-edit": (True, f"{contact}/edit", {"name": "Pepa Ruiz"}, None),
        "contact-delete": (True, f"{contact}/delete", {}, None),
        "activity-add": (
            True,
            f"{client}/activities",
            {"kind": "call", "subject": "Hola"},
            None,
        ),
        "client-merge": (
            True,
            f"{client}/merge",
            {"with": w.twin_id, "version": 1, "other_version": 1, "step": "merge"},
            None,
        ),
        "import-upload": (True, "/clients/import", {}, upload),
        "import-review": (True, f"/clients/import/{w.import_token}", review, None),
        "profile-create": (
            True,
            "/admin/profiles/new",
            {"name": "Soporte", "kind": "structural"},
            None,
        ),
        "profile-edit": (
            True,
            f"/admin/profiles/{w.profile_id}",
            {"name": "Ventas Sur", "kind": "hierarchical"},
            None,
        ),
        "user-create": (True, "/admin/users/new", new_user, None),
        "user-edit": (
            True,
            f"/admin/users/{w.user_id}",
            {**rep, "name": "Rep 2"},
            None,
        ),
        "account": (True, "/account", {"language": "es"}, None),
    }


ACTIONS = [
    "login",
    "logout",
    "client-create",
    "client-edit",
    "client-delete",
    "contact-add",
    "contact-edit",
    "contact-delete",
    "activity-add",
    "client-merge",
    "import-upload",
    "import-review",
    "profile-create",
    "profile-edit",
    "user-create",
    "user-edit",
    "account",
]


def _snapshot(settings: Settings) -> tuple:
    """Everything a state change could touch: the rows and the pending uploads."""
    tables = tuple(
        tuple(model.select().order_by(model._meta.primary_key).tuples())
        for model in (Profile, User, Client, Contact, Activity)
    )
    sessions = tuple(sorted(UserSession.select(UserSession.token_hash).tuples()))
    uploads = settings.data_dir / "imports"
    files = tuple(sorted(p.name for p in uploads.iterdir())) if uploads.exists() else ()
    return tables, sessions, files


def _send(
    w: World,
    name: str,
    csrf: Callable[[TestClient], str | None],
    *,
    header: bool = False,
    origin: str = "",
) -> object:
    signed_in, path, data, files = _actions(w)[name]
    browser = w.admin if signed_in else w.anon
    given = csrf(browser)
    fields = {key: str(value) for key, value in data.items()}
    headers = {"origin": origin} if origin else {}
    if given is not None and header:
        headers["x-csrf-token"] = given
    elif given is not None:
        fields["csrf_token"] = given
    return browser.post(path, data=fields, files=files, headers=headers, follow_redirects=False)


def _own(browser: TestClient) -> str:
    return token(browser, "/" if "cartera_session" in browser.cookies else "/login")


def _foreign(w: World) -> Callable[[TestClient], str]:
    # The admin's other browser, or another anonymous visitor for the login form.
    return lambda browser: _own(w.second if browser is w.admin else w.stranger)


@pytest.mark.parametrize("name", ACTIONS)
@pytest.mark.parametrize("kind", ["missing", "wrong", "other session"])
def test_state_change_without_the_right_token_is_refused(
    world: World, name: str, kind: str
) -> None:
    csrf = {
        "missing": lambda browser: None,
        "wrong": lambda browser: "0" * 64,
        "other session": _foreign(world),
    }[kind]
    for browser in (world.admin, world.anon):
        _own(browser)  # so both hold their cookies before the snapshot
    before = _snapshot(world.settings)

    for header in (False, True):
        answer = _send(world, name, csrf, header=header)
        assert answer.status_code == 403, (name, kind, header, answer.text)
        assert "Reload the page" in answer.text

    assert _snapshot(world.settings) == before


@pytest.mark.parametrize("name", ACTIONS)
@pytest.mark.parametrize("header", [False, True], ids=["form field", "htmx header"])
def test_state_change_with_the_token_goes_through(world: World, name: str, header: bool) -> None:
    _own(world.anon)
    before = _snapshot(world.settings)

    answer = _send(world, name, _own, header=header)

    assert answer.status_code in (200, 303), answer.text
    assert _snapshot(world.settings) != before


@pytest.mark.parametrize("name", ACTIONS)
def test_cross_site_origin_is_refused(world: World, name: str) -> None:
    _own(world.anon)
    before = _snapshot(world.settings)

    answer = _send(world, name, _own, origin="https://evil.example")

    assert answer.status_code == 403
    assert "Cross-site request refused." in answer.text
    assert _snapshot(world.settings) == before


def test_same_origin_header_is_accepted(world: World) -> None:
    answer = _send(world, "account", _own, origin="http://testserver")

    assert answer.status_code == 303


def test_null_origin_is_refused(world: World) -> None:
    # Sandboxed frames and some redirects send "null"; it is never our own page.
    answer = _send(world, "account", _own, origin="null")

    assert answer.status_code == 403


def test_login_token_does_not_survive_login(world: World) -> None:
    # A token read before signing in is bound to the anonymous visitor, not the session.
    anonymous_token = token(world.anon, "/login")
    log_in(world.anon, "admin@example.com")

    answer = world.anon.post(
        "/account",
        data={"language": "es", "csrf_token": anonymous_token},
        follow_redirects=False,
    )

    assert answer.status_code == 403
    assert User.get_by_id(world.admin_id).language == "en"


def test_token_is_tied_to_the_secret(world: World) -> None:
    session = world.admin.cookies["cartera_session"]
    forged = csrf_token_for("some-other-secret", session)

    answer = world.admin.post(
        "/account",
        data={"language": "es", "csrf_token": forged},
        follow_redirects=False,
    )

    assert answer.status_code == 403
    assert csrf_token_for(world.settings.secret_key, session) == token(world.admin)


# --------------------------------------------------------------- headers


def _assert_security_headers(answer: object) -> None:
    headers = answer.headers
    csp = headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("x-frame-options") == "DENY"


def test_every_page_sends_security_headers(world: World) -> None:
    pages = [
        "/",
        "/clients",
        "/clients?q=acme",
        "/clients/new",
        f"/clients/{world.client_id}",
        f"/clients/{world.client_id}/edit",
        f"/clients/{world.client_id}/delete",
        f"/clients/{world.client_id}/timeline",
        f"/clients/{world.client_id}/contacts/{world.contact_id}/edit",
        f"/clients/{world.client_id}/contacts/{world.contact_id}/delete",
        "/clients/export.csv",
        "/clients/export.xlsx",
        "/clients/autocomplete?q=ac",
        "/clients/owners?owner_q=ac",
        "/clients/import",
        f"/clients/import/{world.import_token}",
        "/admin/profiles",
        "/admin/profiles/new",
        f"/admin/profiles/{world.profile_id}",
        "/admin/users",
        "/admin/users/new",
        f"/admin/users/{world.user_id}",
        "/account",
        "/clients/999999",
        "/no-such-page",
        "/login",
    ]
    for path in pages:
        answer = world.admin.get(path, follow_redirects=False)
        assert answer.status_code in (200, 303, 404), path
        _assert_security_headers(answer)

    fragment = world.admin.get("/clients", headers={"hx-request": "true"})
    _assert_security_headers(fragment)
    for path in ("/login", "/clients", "/no-such-page"):
        _assert_security_headers(world.anon.get(path, follow_redirects=False))


def test_refusals_and_redirects_send_security_headers(world: World) -> None:
    refused = world.admin.post("/account", data={"language": "es"})
    saved = post_form(world.admin, "/account", {"language": "en"})
    invalid = post_form(world.admin, "/clients/new", {"name": ""})

    assert (refused.status_code, saved.status_code, invalid.status_code) == (
        403,
        303,
        400,
    )
    for answer in (refused, saved, invalid):
        _assert_security_headers(answer)


def test_static_files_are_not_sniffed(world: World) -> None:
    answer = world.anon.get("/static/cartera.css")

    assert answer.status_code == 200
    assert answer.headers["x-content-type-options"] == "nosniff"


# --------------------------------------------------------------- cookies


def _cookie_attributes(answer: object, name: str) -> list[str]:
    for header in answer.headers.get_list("set-cookie"):
        if header.startswith(name + "="):
            return [part.strip().lower() for part in header.split(";")]
    raise AssertionError(f"no {name} cookie set")


def test_session_and_visitor_cookies_are_httponly_and_lax(http: TestClient, world: World) -> None:
    with _client_with(http.app) as fresh:
        first = fresh.get("/login")
        answer = fresh.post(
            "/login",
            data={
                "email": "admin@example.com",
                "password": PASSWORD,
                "csrf_token": token(fresh, "/login"),
            },
            follow_redirects=False,
        )

    for attributes in (
        _cookie_attributes(first, "cartera_anon"),
        _cookie_attributes(answer, "cartera_session"),
    ):
        assert "httponly" in attributes
        assert "samesite=lax" in attributes
        assert "path=/" in attributes


def test_session_cookie_is_secure_behind_https(
    http: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    secure = replace(world.settings, secure_cookies=True)
    monkeypatch.setattr(http.app.state, "settings", secure)
    with _client_with(http.app) as fresh:
        answer = fresh.post(
            "/login",
            data={
                "email": "admin@example.com",
                "password": PASSWORD,
                "csrf_token": token(fresh, "/login"),
            },
            follow_redirects=False,
        )

    assert "secure" in _cookie_attributes(answer, "cartera_session")


# --------------------------------------------------------------- escaping


def _assert_escaped(html: str, where: str) -> None:
    for raw in BAD_NAMES:
        assert raw not in html, where
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, where
    assert "&#34; onmouseover=&#34;x" in html, where


@pytest.fixture
def hostile(world: World) -> list[int]:
    ids = []
    for name in BAD_NAMES:
        client = Client(name=name, city=name, zone=name, owner=world.admin_id, notes=name)
        client.reindex()
        client.save()
        Contact.create(client=client, name=name, position=name)
        Activity.create(client=client, author=world.admin_id, kind="note", subject=name)
        ids.append(client.id)
    return ids


def test_user_text_is_escaped_on_every_page(world: World, hostile: list[int]) -> None:
    pages = {"list": "/clients", "home": "/"}
    for client_id in hostile:
        pages |= {
            f"detail {client_id}": f"/clients/{client_id}",
            f"edit {client_id}": f"/clients/{client_id}/edit",
            f"delete {client_id}": f"/clients/{client_id}/delete",
            f"timeline {client_id}": f"/clients/{client_id}/timeline",
        }
    combined = {}
    for where, path in pages.items():
        answer = world.admin.get(path)
        assert answer.status_code == 200, where
        for raw in BAD_NAMES:
            assert raw not in answer.text, where
        combined[where] = answer.text
    _assert_escaped(combined["list"], "list")
    _assert_escaped(combined["home"], "home")
    _assert_escaped("".join(t for w, t in combined.items() if w.startswith("edit")), "edit")
    _assert_escaped("".join(t for w, t in combined.items() if w.startswith("det")), "detail")


def test_user_text_is_escaped_in_fragments(world: World, hostile: list[int]) -> None:
    htmx = {"hx-request": "true"}
    for query, escaped in (
        ("script", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("onmouseover", "&#34; onmouseover=&#34;x"),
    ):
        suggestions = world.admin.get("/clients/autocomplete", params={"q": query})
        fragment = world.admin.get("/clients", params={"q": query}, headers=htmx)
        for answer in (suggestions, fragment):
            assert answer.status_code == 200
            assert "<html" not in answer.text
            assert escaped in answer.text, query
            for raw in BAD_NAMES:
                assert raw not in answer.text


def test_export_keeps_hostile_text_as_data(world: World, hostile: list[int]) -> None:
    answer = world.admin.get("/clients/export.csv")

    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"].startswith("attachment")
    assert answer.headers["x-content-type-options"] == "nosniff"
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert {row["Name"] for row in rows} >= set(BAD_NAMES)

    workbook = world.admin.get("/clients/export.xlsx")
    assert workbook.headers["content-disposition"].startswith("attachment")
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
    names = {row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert names >= set(BAD_NAMES)


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def test_import_preview_escapes_the_file(world: World) -> None:
    rows = [["Nombre", "Ciudad", "Email"]]
    rows += [[name, name, "not-an-email"] for name in BAD_NAMES]
    upload = post_form(
        world.admin,
        "/clients/import",
        files={"file": ("hostile.csv", _csv_bytes(rows), "text/csv")},
    )
    review_path = upload.headers["location"]

    review = world.admin.get(review_path)
    preview = post_form(
        world.admin,
        review_path,
        {
            "column_0": "name",
            "column_1": "city",
            "column_2": "email",
            "owner": world.admin_id,
            "action": "preview",
        },
    )

    assert review.status_code == preview.status_code == 200
    _assert_escaped(review.text, "review")
    _assert_escaped(preview.text, "preview")
    assert Client.select().where(Client.name.in_(BAD_NAMES)).count() == 0


def test_hostile_header_is_escaped_in_the_review(world: World) -> None:
    content = _csv_bytes([list(BAD_NAMES), ["Ana", "x"]])
    upload = post_form(
        world.admin,
        "/clients/import",
        files={"file": ("hostile.csv", content, "text/csv")},
    )

    review = world.admin.get(upload.headers["location"])

    assert review.status_code == 200
    _assert_escaped(review.text, "review headers")
