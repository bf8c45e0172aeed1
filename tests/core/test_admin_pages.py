"""The administration pages over HTTP: who may open them, profiles and users."""

from __future__ import annotations

import html
import re

import pytest
from starlette.testclient import TestClient

from portal.core.models import Profile, User
from tests.conftest import (
    PASSWORD,
    csrf_from,
    log_in,
    make_profile,
    make_user,
    post_form,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")

LONG_PASSWORD = "ten or more characters"


@pytest.fixture
def top(http: TestClient) -> Profile:
    profile = make_profile("Dirección", kind="structural")
    make_user("admin@example.com", profile, is_admin=True, language="en")
    log_in(http, "admin@example.com")
    return profile


def field_error(page: str, name: str) -> str:
    match = re.search(rf'<p class="error" id="e-{name}">(.*?)</p>', page, re.DOTALL)
    return html.unescape(match.group(1)) if match else ""


def profile_form(**fields: object) -> dict[str, object]:
    return {"name": "Ventas", "kind": "hierarchical", "parent": "", **fields}


def user_form(profile: Profile, /, **fields: object) -> dict[str, object]:
    form = {
        "name": "Ana Ruiz",
        "email": "ana@example.com",
        "profile": profile.id,
        "language": "en",
        "time_zone": "Europe/Madrid",
        "password": LONG_PASSWORD,
        "is_active": "on",
    }
    return {**form, **fields}


ADMIN_PAGES = [
    "/admin/profiles",
    "/admin/profiles/new",
    "/admin/profiles/{profile}",
    "/admin/users",
    "/admin/users/new",
    "/admin/users/{user}",
    "/admin/plugins",
]
# The lists take no POST at all, so the router answers those before any view.
READ_ONLY = ("/admin/profiles", "/admin/users", "/admin/plugins")


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_profiles_without_the_admin_menus_are_refused(
    http: TestClient, top: Profile, path: str
) -> None:
    rep = make_user("rep@example.com", make_profile("Ventas", parent=top), language="en")
    with TestClient(http.app, base_url="http://testserver") as browser:
        log_in(browser, "rep@example.com")
        url = path.format(profile=rep.profile_id, user=rep.id)
        seen = browser.get(url)
        changed = post_form(
            browser,
            url,
            {
                "name": "Hacked",
                "kind": "structural",
                "email": "x@x.example",
                "profile": top.id,
                "is_admin": "on",
                "is_active": "on",
                "password": LONG_PASSWORD,
            },
        )
        menu = browser.get("/").text

    assert seen.status_code == 403
    assert "Your profile does not include" in seen.text
    assert changed.status_code == (405 if path in READ_ONLY else 403)
    assert "Dirección" not in seen.text + changed.text
    assert Profile.select().where(Profile.name == "Hacked").count() == 0
    assert User.get_by_id(rep.id).is_admin is False
    assert User.select().count() == 2
    assert "/admin/" not in menu


def test_admin_sees_the_menu_and_the_tree(http: TestClient, top: Profile) -> None:
    child = make_profile("Ventas Norte", parent=top)
    make_profile("Comercial", parent=child)

    page = http.get("/admin/profiles").text
    home = http.get("/").text

    assert 'href="/admin/profiles"' in home and 'href="/admin/users"' in home
    names = re.findall(r'<a href="/admin/profiles/\d+">([^<]+)</a>', page)
    assert names == ["Dirección", "Ventas Norte", "Comercial"]


# ------------------------------------------------------------ profiles


def test_create_a_profile_under_a_parent(http: TestClient, top: Profile) -> None:
    answer = post_form(
        http, "/admin/profiles/new", profile_form(name="  Ventas Norte ", parent=top.id)
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/profiles"
    created = Profile.get(Profile.name == "Ventas Norte")
    assert (created.parent_id, created.kind, created.is_assistant) == (
        top.id,
        "hierarchical",
        False,
    )


def test_create_an_assistant_serving_a_profile(http: TestClient, top: Profile) -> None:
    answer = post_form(
        http,
        "/admin/profiles/new",
        profile_form(name="Asistente", parent=top.id, is_assistant="on"),
    )

    assert answer.status_code == 303
    assert Profile.get(Profile.name == "Asistente").is_assistant is True


def test_edit_a_profile(http: TestClient, top: Profile) -> None:
    sales = make_profile("Ventas", parent=top)
    other = make_profile("Marketing", parent=top)

    form = http.get(f"/admin/profiles/{sales.id}")
    answer = post_form(
        http,
        f"/admin/profiles/{sales.id}",
        profile_form(name="Ventas Sur", parent=other.id),
    )

    assert form.status_code == 200 and 'value="Ventas"' in form.text
    assert answer.status_code == 303
    edited = Profile.get_by_id(sales.id)
    assert (edited.name, edited.parent_id) == ("Ventas Sur", other.id)


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_a_profile_cannot_depend_on_itself_or_below(
    http: TestClient, top: Profile, depth: int
) -> None:
    a = make_profile("A", parent=top)
    b = make_profile("B", parent=a)
    c = make_profile("C", parent=b)
    target = (a, b, c)[depth]

    answer = post_form(http, f"/admin/profiles/{a.id}", profile_form(name="A", parent=target.id))

    assert answer.status_code == 400
    assert field_error(answer.text, "parent") == (
        "A profile cannot depend on itself or on a profile below it."
    )
    assert Profile.get_by_id(a.id).parent_id == top.id


@pytest.mark.parametrize(
    ("fields", "name", "message"),
    [
        (
            {"name": "Asistente", "is_assistant": "on"},
            "parent",
            "An assistant must depend on the profile it serves.",
        ),
        ({"name": "Dirección"}, "name", "Another profile already has this name."),
        ({"name": ""}, "name", "The name is required."),
        ({"name": "x" * 101}, "name", "At most 100 characters."),
        ({"kind": "matrix"}, "kind", "Choose one of the options."),
        ({"parent": "999999"}, "parent", "Choose one of the options."),
        ({"parent": "abc"}, "parent", "Choose one of the options."),
    ],
)
def test_bad_profiles_are_refused(
    http: TestClient, top: Profile, fields: dict, name: str, message: str
) -> None:
    answer = post_form(http, "/admin/profiles/new", profile_form(**fields))

    assert answer.status_code == 400
    assert field_error(answer.text, name) == message
    assert [p.name for p in Profile.select()] == ["Dirección"]


def test_renaming_onto_another_profile_is_refused(http: TestClient, top: Profile) -> None:
    sales = make_profile("Ventas", parent=top)

    answer = post_form(
        http,
        f"/admin/profiles/{sales.id}",
        profile_form(name="Dirección", parent=top.id),
    )
    same = post_form(
        http, f"/admin/profiles/{sales.id}", profile_form(name="Ventas", parent=top.id)
    )

    assert answer.status_code == 400
    assert field_error(answer.text, "name") == "Another profile already has this name."
    assert same.status_code == 303  # keeping its own name is no clash
    assert Profile.get_by_id(sales.id).name == "Ventas"


def test_unknown_profile_is_not_found(http: TestClient, top: Profile) -> None:
    assert http.get("/admin/profiles/999999").status_code == 404
    assert post_form(http, "/admin/profiles/999999", profile_form()).status_code == 404


# --------------------------------------------------------------- users


def test_create_a_user_who_can_then_log_in(http: TestClient, top: Profile) -> None:
    sales = make_profile("Ventas", parent=top)

    answer = post_form(http, "/admin/users/new", user_form(sales, email=" Ana@Example.COM "))

    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/users"
    ana = User.get(User.email == "ana@example.com")
    assert (ana.name, ana.profile_id, ana.time_zone, ana.is_admin) == (
        "Ana Ruiz",
        sales.id,
        "Europe/Madrid",
        False,
    )
    assert "Ana Ruiz" in http.get("/admin/users").text
    with TestClient(http.app, base_url="http://testserver") as browser:
        log_in(browser, "ana@example.com", LONG_PASSWORD)
        assert browser.get("/clients").status_code == 200


@pytest.mark.parametrize(
    ("fields", "name", "message"),
    [
        (
            {"email": "ADMIN@example.com"},
            "email",
            "Another user already has this email.",
        ),
        ({"email": "not-an-email"}, "email", "Not a valid email address"),
        ({"email": ""}, "email", "The email is required."),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "Not a known time zone."),
        ({"password": "short"}, "password", "At least 10 characters."),
        ({"password": ""}, "password", "Set a first password."),
        ({"name": ""}, "name", "The name is required."),
        ({"profile": "999999"}, "profile", "Choose one of the options."),
        ({"language": "fr"}, "language", "Choose one of the options."),
    ],
)
def test_bad_users_are_refused(
    http: TestClient, top: Profile, fields: dict, name: str, message: str
) -> None:
    answer = post_form(http, "/admin/users/new", user_form(top, **fields))

    assert answer.status_code == 400
    assert field_error(answer.text, name) == message
    assert [u.email for u in User.select()] == ["admin@example.com"]
    # The password is never sent back into the page.
    assert LONG_PASSWORD not in answer.text


def test_edit_a_user_keeping_the_password(http: TestClient, top: Profile) -> None:
    ana = make_user("ana@example.com", top, language="en")
    before = User.get_by_id(ana.id).password_hash

    form = http.get(f"/admin/users/{ana.id}")
    answer = post_form(
        http,
        f"/admin/users/{ana.id}",
        user_form(top, name="Ana María", password="", time_zone="America/Bogota"),
    )

    assert form.status_code == 200 and 'value="ana@example.com"' in form.text
    assert answer.status_code == 303
    edited = User.get_by_id(ana.id)
    assert (edited.name, edited.time_zone, edited.password_hash) == (
        "Ana María",
        "America/Bogota",
        before,
    )
    with TestClient(http.app, base_url="http://testserver") as browser:
        log_in(browser, "ana@example.com", PASSWORD)


def test_edit_cannot_take_another_users_email(http: TestClient, top: Profile) -> None:
    ana = make_user("ana@example.com", top)

    answer = post_form(
        http,
        f"/admin/users/{ana.id}",
        user_form(top, email="admin@example.com", password=""),
    )

    assert answer.status_code == 400
    assert field_error(answer.text, "email") == "Another user already has this email."
    assert User.get_by_id(ana.id).email == "ana@example.com"


def test_admin_cannot_lock_themselves_out(http: TestClient, top: Profile) -> None:
    admin = User.get(User.email == "admin@example.com")

    answer = post_form(
        http,
        f"/admin/users/{admin.id}",
        {
            "name": "Admin",
            "email": "admin@example.com",
            "profile": top.id,
            "language": "en",
        },
    )

    assert answer.status_code == 303
    saved = User.get_by_id(admin.id)
    assert saved.is_active and saved.is_admin
    assert http.get("/admin/users").status_code == 200


def test_unknown_user_is_not_found(http: TestClient, top: Profile) -> None:
    assert http.get("/admin/users/999999").status_code == 404
    assert post_form(http, "/admin/users/999999", user_form(top)).status_code == 404


def test_admin_form_token_comes_from_the_page(http: TestClient, top: Profile) -> None:
    page = http.get("/admin/users/new")

    answer = http.post(
        "/admin/users/new",
        data={**user_form(top), "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )

    assert answer.status_code == 303


def test_a_profile_holding_a_forms_fallback_owner_cannot_become_an_assistant(
    http: TestClient, top: Profile
) -> None:
    from portal.core.models import AssignmentRule, AssignmentRuleUser, WebForm

    sales = make_profile("Ventas", parent=top)
    olivia = make_user("olivia@example.com", sales)
    form = WebForm.create(name="Contacto", key="contacto", fallback_owner=olivia)
    AssignmentRuleUser.create(rule=AssignmentRule.create(name="Norte"), user=olivia)
    path = f"/admin/profiles/{sales.id}"
    assistant = profile_form(parent=top.id, is_assistant="on")

    refused = post_form(http, path, assistant)
    assert refused.status_code == 400
    assert field_error(refused.text, "is_assistant") == (
        "Olivia is the fallback owner of the web form “Contacto”: "
        "choose another fallback owner for it first."
    )
    assert Profile.get_by_id(sales.id).is_assistant is False

    # Once the form has another fallback, the profile turns; its people leave the rules.
    WebForm.update(fallback_owner=make_user("max@example.com", top)).where(
        WebForm.id == form.id
    ).execute()
    assert post_form(http, path, assistant).status_code == 303
    assert Profile.get_by_id(sales.id).is_assistant is True
    assert AssignmentRuleUser.select().count() == 0
