from __future__ import annotations

from tests.conftest import log_in, make_profile, make_user


def test_login_and_list(http) -> None:
    root = make_profile("Boss")
    make_user("boss@example.com", root, is_admin=True)
    log_in(http, "boss@example.com")
    page = http.get("/clients")
    assert page.status_code == 200, page.text
    for path in (
        "/",
        "/clients/new",
        "/admin/profiles",
        "/admin/users",
        "/account",
        "/clients/import",
    ):
        assert http.get(path).status_code == 200, path
