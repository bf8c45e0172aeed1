"""Users over their lifetime, over HTTP: invitation, password reset, leavers, delegation."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from portal.core import outbox, tokens
from portal.core.models import (
    BASELINE_GRANTS,
    Activity,
    AuditEntry,
    Client,
    Contact,
    OutgoingMail,
    Profile,
    User,
    UserSession,
    UserToken,
)
from portal.core.permissions import read_grants, write_grants
from portal.core.visibility import Scope
from portal.database import utcnow
from tests.conftest import PASSWORD, Mailbox, grant, log_in, make_profile, make_user, post_form

pytestmark = pytest.mark.usefixtures("fast_passwords")

NEW_PASSWORD = "a brand new passphrase"
DEAD_LINK = "This link no longer works"
SENT = "If an active account uses that email"
# What every new profile holds, plus the user administration menu.
USERS_ADMIN = json.dumps({**json.loads(BASELINE_GRANTS), "menu.admin": "", "menu.admin.users": ""})


@pytest.fixture
def org(http: TestClient) -> dict:
    """Dirección (admin) → Jefes (may administer users) → Comercial; Asistencia serves Jefes."""
    http.headers["accept-language"] = "en"
    top = make_profile("Dirección")
    heads = make_profile("Jefes", parent=top, grants=USERS_ADMIN)
    reps = make_profile("Comercial", parent=heads)
    helpers = make_profile("Asistencia", parent=heads, is_assistant=True)
    return {
        "top": top,
        "heads": heads,
        "reps": reps,
        "helpers": helpers,
        "admin": make_user("admin@example.com", top, is_admin=True, language="en"),
        "boss": make_user("boss@example.com", heads, language="en"),
        "peer": make_user("peer@example.com", heads, language="en"),
        "ana": make_user("ana@example.com", reps, language="en"),
        "luis": make_user("luis@example.com", reps, language="en"),
        "aide": make_user("aide@example.com", helpers, language="en"),
    }


def field_error(page: str, name: str) -> str:
    match = re.search(rf'<p class="error" id="e-{name}"[^>]*>(.*?)</p>', page, re.DOTALL)
    return html.unescape(match.group(1)) if match else ""


def link_in(message: object) -> str:
    body = message.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    match = re.search(r"https?://\S+(/password/new/[A-Za-z0-9_-]+)", body)
    assert match, body
    return match.group(1)


def actions(action: str) -> list[AuditEntry]:
    return list(AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.id))


def set_password(client: TestClient, path: str, password: str = NEW_PASSWORD, **extra: str):
    return post_form(client, path, {"password": password, "repeat": password, **extra})


def session_works(app: object, cookie: str) -> bool:
    with TestClient(app, base_url="http://testserver") as browser:
        browser.cookies.set("cartera_session", cookie)
        return browser.get("/clients", follow_redirects=False).status_code == 200


def login_status(app: object, email: str, password: str) -> int:
    with TestClient(app, base_url="http://testserver") as browser:
        page = browser.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        data = {"email": email, "password": password, "csrf_token": token}
        return browser.post("/login", data=data, follow_redirects=False).status_code


# ----------------------------------------------------------------- invite


def invite(client: TestClient, profile: Profile, **fields: object):
    form = {
        "name": "Marta Gil",
        "email": "marta@example.com",
        "profile": profile.id,
        "language": "es",
        "time_zone": "Europe/Madrid",
        **fields,
    }
    return post_form(client, "/admin/users/invite", form)


def test_an_invitation_link_sets_the_password_once_and_logs_in(
    http: TestClient, other_http: TestClient, org: dict, mailbox: Mailbox
) -> None:
    log_in(http, "admin@example.com")

    answer = invite(http, org["reps"])

    marta = User.get(User.email == "marta@example.com")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/admin/users/{marta.id}?notice=invited"
    assert (marta.is_active, marta.password_hash, marta.profile_id) == (True, "", org["reps"].id)
    assert login_status(http.app, "marta@example.com", "") != 303
    [message] = mailbox.to("marta@example.com")
    # Marta reads Spanish, whatever the administrator's language.
    assert "Tu cuenta de Cartera" in message["Subject"]
    path = link_in(message)
    stored = UserToken.get(UserToken.user == marta.id)
    assert stored.token_hash != path.rsplit("/", 1)[1]  # only the hash is kept
    assert stored.expires_at - utcnow() > timedelta(days=6, hours=23)

    page = other_http.get(path)
    used = set_password(other_http, path)
    home = other_http.get("/", follow_redirects=False)
    again = set_password(other_http, path, "yet another passphrase")

    assert page.status_code == 200 and "Marta Gil" in page.text
    assert used.status_code == 303 and used.headers["location"] == "/"
    assert home.status_code == 200 and "Marta Gil" in home.text
    # Marta is logged in on that browser now, so it speaks her language.
    assert again.status_code == 404 and "Este enlace ya no funciona" in again.text
    assert login_status(http.app, "marta@example.com", NEW_PASSWORD) == 303
    assert login_status(http.app, "marta@example.com", "yet another passphrase") == 400
    assert [e.object_id for e in actions("users.created")] == [marta.id]
    assert [e.object_id for e in actions("users.invited")] == [marta.id]
    assert [e.actor_id for e in actions("users.invitation.accepted")] == [marta.id]


def test_an_invitation_the_mail_server_refused_can_be_resent(
    http: TestClient,
    other_http: TestClient,
    org: dict,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log_in(http, "admin@example.com")
    # Nothing listens on port 1 of the loopback: the connection is refused.
    with monkeypatch.context() as down:
        down.setattr(outbox._config, "smtp_url", "smtp://127.0.0.1:1?tls=off")
        answer = invite(http, org["reps"], language="en")
        page = http.get(answer.headers["location"])
    marta = User.get(User.email == "marta@example.com")
    resent = post_form(http, f"/admin/users/{marta.id}/invite")
    notice = http.get(resent.headers["location"])

    assert answer.headers["location"].endswith("?notice=invite_failed")
    assert "the invitation email could not be sent" in page.text
    assert "Resend invitation" in page.text
    assert "Invitation sent." in notice.text
    assert set_password(other_http, link_in(mailbox.to("marta@example.com")[0])).status_code == 303
    # The refused mail carried the voided link: it is not retried.
    first = OutgoingMail.select().order_by(OutgoingMail.id).first()
    assert (first.status, first.last_error) == ("failed", "replaced by a newer mail")
    # Links are kept hashed only: no mail body holds one once it is done with.
    assert [m.text for m in OutgoingMail.select()] == [outbox.ERASED] * 2


def test_a_resent_invitation_voids_the_earlier_link(
    http: TestClient, other_http: TestClient, org: dict, mailbox: Mailbox
) -> None:
    log_in(http, "admin@example.com")
    invite(http, org["reps"])
    marta = User.get(User.email == "marta@example.com")
    first = link_in(mailbox.to("marta@example.com")[0])

    resent = post_form(http, f"/admin/users/{marta.id}/invite")

    second = link_in(mailbox.to("marta@example.com")[1])
    assert resent.status_code == 303
    assert first != second
    assert other_http.get(first).status_code == 404
    assert set_password(other_http, first).status_code == 404
    assert User.get_by_id(marta.id).password_hash == ""
    assert set_password(other_http, second).status_code == 303
    assert [json.loads(e.after)["resent"] for e in actions("users.invited")] == [False, True]
    # Once the password is chosen there is nothing to resend.
    assert post_form(http, f"/admin/users/{marta.id}/invite").status_code == 400


def test_a_password_set_by_the_administrator_voids_the_invitation(
    http: TestClient, other_http: TestClient, org: dict, mailbox: Mailbox
) -> None:
    log_in(http, "admin@example.com")
    invite(http, org["reps"])
    marta = User.get(User.email == "marta@example.com")
    path = link_in(mailbox.to("marta@example.com")[0])

    answer = post_form(
        http,
        f"/admin/users/{marta.id}",
        {"name": "Marta Gil", "email": marta.email, "profile": marta.profile_id},
    )
    kept = other_http.get(path)
    post_form(
        http,
        f"/admin/users/{marta.id}",
        {
            "name": "Marta Gil",
            "email": marta.email,
            "profile": marta.profile_id,
            "password": "chosen by the administrator",
        },
    )

    assert answer.status_code == 303 and kept.status_code == 200
    assert set_password(other_http, path).status_code == 404
    assert login_status(http.app, "marta@example.com", "chosen by the administrator") == 303


def test_the_invitation_email_escapes_the_name(
    http: TestClient, org: dict, mailbox: Mailbox
) -> None:
    log_in(http, "admin@example.com")

    invite(http, org["reps"], name="<b>Marta</b> & Co", language="en")

    [message] = mailbox.to("marta@example.com")
    markup = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "&lt;b&gt;Marta&lt;/b&gt; &amp; Co" in markup and "<b>Marta" not in markup
    assert "Hello <b>Marta</b> & Co," in text
    assert message["Subject"] == "Your Cartera account is ready"


def test_a_bad_invitation_creates_nobody_and_sends_nothing(
    http: TestClient, org: dict, mailbox: Mailbox
) -> None:
    log_in(http, "admin@example.com")

    answer = invite(http, org["reps"], email="ana@example.com")

    assert answer.status_code == 400
    assert field_error(answer.text, "email") == "Another user already has this email."
    assert User.select().count() == 6
    assert mailbox.messages == []


# ------------------------------------------------------------------ reset


def forgot(client: TestClient, email: str):
    return post_form(client, "/password/forgot", {"email": email})


def test_reset_answers_alike_for_known_and_unknown_emails(
    http: TestClient, org: dict, mailbox: Mailbox
) -> None:
    known = forgot(http, "ANA@example.com")
    unknown = forgot(http, "nobody@example.com")
    page = http.get(known.headers["location"])

    assert (known.status_code, unknown.status_code) == (303, 303)
    assert known.headers["location"] == unknown.headers["location"]
    assert SENT in page.text
    assert len(mailbox.to("ana@example.com")) == 1
    assert mailbox.to("nobody@example.com") == []


def test_the_reset_link_works_once_and_ends_every_session(
    http: TestClient, other_http: TestClient, org: dict, mailbox: Mailbox
) -> None:
    log_in(other_http, "ana@example.com")
    old_session = other_http.cookies["cartera_session"]
    forgot(http, "ana@example.com")
    [message] = mailbox.to("ana@example.com")
    path = link_in(message)

    answer = set_password(http, path)
    again = set_password(http, path, "one more passphrase here")

    assert message["Subject"] == "Reset your Cartera password"
    assert answer.status_code == 303
    assert http.get("/clients").status_code == 200  # logged in as Ana now
    assert not session_works(http.app, old_session)
    assert again.status_code == 404 and DEAD_LINK in again.text
    assert login_status(http.app, "ana@example.com", PASSWORD) == 400
    assert login_status(http.app, "ana@example.com", NEW_PASSWORD) == 303
    [entry] = actions("users.password.reset")
    assert (entry.actor_id, entry.object_id) == (org["ana"].id, org["ana"].id)
    assert "hash" not in entry.before + entry.after


def test_an_expired_reset_link_changes_nothing(
    http: TestClient, org: dict, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    forgot(http, "ana@example.com")
    path = link_in(mailbox.to("ana@example.com")[0])
    hash_before = User.get_by_id(org["ana"].id).password_hash
    later = utcnow() + tokens.LIFETIMES[tokens.RESET] + timedelta(seconds=1)
    monkeypatch.setattr(tokens, "utcnow", lambda: later)

    page = http.get(path)
    answer = set_password(http, path)

    assert page.status_code == 404 and DEAD_LINK in page.text
    assert answer.status_code == 404
    assert User.get_by_id(org["ana"].id).password_hash == hash_before
    assert actions("users.password.reset") == []


def test_unknown_and_mangled_links_get_the_same_message(http: TestClient, org: dict) -> None:
    for path in ("/password/new/nope", "/password/new/" + "x" * 500):
        page = http.get(path)
        assert page.status_code == 404 and DEAD_LINK in page.text


def test_a_weak_or_mistyped_password_keeps_the_link(
    http: TestClient, org: dict, mailbox: Mailbox
) -> None:
    forgot(http, "ana@example.com")
    path = link_in(mailbox.to("ana@example.com")[0])

    short = set_password(http, path, "short")
    mistyped = post_form(http, path, {"password": NEW_PASSWORD, "repeat": NEW_PASSWORD + "x"})
    fine = set_password(http, path)

    assert short.status_code == 400
    assert field_error(short.text, "password") == "At least 10 characters."
    assert mistyped.status_code == 400
    assert field_error(mistyped.text, "repeat") == "The two passwords differ."
    assert NEW_PASSWORD not in mistyped.text
    assert fine.status_code == 303


def test_reset_requests_are_throttled_per_email(
    http: TestClient, org: dict, mailbox: Mailbox
) -> None:
    answers = [forgot(http, "ana@example.com") for _ in range(5)]

    assert {a.headers["location"] for a in answers} == {"/password/forgot?sent=1"}
    assert len(mailbox.to("ana@example.com")) == 3


def test_inactive_users_get_no_link(http: TestClient, org: dict, mailbox: Mailbox) -> None:
    User.update(is_active=False).where(User.id == org["ana"].id).execute()

    answer = forgot(http, "ana@example.com")

    assert answer.headers["location"] == "/password/forgot?sent=1"
    assert mailbox.to("ana@example.com") == []


def test_a_link_dies_with_its_user(
    http: TestClient, other_http: TestClient, org: dict, mailbox: Mailbox
) -> None:
    forgot(http, "ana@example.com")
    path = link_in(mailbox.to("ana@example.com")[0])
    log_in(other_http, "admin@example.com")

    post_form(other_http, f"/admin/users/{org['ana'].id}/deactivate", {"successor": org["luis"].id})

    assert set_password(http, path).status_code == 404
    assert login_status(http.app, "ana@example.com", NEW_PASSWORD) == 400


def test_the_login_page_offers_the_reset(http: TestClient, org: dict) -> None:
    assert 'href="/password/forgot"' in http.get("/login").text
    assert http.get("/password/forgot").status_code == 200


# ------------------------------------------------------------ deactivation


@pytest.fixture
def portfolio(org: dict) -> list[Client]:
    """Three clients of Ana (one shared with everybody), each with a contact and a call."""
    made = []
    for number in range(3):
        client = Client.create(
            name=f"Cliente {number}", owner=org["ana"], visible_to_all=number == 0
        )
        Contact.create(client=client, name=f"Contacto {number}")
        Activity.create(client=client, author=org["ana"], kind="call", subject="Llamada")
        made.append(client)
    Client.create(name="De Luis", owner=org["luis"])
    return made


def test_deactivation_hands_everything_to_the_successor(
    http: TestClient, other_http: TestClient, org: dict, portfolio: list[Client]
) -> None:
    ana, luis = org["ana"], org["luis"]
    log_in(other_http, "ana@example.com")
    log_in(http, "admin@example.com")
    contacts_before = Contact.select().count()
    clients_before = Client.select().count()

    confirm = http.get(f"/admin/users/{ana.id}/deactivate")
    answer = post_form(http, f"/admin/users/{ana.id}/deactivate", {"successor": luis.id})

    assert confirm.status_code == 200
    assert "Their 3 clients, with their contacts, move" in confirm.text
    offered = re.findall(r'<option value="(\d+)"', confirm.text)
    assert str(luis.id) in offered and str(org["admin"].id) in offered
    assert str(ana.id) not in offered and str(org["aide"].id) not in offered
    assert answer.status_code == 303
    assert not User.get_by_id(ana.id).is_active
    assert Client.select().where(Client.owner == ana.id).count() == 0
    assert Client.select().where(Client.owner == luis.id).count() == 4
    assert (Client.select().count(), Contact.select().count()) == (clients_before, contacts_before)
    for client in portfolio:
        moved = Client.get_by_id(client.id)
        assert moved.version == client.version + 1
        assert moved.updated_at > client.updated_at
        assert [c.name for c in moved.contacts] == [f"Contacto {client.name[-1]}"]
    # Past activity keeps its author.
    assert {a.author_id for a in Activity.select()} == {ana.id}
    # The sessions are gone, the old cookie is anonymous, and the door stays shut.
    assert UserSession.select().where(UserSession.user == ana.id).count() == 0
    assert other_http.get("/clients", follow_redirects=False).status_code == 303
    assert login_status(http.app, "ana@example.com", PASSWORD) == 400

    [closed] = actions("users.deactivated")
    assert closed.object_id == ana.id and closed.actor_id == org["admin"].id
    assert json.loads(closed.after)["successor"] == luis.id
    assert json.loads(closed.after)["clients_moved"] == 3
    [moved_entry] = actions("clients.owner.changed")
    assert json.loads(moved_entry.before) == {"owner": ana.id}
    after = json.loads(moved_entry.after)
    assert (after["owner"], after["count"]) == (luis.id, 3)
    assert after["clients"] == [c.id for c in portfolio]


def test_a_leaver_disappears_from_every_picker(
    http: TestClient, org: dict, portfolio: list[Client]
) -> None:
    ana, boss = org["ana"], org["boss"]
    log_in(http, "admin@example.com")
    post_form(http, f"/admin/users/{ana.id}/deactivate", {"successor": org["luis"].id})
    fresh_boss = User.get_by_id(boss.id)

    scope = Scope.for_user(fresh_boss)
    assert ana.id not in [row.id for row in scope.owner_choices()]
    assert ana.id not in [user.id for user in scope.may_own()]
    with TestClient(http.app, base_url="http://testserver") as browser:
        log_in(browser, "boss@example.com")
        form = browser.get("/clients/new").text
        listing = browser.get("/clients").text
    assert "Luis" in form and "Ana" not in form
    assert "Ana" not in listing
    successors = http.get(f"/admin/users/{org['luis'].id}/deactivate").text
    assert f'value="{ana.id}"' not in successors


@pytest.mark.parametrize("who", ["leaver", "assistant", "inactive", "unknown", "blank"])
def test_a_successor_not_offered_is_refused(
    http: TestClient, org: dict, portfolio: list[Client], who: str
) -> None:
    gone = make_user("gone@example.com", org["reps"], is_active=False)
    successor = {
        "leaver": org["ana"].id,
        "assistant": org["aide"].id,
        "inactive": gone.id,
        "unknown": 999999,
        "blank": "",
    }[who]
    log_in(http, "admin@example.com")

    answer = post_form(http, f"/admin/users/{org['ana'].id}/deactivate", {"successor": successor})

    assert answer.status_code == 400
    assert field_error(answer.text, "successor") == (
        "Choose who takes over, among the people offered."
    )
    assert User.get_by_id(org["ana"].id).is_active
    assert Client.select().where(Client.owner == org["ana"].id).count() == 3
    assert actions("users.deactivated") == []


def test_nobody_deactivates_themselves(http: TestClient, org: dict) -> None:
    admin = org["admin"]
    log_in(http, "admin@example.com")

    page = http.get(f"/admin/users/{admin.id}/deactivate")
    answer = post_form(http, f"/admin/users/{admin.id}/deactivate", {"successor": org["luis"].id})

    assert page.status_code == 403 and answer.status_code == 403
    assert "Nobody can deactivate themselves." in answer.text
    assert User.get_by_id(admin.id).is_active


def test_a_leaver_can_come_back(http: TestClient, org: dict) -> None:
    ana = org["ana"]
    log_in(http, "admin@example.com")
    post_form(http, f"/admin/users/{ana.id}/deactivate", {"successor": org["luis"].id})

    page = http.get(f"/admin/users/{ana.id}")
    answer = post_form(http, f"/admin/users/{ana.id}/reactivate")

    assert "Reactivate" in page.text
    assert answer.status_code == 303
    assert User.get_by_id(ana.id).is_active
    assert login_status(http.app, "ana@example.com", PASSWORD) == 303
    [entry] = actions("users.reactivated")
    assert entry.object_id == ana.id and json.loads(entry.after) == {"is_active": True}


# --------------------------------------------- delegated administration


def user_form(user: User, **fields: object) -> dict[str, object]:
    form = {
        "name": user.name,
        "email": user.email,
        "profile": user.profile_id,
        "language": user.language,
        "time_zone": user.time_zone,
    }
    return {**form, **fields}


def snapshot() -> list[tuple]:
    return list(
        User.select(User.id, User.name, User.email, User.profile, User.is_admin, User.is_active)
        .order_by(User.id)
        .tuples()
    )


@pytest.fixture
def boss_http(http: TestClient, org: dict) -> TestClient:
    return log_in(http, "boss@example.com")


def test_a_delegate_sees_and_offers_only_what_lies_below(boss_http: TestClient, org: dict) -> None:
    listing = boss_http.get("/admin/users").text
    form = boss_http.get(f"/admin/users/{org['ana'].id}")
    new = boss_http.get("/admin/users/invite").text

    listed = set(re.findall(r'<a href="/admin/users/(\d+)">', listing))
    assert listed == {str(org[name].id) for name in ("ana", "luis", "aide")}
    assert form.status_code == 200
    for page in (form.text, new):
        offered = set(re.findall(r'<option value="(\d+)"', page.split('name="profile"')[1]))
        offered &= {str(p.id) for p in Profile.select()}
        assert offered == {str(org["reps"].id), str(org["helpers"].id)}
        assert 'name="is_admin"' not in page


@pytest.mark.parametrize("who", ["peer", "admin", "boss"])
def test_users_out_of_reach_answer_404(boss_http: TestClient, org: dict, who: str) -> None:
    target = org[who]
    before = snapshot()

    for path in ("", "/deactivate"):
        assert boss_http.get(f"/admin/users/{target.id}{path}").status_code == 404
    edit = post_form(boss_http, f"/admin/users/{target.id}", user_form(target, name="Hacked"))
    close = post_form(
        boss_http, f"/admin/users/{target.id}/deactivate", {"successor": org["ana"].id}
    )

    assert (edit.status_code, close.status_code) == (404, 404)
    assert snapshot() == before


def test_an_administrator_below_the_delegate_is_out_of_reach(
    boss_http: TestClient, org: dict
) -> None:
    hidden = make_user("root@example.com", org["reps"], is_admin=True)
    before = snapshot()

    edit = post_form(
        boss_http, f"/admin/users/{hidden.id}", user_form(hidden, email="boss2@example.com")
    )

    assert edit.status_code == 404
    assert snapshot() == before
    assert "root@example.com" not in boss_http.get("/admin/users").text


@pytest.mark.parametrize(
    ("crafted", "field", "message"),
    [
        (
            {"is_admin": "on"},
            "is_admin",
            "Only an administrator can make someone an administrator.",
        ),
        ({"profile": "heads"}, "profile", "You may only give a profile below your own."),
        ({"profile": "top"}, "profile", "You may only give a profile below your own."),
    ],
)
@pytest.mark.parametrize("path", ["edit", "new", "invite"])
def test_escalation_by_a_delegate_is_refused_at_the_field(
    boss_http: TestClient,
    org: dict,
    mailbox: Mailbox,
    crafted: dict,
    field: str,
    message: str,
    path: str,
) -> None:
    ana = org["ana"]
    values = {k: (org[v].id if k == "profile" else v) for k, v in crafted.items()}
    url = {"edit": f"/admin/users/{ana.id}", "new": "/admin/users/new"}.get(
        path, "/admin/users/invite"
    )
    form = user_form(ana, **values)
    if path != "edit":
        form.update(email="new@example.com", password="a long first password")
    before, audit_before = snapshot(), AuditEntry.select().count()

    answer = post_form(boss_http, url, form)

    assert answer.status_code == 400
    assert field_error(answer.text, field) == message
    assert snapshot() == before
    assert AuditEntry.select().count() == audit_before
    assert mailbox.messages == []


def test_a_delegate_administers_people_below(
    boss_http: TestClient, org: dict, mailbox: Mailbox, portfolio: list[Client]
) -> None:
    ana, luis = org["ana"], org["luis"]

    edit = post_form(boss_http, f"/admin/users/{luis.id}", user_form(luis, name="Luis Pérez"))
    invited = invite(boss_http, org["reps"])
    outsider = make_user("far@example.com", make_profile("Otra", parent=org["top"]))
    refused = post_form(boss_http, f"/admin/users/{ana.id}/deactivate", {"successor": outsider.id})
    closed = post_form(boss_http, f"/admin/users/{ana.id}/deactivate", {"successor": luis.id})

    assert edit.status_code == 303 and User.get_by_id(luis.id).name == "Luis Pérez"
    assert invited.status_code == 303 and len(mailbox.to("marta@example.com")) == 1
    assert "Boss" in mailbox.to("marta@example.com")[0].get_body(("plain",)).get_content()
    assert refused.status_code == 400
    assert closed.status_code == 303
    assert Client.select().where(Client.owner == luis.id).count() == 4


# ------------------------------------------------------------------ audit


def test_edits_are_audited_without_the_password(http: TestClient, org: dict) -> None:
    luis = org["luis"]
    log_in(http, "admin@example.com")

    answer = post_form(
        http,
        f"/admin/users/{luis.id}",
        user_form(luis, name="Luis Pérez", profile=org["heads"].id, password=NEW_PASSWORD),
    )

    assert answer.status_code == 303
    [updated] = actions("users.updated")
    assert json.loads(updated.before) == {"name": "Luis"}
    assert json.loads(updated.after) == {"name": "Luis Pérez"}
    [moved] = actions("users.profile.changed")
    assert json.loads(moved.before) == {"profile": org["reps"].id}
    assert json.loads(moved.after) == {"profile": org["heads"].id}
    assert len(actions("users.password.changed")) == 1
    stored = User.get_by_id(luis.id).password_hash
    assert all(stored not in e.before + e.after for e in AuditEntry.select())


def test_an_administrator_keeps_their_own_role(http: TestClient, org: dict) -> None:
    admin = org["admin"]
    log_in(http, "admin@example.com")

    page = http.get(f"/admin/users/{admin.id}").text
    answer = post_form(http, f"/admin/users/{admin.id}", user_form(admin))

    assert 'name="is_admin"' not in page and "Deactivate" not in page
    assert answer.status_code == 303
    assert User.get_by_id(admin.id).is_admin


@pytest.mark.parametrize("extra", [{"clients.supplier": ""}, {"clients.discount": "30"}])
def test_people_holding_more_than_the_delegate_are_out_of_reach(
    boss_http: TestClient, org: dict, extra: dict[str, str]
) -> None:
    # An administrator gave the sales profile something its heads lack.
    grant(org["heads"], discount="10")
    held = read_grants(org["reps"])
    write_grants(org["reps"], {**held, **extra})
    org["reps"].save()
    before = snapshot()

    listing = boss_http.get("/admin/users").text
    taken = post_form(
        boss_http, f"/admin/users/{org['ana'].id}", user_form(org["ana"], email="me@boss.example")
    )
    moved = post_form(
        boss_http, f"/admin/users/{org['aide'].id}", user_form(org["aide"], profile=org["reps"].id)
    )

    assert f'href="/admin/users/{org["ana"].id}"' not in listing
    assert taken.status_code == 404
    assert moved.status_code == 400
    assert field_error(moved.text, "profile") == "You may only give a profile below your own."
    assert snapshot() == before


def test_changing_ones_own_password_voids_a_pending_reset_link(
    http: TestClient, other_http: TestClient, org: dict, mailbox: Mailbox
) -> None:
    other_http.headers["accept-language"] = "en"
    forgot(other_http, "ana@example.com")
    path = link_in(mailbox.to("ana@example.com")[0])
    log_in(http, "ana@example.com")

    changed = post_form(
        http,
        "/account",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "language": "en"},
    )
    stale = set_password(other_http, path, "someone else's passphrase")

    assert changed.status_code == 303
    assert stale.status_code == 404 and DEAD_LINK in stale.text
    assert login_status(http.app, "ana@example.com", NEW_PASSWORD) == 303
    assert [e.object_id for e in actions("users.password.changed")] == [org["ana"].id]


def test_changing_the_email_voids_the_links_sent_to_the_old_one(
    http: TestClient, other_http: TestClient, org: dict, mailbox: Mailbox
) -> None:
    log_in(http, "admin@example.com")
    invite(http, org["reps"], email="typo@example.com")
    marta = User.get(User.email == "typo@example.com")
    path = link_in(mailbox.to("typo@example.com")[0])

    post_form(
        http,
        f"/admin/users/{marta.id}",
        {"name": "Marta Gil", "email": "marta@example.com", "profile": marta.profile_id},
    )

    assert User.get_by_id(marta.id).email == "marta@example.com"
    assert set_password(other_http, path).status_code == 404
    assert User.get_by_id(marta.id).password_hash == ""


def test_ones_own_language_and_zone_changes_are_audited(http: TestClient, org: dict) -> None:
    log_in(http, "ana@example.com")

    post_form(http, "/account", {"language": "es", "time_zone": "America/Mexico_City"})
    post_form(http, "/account", {"language": "es", "time_zone": "America/Mexico_City"})

    [entry] = actions("users.updated")
    assert entry.actor_id == entry.object_id == org["ana"].id
    assert json.loads(entry.after) == {"language": "es", "time_zone": "America/Mexico_City"}


def test_a_forms_fallback_owner_cannot_become_an_assistant_and_rules_let_assistants_go(
    http: TestClient, org: dict
) -> None:
    from portal.core.models import AssignmentRule, AssignmentRuleUser, WebForm

    ana, luis = org["ana"], org["luis"]
    form = WebForm.create(name="Contacto", key="contacto", fallback_owner=ana)
    rule = AssignmentRule.create(name="Norte", position=1)
    AssignmentRuleUser.create(rule=rule, user=ana)
    AssignmentRuleUser.create(rule=rule, user=luis)
    log_in(http, "admin@example.com")
    edit = {"name": ana.name, "email": ana.email, "profile": org["helpers"].id}

    refused = post_form(http, f"/admin/users/{ana.id}", edit)
    assert refused.status_code == 400
    assert "fallback owner of the web form “Contacto”" in field_error(refused.text, "profile")
    assert ana.name in field_error(refused.text, "profile")
    assert User.get_by_id(ana.id).profile_id == org["reps"].id
    assert AssignmentRuleUser.select().count() == 2

    # With another fallback chosen, she moves, and leaves the rule in the same save.
    WebForm.update(fallback_owner=luis).where(WebForm.id == form.id).execute()
    assert post_form(http, f"/admin/users/{ana.id}", edit).status_code == 303
    assert User.get_by_id(ana.id).profile_id == org["helpers"].id
    assert [link.user_id for link in AssignmentRuleUser.select()] == [luis.id]
    [changed] = actions("users.profile.changed")
    assert json.loads(changed.after)["lead_rules_left"] == 1

    # Luis, moved to another seller profile, keeps his form and his rules.
    sellers = make_profile("Comercial Sur", parent=org["heads"])
    moved = {"name": luis.name, "email": luis.email, "profile": sellers.id}
    assert post_form(http, f"/admin/users/{luis.id}", moved).status_code == 303
    assert AssignmentRuleUser.select().where(AssignmentRuleUser.user == luis.id).count() == 1
