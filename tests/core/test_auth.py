"""Signing in and out over HTTP: cookies, throttling, revocation and `next`."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from portal.core.models import Client, Profile, User, UserSession
from tests.conftest import (
    PASSWORD,
    csrf_from,
    log_in,
    make_profile,
    make_user,
    post_form,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

FAILURE = "Wrong email or password, or too many attempts."
NEW_PASSWORD = "a much longer secret 42"


@pytest.fixture
def people(http: TestClient) -> dict[str, User]:
    # English pages, so the messages below do not depend on a catalogue.
    http.headers["accept-language"] = "en"
    top = make_profile("Dirección")
    rep = make_profile("Comercial", parent=top)
    return {
        "admin": make_user("admin@example.com", top, is_admin=True, language="en"),
        "ana": make_user("ana@example.com", rep, language="en"),
    }


def _login(client: TestClient, email: str, password: str = PASSWORD, next_url: str = "") -> object:
    page = client.get("/login")
    data = {"email": email, "password": password, "csrf_token": csrf_from(page.text)}
    if next_url:
        data["next"] = next_url
    return client.post("/login", data=data, follow_redirects=False)


def _session_cookie(response: object) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("cartera_session="):
            return header.split(";", 1)[0].split("=", 1)[1]
    return ""


def _works(http: TestClient, session: str) -> bool:
    """Whether a browser holding only this session cookie is signed in."""
    with TestClient(http.app, base_url="http://testserver") as probe:
        page = probe.get(
            "/clients",
            headers={"cookie": f"cartera_session={session}"},
            follow_redirects=False,
        )
    return page.status_code == 200


def test_login_sets_an_httponly_lax_session_cookie(http: TestClient, people: dict) -> None:
    answer = _login(http, "ana@example.com")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    cookie = next(
        h for h in answer.headers.get_list("set-cookie") if h.startswith("cartera_session=")
    )
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert _works(http, _session_cookie(answer))
    assert http.get("/").status_code == 200


def test_logging_in_again_rotates_the_session(http: TestClient, people: dict) -> None:
    first = _session_cookie(_login(http, "ana@example.com"))
    second_answer = _login(http, "ana@example.com")
    second = _session_cookie(second_answer)

    assert second_answer.status_code == 303
    assert first and second and first != second
    assert not _works(http, first)
    assert _works(http, second)
    assert UserSession.select().where(UserSession.user == people["ana"].id).count() == 1


def test_a_planted_cookie_is_replaced_at_login(http: TestClient, people: dict) -> None:
    # Session fixation: a value chosen by someone else never becomes a session.
    planted = "chosen-by-an-attacker"
    with TestClient(http.app, base_url="http://testserver") as victim:
        victim.headers["accept-language"] = "en"
        victim.cookies.set("cartera_session", planted)
        answer = _login(victim, "ana@example.com")
        issued = _session_cookie(answer)

    assert answer.status_code == 303
    assert issued and issued != planted
    assert not _works(http, planted)
    assert _works(http, issued)


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("ana@example.com", "wrong password!"),
        ("nobody@example.com", "wrong password!"),
        ("nobody@example.com", PASSWORD),
    ],
)
def test_bad_credentials_get_one_message(
    http: TestClient, people: dict, email: str, password: str
) -> None:
    answer = _login(http, email, password)

    assert answer.status_code == 400
    assert FAILURE in answer.text
    assert _session_cookie(answer) == ""
    assert UserSession.select().count() == 0


def test_wrong_password_and_unknown_email_look_the_same(http: TestClient, people: dict) -> None:
    known = _login(http, "ana@example.com", "wrong password!")
    unknown = _login(http, "nobody@example.com", "wrong password!")

    assert known.status_code == unknown.status_code == 400

    # Same page apart from the echoed email and the per-visitor CSRF token.
    def strip(text: str, email: str) -> str:
        return text.replace(email, "EMAIL").replace(csrf_from(text), "TOKEN")

    assert strip(known.text, "ana@example.com") == strip(unknown.text, "nobody@example.com")


def test_control_characters_in_the_email_are_harmless(http: TestClient, people: dict) -> None:
    answer = _login(http, "nobody\x00@example.com", "wrong password!")

    assert answer.status_code == 400
    assert FAILURE in answer.text


def test_five_failures_lock_the_email_even_for_the_right_password(
    http: TestClient, people: dict
) -> None:
    for attempt in range(5):
        # Case and spaces do not give an attacker fresh attempts.
        email = "ANA@example.com " if attempt % 2 else "ana@example.com"
        assert _login(http, email, f"guess number {attempt}").status_code == 400

    refused = _login(http, "ana@example.com")

    assert refused.status_code == 400
    assert FAILURE in refused.text
    assert _session_cookie(refused) == ""
    # The lock is per email: someone else still signs in.
    assert _login(http, "admin@example.com").status_code == 303


def test_four_failures_do_not_lock(http: TestClient, people: dict) -> None:
    for attempt in range(4):
        _login(http, "ana@example.com", f"guess number {attempt}")

    assert _login(http, "ana@example.com").status_code == 303


def test_inactive_user_cannot_log_in(http: TestClient, people: dict) -> None:
    User.update(is_active=False).where(User.id == people["ana"].id).execute()

    answer = _login(http, "ana@example.com")

    assert answer.status_code == 400
    assert FAILURE in answer.text


def test_logout_ends_the_session(http: TestClient, people: dict) -> None:
    session = _session_cookie(_login(http, "ana@example.com"))

    answer = post_form(http, "/logout")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert not _works(http, session)
    assert http.get("/clients", follow_redirects=False).status_code == 303


def test_logout_is_not_a_get(http: TestClient, people: dict) -> None:
    session = _session_cookie(_login(http, "ana@example.com"))

    assert http.get("/logout", follow_redirects=False).status_code == 405
    assert _works(http, session)


def test_deactivating_a_user_ends_their_sessions(
    http: TestClient, other_http: TestClient, people: dict
) -> None:
    ana = people["ana"]
    session = _session_cookie(_login(other_http, "ana@example.com"))
    log_in(http, "admin@example.com")

    # Deactivating has its own page, which asks for a successor (issue 3).
    answer = post_form(http, f"/admin/users/{ana.id}/deactivate", {"successor": people["admin"].id})

    assert answer.status_code == 303
    assert not User.get_by_id(ana.id).is_active
    assert not _works(http, session)
    assert other_http.get("/clients", follow_redirects=False).status_code == 303


def test_admin_setting_a_password_ends_the_users_sessions(
    http: TestClient, other_http: TestClient, people: dict
) -> None:
    ana = people["ana"]
    session = _session_cookie(_login(other_http, "ana@example.com"))
    log_in(http, "admin@example.com")

    answer = post_form(
        http,
        f"/admin/users/{ana.id}",
        {
            "name": "Ana",
            "email": "ana@example.com",
            "profile": ana.profile_id,
            "is_active": "on",
            "password": NEW_PASSWORD,
        },
    )

    assert answer.status_code == 303
    assert not _works(http, session)
    assert _login(other_http, "ana@example.com").status_code == 400
    assert _login(other_http, "ana@example.com", NEW_PASSWORD).status_code == 303


def test_editing_a_user_without_a_password_keeps_their_sessions(
    http: TestClient, other_http: TestClient, people: dict
) -> None:
    ana = people["ana"]
    session = _session_cookie(_login(other_http, "ana@example.com"))
    log_in(http, "admin@example.com")

    answer = post_form(
        http,
        f"/admin/users/{ana.id}",
        {
            "name": "Ana B.",
            "email": "ana@example.com",
            "profile": ana.profile_id,
            "is_active": "on",
        },
    )

    assert answer.status_code == 303
    assert _works(http, session)


def test_changing_own_password_ends_every_session(
    http: TestClient, other_http: TestClient, people: dict
) -> None:
    here = _session_cookie(_login(http, "ana@example.com"))
    elsewhere = _session_cookie(_login(other_http, "ana@example.com"))

    answer = post_form(
        http,
        "/account",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "language": "en"},
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert not _works(http, here)
    assert not _works(http, elsewhere)
    assert _login(http, "ana@example.com").status_code == 400
    assert _login(http, "ana@example.com", NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"current_password": "not my password", "new_password": NEW_PASSWORD},
            "This is not your current password.",
        ),
        (
            {"current_password": PASSWORD, "new_password": "short"},
            "At least 10 characters.",
        ),
    ],
)
def test_refused_password_change_keeps_the_session(
    http: TestClient, people: dict, fields: dict, message: str
) -> None:
    session = _session_cookie(_login(http, "ana@example.com"))
    before = User.get_by_id(people["ana"].id).password_hash

    answer = post_form(http, "/account", {"language": "en", **fields})

    assert answer.status_code == 400
    assert message in answer.text
    assert _works(http, session)
    assert User.get_by_id(people["ana"].id).password_hash == before


def test_next_inside_the_site_is_honoured(http: TestClient, people: dict) -> None:
    answer = _login(http, "ana@example.com", next_url="/clients?x=1")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/clients?x=1"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "\\\\evil.example",
        " //evil.example",
    ],
)
def test_next_outside_the_site_goes_home(http: TestClient, people: dict, target: str) -> None:
    shown = http.get("/login", params={"next": target})
    assert "evil.example" not in shown.text

    answer = _login(http, "ana@example.com", next_url=target)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


def test_signed_in_visitor_on_login_page_follows_next(http: TestClient, people: dict) -> None:
    log_in(http, "ana@example.com")

    inside = http.get("/login?next=/clients", follow_redirects=False)
    outside = http.get("/login?next=//evil.example", follow_redirects=False)

    assert (inside.status_code, inside.headers["location"]) == (303, "/clients")
    assert (outside.status_code, outside.headers["location"]) == (303, "/")


ANONYMOUS_PAGES = [
    "/",
    "/clients",
    "/clients?q=mu%C3%B1oz&status=lead",
    "/clients/new",
    "/clients/1",
    "/clients/1/edit",
    "/clients/1/delete",
    "/clients/1/timeline",
    "/clients/1/contacts/1/edit",
    "/clients/1/contacts/1/delete",
    "/clients/export.csv",
    "/clients/export.xlsx",
    "/clients/autocomplete?q=a",
    "/clients/owners?owner_q=a",
    "/clients/import",
    "/clients/import/0123456789abcdef",
    "/admin/profiles",
    "/admin/profiles/new",
    "/admin/profiles/1",
    "/admin/users",
    "/admin/users/new",
    "/admin/users/1",
    "/account",
]


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_anonymous_visitors_are_sent_to_login(http: TestClient, path: str) -> None:
    answer = http.get(path, follow_redirects=False)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=" + quote(path, safe="")


def test_login_returns_to_the_page_first_asked_for(http: TestClient, people: dict) -> None:
    first = http.get("/clients?q=a&status=lead", follow_redirects=False)
    form = http.get(first.headers["location"])
    assert 'name="next" value="/clients?q=a&amp;status=lead"' in form.text

    answer = http.post(
        "/login",
        data={
            "email": "ana@example.com",
            "password": PASSWORD,
            "next": "/clients?q=a&status=lead",
            "csrf_token": csrf_from(form.text),
        },
        follow_redirects=False,
    )

    assert answer.headers["location"] == "/clients?q=a&status=lead"
    assert http.get(answer.headers["location"]).status_code == 200


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/clients/new", {"name": "Acme", "kind": "company", "status": "lead"}),
        ("/account", {"language": "en"}),
        ("/admin/profiles/new", {"name": "Nuevo", "kind": "hierarchical"}),
    ],
)
def test_anonymous_posts_change_nothing(
    http: TestClient, people: dict, path: str, data: dict
) -> None:
    before = [Profile.select().count(), User.select().count(), Client.select().count()]

    answer = post_form(http, path, data)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=" + quote(path, safe="")
    after = [Profile.select().count(), User.select().count(), Client.select().count()]
    assert after == before
