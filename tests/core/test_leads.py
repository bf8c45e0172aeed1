"""Web leads at HTTP level: a post to the public form becomes a client, a task in
the owner's agenda, a notification, a consent record and a delivered email.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from starlette.testclient import TestClient

from portal import jobs
from portal.core import leads, webforms
from portal.core.models import (
    Activity,
    AssignmentRule,
    AssignmentRuleUser,
    AuditEntry,
    Client,
    ConsentRecord,
    Contact,
    LeadSubmission,
    Notification,
    Task,
    User,
    VacationRequest,
    WebForm,
    Zone,
)
from portal.database import db, utcnow
from tests.conftest import (
    Mailbox,
    count_queries,
    grant,
    log_in,
    make_profile,
    make_user,
    post_form,
)

SECRET = "test-secret-key"
CONSENT = "Acepto recibir información comercial por correo."


@dataclass
class Team:
    manager: User
    ana: User
    bea: User
    carlos: User
    peer: User
    form: WebForm
    north: AssignmentRule


@pytest.fixture
def team(app: object, fast_passwords: None) -> Team:
    board = make_profile("Dirección")
    north = make_profile("Jefatura Norte", parent=board)
    south = make_profile("Jefatura Sur", parent=board)
    sellers = make_profile("Comercial Norte", parent=north)
    grant(north, "menu.leads")
    manager = make_user("marta@example.com", north)
    ana = make_user("ana@example.com", sellers, time_zone="Europe/Madrid")
    bea = make_user("bea@example.com", sellers)
    carlos = make_user("carlos@example.com", sellers)
    peer = make_user("pedro@example.com", south)
    Zone.create(name="Norte", postal_prefixes="48 20")
    fields = [
        {"name": name, "required": name in ("name", "email"), "label_es": name, "label_en": name}
        for name in ("name", "company", "email", "phone", "fiscal_id", "postal_code",
                     "country", "segment", "message")
    ]  # fmt: skip
    form = WebForm.create(
        name="Contacto", key="k" * 22, fields=json.dumps(fields), consent_es=CONSENT,
        thanks_es="¡Gracias!", fallback_owner=peer, due_hours=4,
    )  # fmt: skip
    rule = AssignmentRule.create(name="Norte", position=1, zone="Norte")
    for person in (ana, bea):
        AssignmentRuleUser.create(rule=rule, user=person)
    return Team(manager, ana, bea, carlos, peer, form, rule)


def page_token(form: WebForm, seconds_ago: int = 10) -> str:
    return webforms.page_token(SECRET, form, time.time() - seconds_ago)


def lead(form: WebForm, **values: str) -> dict[str, str]:
    base = {"name": "Íñigo Ruiz", "email": "inigo@bilbao.example", "postal_code": "48001"}
    return {webforms.TOKEN_FIELD: page_token(form), **base, **values}


def send(http: TestClient, form: WebForm, data: dict[str, str], **extra: object):
    return http.post(f"/f/{form.key}", data=data, follow_redirects=False, **extra)


def counts() -> dict[str, int]:
    models = (Client, Contact, Task, Activity, ConsentRecord, Notification)
    return {model.__name__: model.select().count() for model in models} | {
        "audit": AuditEntry.select().where(AuditEntry.action == "leads.captured").count()
    }


# ------------------------------------------------------------------ end to end


def test_a_post_makes_a_client_task_consent_note_and_email(
    http: TestClient, team: Team, mailbox: Mailbox
) -> None:
    page = http.get(f"/f/{team.form.key}")
    assert page.status_code == 200
    assert "set-cookie" not in page.headers
    assert (
        'name="url"' in page.text and "frame-ancestors *" in page.headers["content-security-policy"]
    )
    assert "x-frame-options" not in page.headers

    data = lead(team.form, company="Ferretería Ruiz", phone="944 000 111", consent="yes",
                message="Quiero un presupuesto", extra_field="ignored", owner="1")  # fmt: skip
    answer = send(http, team.form, data)
    assert answer.status_code == 200
    assert "¡Gracias!" in answer.text

    submission = LeadSubmission.get()
    assert submission.status == "processed" and submission.attempts == 1
    client = Client.get(Client.name == "Ferretería Ruiz")
    assert (client.status, client.kind, client.zone, client.owner_id) == (
        "lead", "company", "Norte", team.ana.id
    )  # fmt: skip
    contact = Contact.get(Contact.client == client)
    assert (contact.name, contact.email, contact.phone) == (
        "Íñigo Ruiz", "inigo@bilbao.example", "+34944000111"
    )  # fmt: skip
    task = Task.get(Task.client == client)
    assert (task.assignee_id, task.source, task.kind, task.status) == (
        team.ana.id, "lead", "call", "open"
    )  # fmt: skip
    assert task.title == "Primer contacto: Íñigo Ruiz"
    hours = (task.due_at - utcnow()).total_seconds() / 3600
    assert 3.9 < hours <= 4
    assert task.time_zone == "Europe/Madrid" and task.remind_at is not None
    record = ConsentRecord.get()
    assert (record.contact_id, record.method, record.text_shown, record.state) == (
        contact.id, "form", CONSENT, "given"
    )  # fmt: skip
    assert Contact.get_by_id(contact.id).marketing_consent == "given"
    assert Notification.get().user_id == team.ana.id
    assert AuditEntry.get(AuditEntry.action == "leads.captured").object_id == client.id
    assert "owner" not in submission.payload and "extra_field" not in submission.payload
    mail = mailbox.to("ana@example.com")
    assert len(mail) == 1 and "Ferretería Ruiz" in mail[0]["Subject"]
    assert f"/clients/{client.id}" in mail[0].get_body(("plain",)).get_content()


def test_the_page_and_messages_follow_the_language(http: TestClient, team: Team) -> None:
    english = http.get(f"/f/{team.form.key}?lang=en")
    assert 'lang="en"' in english.text and ">Send<" in english.text
    answer = send(http, team.form, lead(team.form, email="not an address", lang="en"))
    assert answer.status_code == 400
    assert 'id="e-email">Not a valid email address<' in answer.text
    spanish = send(http, team.form, lead(team.form, name="", lang="es"))
    assert spanish.status_code == 400
    assert 'id="e-name">' in spanish.text and '<html lang="es">' in spanish.text
    assert LeadSubmission.select().count() == 0


def test_the_thank_you_address_gets_a_303(http: TestClient, team: Team) -> None:
    team.form.redirect_url = "https://www.example.com/gracias"
    team.form.save()
    assert (
        "https://www.example.com"
        in http.get(f"/f/{team.form.key}").headers["content-security-policy"]
    )
    answer = send(http, team.form, lead(team.form))
    assert answer.status_code == 303
    assert answer.headers["location"] == "https://www.example.com/gracias"


def test_an_unknown_or_inactive_form_is_not_found(http: TestClient, team: Team) -> None:
    assert http.get("/f/nope").status_code == 404
    team.form.is_active = False
    team.form.save()
    assert http.get(f"/f/{team.form.key}").status_code == 404
    assert send(http, team.form, lead(team.form)).status_code == 404


# ------------------------------------------------------------------ duplicates


def test_a_known_fiscal_id_email_or_phone_lands_on_the_existing_client(
    http: TestClient, team: Team, mailbox: Mailbox
) -> None:
    # Owned by someone outside any rule, on another team: the lead still finds it.
    known = Client.create(name="Talleres Peña", owner=team.peer, fiscal_id="B12345674",
                          email="info@talleres.example", status="customer")  # fmt: skip
    other = Client.create(name="Óptica Sur", owner=team.carlos, status="customer")
    person = Contact.create(client=other, name="Lola", email="lola@optica.example",
                            mobile="+34600111222")  # fmt: skip

    by_id = lead(team.form, fiscal_id="b-12345674", email="new@talleres.example")
    by_email = lead(team.form, email="INFO@talleres.example")
    by_phone = lead(team.form, email="otra@optica.example", phone="600 111 222")
    by_contact = lead(team.form, email="lola@optica.example")
    for data in (by_id, by_email, by_phone, by_contact):
        answer = send(http, team.form, data)
        assert answer.status_code == 200 and "Talleres" not in answer.text

    assert Client.select().count() == 2
    subs = list(LeadSubmission.select().order_by(LeadSubmission.id))
    assert [s.client_id for s in subs] == [known.id, known.id, other.id, other.id]
    assert all(s.matched and s.status == "processed" for s in subs)
    tasks = list(Task.select().order_by(Task.id))
    assert [t.assignee_id for t in tasks] == [team.peer.id] * 2 + [team.carlos.id] * 2
    # The contact that matched gets the task; a new address on a company adds one.
    assert tasks[3].contact_id == person.id
    assert Contact.select().where(Contact.client == known).count() == 2
    assert Activity.select().where(Activity.client == known).count() == 2
    assert len(mailbox.to("carlos@example.com")) == 2


# ------------------------------------------------------------------ spam and abuse


def test_spam_is_thanked_and_creates_nothing(http: TestClient, team: Team) -> None:
    before = counts()
    trapped = send(http, team.form, lead(team.form, url="http://spam.example"))
    hurried = send(http, team.form, {**lead(team.form),
                                     webforms.TOKEN_FIELD: page_token(team.form, 0)})  # fmt: skip
    forged = send(http, team.form, {**lead(team.form), webforms.TOKEN_FIELD: "p.1.abc"})
    missing = send(http, team.form, {"name": "Bot", "email": "bot@example.com"})
    for answer in (trapped, hurried, forged, missing):
        assert answer.status_code == 200 and "¡Gracias!" in answer.text
    reasons = [json.loads(s.payload)["spam"] for s in LeadSubmission.select().order_by(
        LeadSubmission.id)]  # fmt: skip
    assert reasons == ["honeypot", "too_fast", "token", "token"]
    assert {s.status for s in LeadSubmission.select()} == {"spam"}
    assert counts() == before


def test_a_token_of_another_form_is_refused(http: TestClient, team: Team) -> None:
    other = WebForm.create(name="Otro", key="o" * 22, fields=team.form.fields)
    stolen = {**lead(team.form), webforms.TOKEN_FIELD: page_token(other)}
    send(http, team.form, stolen)
    assert LeadSubmission.get().status == "spam"


def test_an_old_page_asks_to_send_again(http: TestClient, team: Team) -> None:
    old = {**lead(team.form), webforms.TOKEN_FIELD: page_token(team.form, 2 * 86400)}
    answer = send(http, team.form, old)
    assert answer.status_code == 400
    assert "Íñigo Ruiz" in answer.text  # what was typed is kept
    assert LeadSubmission.select().count() == 0


def test_the_snippet_posts_without_a_fill_time(http: TestClient, team: Team) -> None:
    settings = http.app.state.settings  # type: ignore[attr-defined]
    code = webforms.snippet(team.form, base_url="https://crm.example", secret=SECRET,
                            language="es")  # fmt: skip
    assert f'action="https://crm.example/f/{team.form.key}"' in code
    assert "<script" not in code and 'name="url"' in code
    token = re.search(r'name="form_token" value="([^"]+)"', code).group(1)
    assert token == webforms.snippet_token(settings.secret_key, team.form)
    data = {webforms.TOKEN_FIELD: token, "name": "Rosa", "email": "rosa@example.com",
            "postal_code": "20001"}  # fmt: skip
    # Posted straight from another site: no cookie, an Origin of its own.
    answer = send(http, team.form, data, headers={"origin": "https://www.company.example"})
    assert answer.status_code == 200
    assert LeadSubmission.get().status == "processed"
    assert Client.get(Client.name == "Rosa").kind == "person"


def test_the_rate_limit_counts_per_address_and_form(http: TestClient, team: Team) -> None:
    for number in range(leads.RATE_LIMIT):
        data = lead(team.form, email=f"p{number}@example.com")
        assert send(http, team.form, data).status_code == 200
    refused = send(http, team.form, lead(team.form, email="again@example.com"))
    assert refused.status_code == 429
    assert LeadSubmission.select().count() == leads.RATE_LIMIT
    # Another address is not held back.
    LeadSubmission.update(ip="10.0.0.9").execute()
    assert send(http, team.form, lead(team.form, email="later@example.com")).status_code == 200


def test_oversize_bodies_fields_and_odd_encodings_are_refused(http: TestClient, team: Team) -> None:
    huge = send(http, team.form, lead(team.form, message="x" * (leads.BODY_LIMIT + 10)))
    assert huge.status_code == 413
    long_name = send(http, team.form, lead(team.form, name="n" * 151))
    assert long_name.status_code == 400 and 'id="e-name"' in long_name.text
    multipart = http.post(
        f"/f/{team.form.key}", files={"name": ("a.txt", b"x")}, data=lead(team.form)
    )
    assert multipart.status_code == 400
    many = {f"f{n}": "x" for n in range(leads.MAX_FIELDS + 5)}
    assert send(http, team.form, {**lead(team.form), **many}).status_code == 400
    assert LeadSubmission.select().count() == 0


def test_text_is_stored_nfc(http: TestClient, team: Team) -> None:
    send(http, team.form, lead(team.form, name="Nun\u0303ez"))
    assert Contact.get().name == "Nu\u00f1ez"


# ------------------------------------------------------------------ assignment


def test_rules_take_turns_and_a_person_away_hands_to_the_stand_in(
    http: TestClient, team: Team, mailbox: Mailbox
) -> None:
    today = date.today()
    VacationRequest.create(user=team.bea, start=today - timedelta(days=1),
                           end=today + timedelta(days=1), days=3, status="approved",
                           delegate=team.carlos)  # fmt: skip
    for number in range(4):
        send(http, team.form, lead(team.form, email=f"n{number}@example.com"))
    owners = [c.owner_id for c in Client.select().order_by(Client.id)]
    # Ana, Bea (away: Carlos), Ana, Bea (away: Carlos).
    assert owners == [team.ana.id, team.carlos.id, team.ana.id, team.carlos.id]
    assert len(mailbox.to("carlos@example.com")) == 2
    assert mailbox.to("bea@example.com") == []


def test_rules_match_by_postal_prefix_country_segment_and_form(team: Team) -> None:
    AssignmentRule.delete().execute()

    def rule(position: int, person: User, **conditions: object) -> None:
        made = AssignmentRule.create(name=f"r{position}", position=position, **conditions)
        AssignmentRuleUser.create(rule=made, user=person)

    other = WebForm.create(name="Otro", key="o" * 22, fallback_owner=team.peer)
    rule(1, team.manager, form=other)
    rule(2, team.ana, postal_prefixes="28 45")
    rule(3, team.bea, countries="PT MX")
    rule(4, team.carlos, segment="large")

    def owner(**place: str) -> int | None:
        values = {"zone": "", "postal_code": "", "country": "ES", "segment": "", **place}
        return leads.assign(team.form, values)[0].id

    assert owner(postal_code="28010") == team.ana.id
    assert owner(postal_code="4500") == team.ana.id
    assert owner(postal_code="08001", country="MX") == team.bea.id
    assert owner(segment="large") == team.carlos.id
    assert owner(postal_code="08001") == team.peer.id  # the fallback
    assert leads.assign(other, {"zone": "", "postal_code": "", "country": "ES",
                                "segment": ""})[0].id == team.manager.id  # fmt: skip
    # An inactive person is skipped; a rule left with nobody passes the lead on.
    User.update(is_active=False).where(User.id == team.ana.id).execute()
    assert owner(postal_code="28010") == team.peer.id


# ------------------------------------------------------------------ failure and retry


def test_a_failure_in_the_middle_leaves_nothing_and_the_retry_succeeds(
    http: TestClient, team: Team, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = counts()

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the notification store is down")

    monkeypatch.setattr(leads.notifications, "post", broken)
    answer = send(http, team.form, lead(team.form, company="Astilleros Ría", consent="yes"))
    # The visitor is thanked: the submission is safe and will be retried.
    assert answer.status_code == 200
    submission = LeadSubmission.get()
    assert submission.status == "failed" and submission.attempts == 1
    assert "notification store is down" in submission.error
    assert counts() == before
    assert AssignmentRule.get_by_id(team.north.id).turn == 0
    assert mailbox.to("ana@example.com") == []

    monkeypatch.undo()
    admin = make_user("root@example.com", team.manager.profile, is_admin=True)
    log_in(http, admin.email)
    listing = http.get("/admin/lead-submissions?status=failed")
    assert "Reintentar" in listing.text and "notification store is down" in listing.text
    retried = post_form(http, f"/admin/lead-submissions/{submission.id}/retry")
    assert retried.status_code == 303
    submission = LeadSubmission.get_by_id(submission.id)
    assert (submission.status, submission.attempts, submission.error) == ("processed", 2, "")
    assert Client.get(Client.name == "Astilleros Ría").owner_id == team.ana.id
    assert ConsentRecord.select().count() == 1
    assert len(mailbox.to("ana@example.com")) == 1
    # A second retry finds nothing to do.
    post_form(http, f"/admin/lead-submissions/{submission.id}/retry")
    assert Client.select().count() == before["Client"] + 1


def test_the_worker_retries_failed_submissions(
    http: TestClient, team: Team, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(leads.tasks, "create", lambda *a, **k: 1 / 0)
    send(http, team.form, lead(team.form))
    assert LeadSubmission.get().status == "failed"
    monkeypatch.undo()
    # The worker's periodic task, run here rather than on its ten-minute clock.
    jobs.retry_web_leads.call_local()
    assert LeadSubmission.get().status == "processed"
    assert len(mailbox.to("ana@example.com")) == 1


# ------------------------------------------------------------------ the manager's view


def test_the_manager_sees_the_team_leads_and_their_state(
    http: TestClient, team: Team, fast_passwords: None
) -> None:
    send(http, team.form, lead(team.form, company="Norte Uno", email="a@example.com"))
    send(http, team.form, lead(team.form, company="Norte Dos", email="b@example.com"))
    send(http, team.form, lead(team.form, company="Sur Uno", email="c@example.com",
                               postal_code="41001"))  # fmt: skip
    first, second = Task.select().order_by(Task.id)[:2]
    Task.update(due_at=utcnow() - timedelta(hours=1)).where(Task.id == first.id).execute()
    Task.update(status="done").where(Task.id == second.id).execute()

    log_in(http, team.manager.email)
    page = http.get("/leads")
    assert page.status_code == 200
    assert "Norte Uno" in page.text and "Norte Dos" in page.text
    assert "Sur Uno" not in page.text  # the peer's lead, outside the scope
    overdue = http.get("/leads?state=overdue")
    assert "Norte Uno" in overdue.text and "Norte Dos" not in overdue.text
    contacted = http.get("/leads?state=contacted")
    assert "Norte Dos" in contacted.text and "Norte Uno" not in contacted.text
    rows, found = leads.team_leads(leads.Scope.for_user(team.manager))
    assert found == {"new": 0, "overdue": 1, "contacted": 1, "closed": 0}
    assert len(rows) == 2


def test_the_leads_page_needs_its_permission(http: TestClient, team: Team) -> None:
    log_in(http, team.ana.email)
    assert http.get("/leads").status_code == 403


def test_erasing_the_person_forgets_what_they_typed(http: TestClient, team: Team) -> None:
    from portal.core import gdpr

    send(http, team.form, lead(team.form, company="Bodegas Ruiz", phone="600 000 001"))
    # Another person of the same company, found by the company's phone.
    send(http, team.form, lead(team.form, email="otro@bodegas.example", phone="600 000 001"))
    first, second = LeadSubmission.select().order_by(LeadSubmission.id)
    assert first.client_id == second.client_id
    plugins = http.app.state.plugins  # type: ignore[attr-defined]
    contact = Contact.get(Contact.email == "inigo@bilbao.example")
    gdpr.erase(gdpr.Subject("contact", contact.id), plugins, actor=None)
    first, second = LeadSubmission.select().order_by(LeadSubmission.id)
    assert (first.payload, first.ip) == ("{}", "")
    assert "otro@bodegas.example" in second.payload

    gdpr.erase(gdpr.Subject("client", first.client_id), plugins, actor=None)
    assert [s.payload for s in LeadSubmission.select()] == ["{}", "{}"]


def test_the_leads_page_runs_the_same_queries_for_more_leads(http: TestClient, team: Team) -> None:
    log_in(http, team.manager.email)

    def queries_for_page() -> int:
        with count_queries() as seen:
            assert http.get("/leads").status_code == 200
        return len(seen)

    send(http, team.form, lead(team.form, email="one@example.com"))
    few = queries_for_page()
    for number in range(4):
        send(http, team.form, lead(team.form, email=f"more{number}@example.com"))
    LeadSubmission.update(ip="10.0.0.1").execute()  # clear of the rate limit
    send(http, team.form, lead(team.form, email="last@example.com"))
    assert LeadSubmission.select().where(LeadSubmission.status == "processed").count() == 6
    assert queries_for_page() == few


def test_a_person_taken_for_a_bot_can_be_accepted_by_the_administrator(
    http: TestClient, team: Team, mailbox: Mailbox
) -> None:
    hurried = {**lead(team.form, company="Prisas SL", consent="yes"),
               webforms.TOKEN_FIELD: page_token(team.form, 0)}  # fmt: skip
    send(http, team.form, hurried)
    send(http, team.form, {"name": "Bot", "email": "no-at-sign", "url": "x"})
    person, bot = LeadSubmission.select().order_by(LeadSubmission.id)
    assert (person.status, bot.status) == ("spam", "spam")

    admin = make_user("root@example.com", team.manager.profile, is_admin=True)
    log_in(http, admin.email)
    listing = http.get("/admin/lead-submissions?status=spam")
    assert "enviado demasiado rápido" in listing.text and "No es spam: procésalo" in listing.text
    assert post_form(http, f"/admin/lead-submissions/{person.id}/accept").status_code == 303
    person = LeadSubmission.get_by_id(person.id)
    assert person.status == "processed"
    assert Client.get_by_id(person.client_id).name == "Prisas SL"
    # The consent box is not kept with spam: none is recorded.
    assert ConsentRecord.select().count() == 0
    assert len(mailbox.to("ana@example.com")) == 1

    post_form(http, f"/admin/lead-submissions/{bot.id}/accept")
    bot = LeadSubmission.get_by_id(bot.id)
    assert bot.status == "spam" and "email" in bot.error
    assert Client.select().count() == 1


def test_leads_processed_at_once_still_take_turns(http: TestClient, team: Team) -> None:
    settings = http.app.state.settings  # type: ignore[attr-defined]
    ids = []
    for number in range(6):
        values = {"name": f"Persona {number}", "email": f"p{number}@example.com",
                  "postal_code": "48001", "country": "ES", "consent": False}  # fmt: skip
        payload = json.dumps({"values": values, "consent_text": "", "origin": "page"})
        ids.append(LeadSubmission.create(form=team.form, payload=payload).id)
    db.close()  # each thread opens its own connection
    start = threading.Barrier(len(ids))

    def work(submission_id: int) -> None:
        start.wait()
        try:
            leads.process(submission_id, settings)
        finally:
            db.close()

    workers = [threading.Thread(target=work, args=(i,)) for i in ids]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    assert {s.status for s in LeadSubmission.select()} == {"processed"}
    owners = Counter(client.owner_id for client in Client.select())
    assert owners == {team.ana.id: 3, team.bea.id: 3}
    assert AssignmentRule.get_by_id(team.north.id).turn == 6


# ------------------------------------------------------------------ review fixes


def test_latin_american_tax_ids_are_taken_as_foreign_and_normalised(
    http: TestClient, team: Team
) -> None:
    # A wrong check digit for a country stdnum knows is refused; Spain is still Spain.
    wrong = send(http, team.form, lead(team.form, country="CL", fiscal_id="12.345.678-4"))
    assert wrong.status_code == 400 and 'id="e-fiscal_id"' in wrong.text
    # Mexico's RFC has a check digit too, which stdnum checks only when asked.
    wrong = send(http, team.form, lead(team.form, country="MX", fiscal_id="GODE561231GR9"))
    assert wrong.status_code == 400 and 'id="e-fiscal_id"' in wrong.text
    spanish = send(http, team.form, lead(team.form, fiscal_id="GODE561231GR8"))
    assert spanish.status_code == 400 and 'id="e-fiscal_id"' in spanish.text

    posts = [
        ("MX", "GODE561231GR8", "GODE561231GR8", "mx@example.com"),
        ("CL", "12.345.678-5", "123456785", "cl@example.com"),
        ("AR", "20-12345678-6", "20123456786", "ar@example.com"),
    ]
    for country, typed, stored, email in posts:
        answer = send(http, team.form, lead(team.form, country=country, fiscal_id=typed,
                                            email=email))  # fmt: skip
        assert answer.status_code == 200, answer.text
        client = Client.get(Client.email == email)
        assert (client.fiscal_id_type, client.fiscal_id, client.country) == (
            "foreign", stored, country
        )  # fmt: skip

    # The same RUT written another way lands on the client made from the first.
    chile = Client.get(Client.email == "cl@example.com")
    send(http, team.form, lead(team.form, country="CL", fiscal_id="12345678-5",
                               email="otra@example.com"))  # fmt: skip
    assert LeadSubmission.select().order_by(LeadSubmission.id.desc()).first().client_id == chile.id
    # A client typed by hand keeps the ID as printed; the lead still finds it.
    typed = Client.create(name="Andes SA", owner=team.peer, fiscal_id_type="foreign",
                          fiscal_id="33-69345023-9", country="AR")  # fmt: skip
    send(http, team.form, lead(team.form, country="AR", fiscal_id="33693450239",
                               email="andes@example.com"))  # fmt: skip
    assert LeadSubmission.select().order_by(LeadSubmission.id.desc()).first().client_id == typed.id


def test_single_line_fields_lose_their_line_breaks_and_the_message_keeps_them(
    http: TestClient, team: Team
) -> None:
    data = lead(team.form, name="Eve\r\nBcc: x", company="Tintes\t\nSL",
                message="Primera línea\r\nSegunda línea")  # fmt: skip
    assert send(http, team.form, data).status_code == 200
    client = Client.get()
    assert client.name == "Tintes SL"
    assert Contact.get().name == "Eve Bcc: x"
    task = Task.get()
    assert "\n" not in task.title and "\r" not in task.title and "Eve Bcc: x" in task.title
    note = Notification.get(Notification.user == team.ana)
    assert "\n" not in note.values and "\\n" not in note.values
    message = json.loads(LeadSubmission.get().payload)["values"]["message"]
    assert message.replace("\r\n", "\n") == "Primera línea\nSegunda línea"
    assert "Primera línea\nSegunda línea" in task.notes.replace("\r\n", "\n")


def test_a_leaver_hands_on_the_fallback_of_their_forms_and_leaves_the_rules(
    http: TestClient, team: Team
) -> None:
    from portal.core import leavers

    leavers.deactivate(team.peer, team.carlos, actor=team.manager)
    leavers.deactivate(team.ana, team.bea, actor=team.manager)
    assert WebForm.get_by_id(team.form.id).fallback_owner_id == team.carlos.id
    assert [link.user_id for link in AssignmentRuleUser.select()] == [team.bea.id]
    entries = AuditEntry.select().where(AuditEntry.action == "users.deactivated")
    after = [json.loads(entry.after) for entry in entries.order_by(AuditEntry.id)]
    assert [(a["lead_forms_moved"], a["lead_rules_left"]) for a in after] == [(1, 0), (0, 1)]

    # Outside every rule the lead goes to the new fallback; in the north, to Bea.
    send(http, team.form, lead(team.form, postal_code="08001", email="sur@example.com"))
    send(http, team.form, lead(team.form, email="norte@example.com"))
    subs = list(LeadSubmission.select().order_by(LeadSubmission.id))
    assert [s.status for s in subs] == ["processed", "processed"]
    assert [Client.get_by_id(s.client_id).owner_id for s in subs] == [team.carlos.id, team.bea.id]


def test_a_lead_nobody_can_take_tells_the_administrators_once_in_their_language(
    http: TestClient, team: Team
) -> None:
    import html

    from portal.core.notifications import render_row
    from tests.conftest import make_profile as profile

    keepers = profile("Web")
    grant(keepers, "menu.admin.webforms")
    keeper = make_user("web@example.com", keepers)
    admin = make_user("root@example.com", team.manager.profile, is_admin=True, language="es")
    User.update(is_active=False).where(User.id == team.peer.id).execute()

    send(http, team.form, lead(team.form, postal_code="08001"))
    submission = LeadSubmission.get()
    assert submission.status == "failed"
    assert "LeadError" not in submission.error
    # The worker tries again: nobody is told twice about the same submission.
    jobs.retry_web_leads.call_local()
    assert LeadSubmission.get().attempts == 2
    told = list(Notification.select().order_by(Notification.user))
    assert sorted(note.user_id for note in told) == sorted([keeper.id, admin.id])
    assert {note.url for note in told} == {"/admin/lead-submissions?status=failed"}
    assert all("Contacto" in render_row(note) for note in told)
    assert Notification.select().where(Notification.user == team.manager).count() == 0

    log_in(http, admin.email)
    listing = http.get("/admin/lead-submissions?status=failed")
    assert "LeadError" not in listing.text and "no rule gives" not in listing.text
    from portal.core.notifications import speaking

    with speaking("es"):
        shown = leads.error_text(LeadSubmission.get().error)
    assert shown and html.escape(shown) in listing.text


def test_an_unticked_consent_box_shows_as_asked_and_not_given(http: TestClient, team: Team) -> None:
    from portal.core.notifications import speaking
    from portal.i18n import gettext

    send(http, team.form, lead(team.form))
    contact = Contact.get()
    # No consent state means "declined": the contact's stays empty, nothing is recorded.
    assert contact.marketing_consent == "" and ConsentRecord.select().count() == 0
    with speaking(team.ana.language or "es"):
        line = gettext("Asked for commercial consent: not given.")
    assert line in Activity.get().notes
    assert json.loads(LeadSubmission.get().payload)["values"]["consent_declined"] is True

    # Ticked, it is consent as before; a form without the box asks nothing.
    send(http, team.form, lead(team.form, email="si@example.com", consent="yes"))
    assert json.loads(LeadSubmission.select().order_by(LeadSubmission.id.desc()).first()
                      .payload)["values"]["consent_declined"] is False  # fmt: skip
    WebForm.update(consent_es="").where(WebForm.id == team.form.id).execute()
    send(http, team.form, lead(team.form, email="no@example.com"))
    last = LeadSubmission.select().order_by(LeadSubmission.id.desc()).first()
    assert json.loads(last.payload)["values"]["consent_declined"] is False

    admin = make_user("root@example.com", team.manager.profile, is_admin=True, language="es")
    log_in(http, admin.email)
    with speaking("es"):
        marker = gettext("Commercial consent asked and not given")
    assert http.get("/admin/lead-submissions").text.count(marker) == 1


def test_a_failed_lead_says_why_the_forms_fallback_owner_cannot_take_it(
    http: TestClient, team: Team
) -> None:
    # Pedro, the fallback, was made an assistant before the rule against it, or left
    # without the successor step: the failure names him and says which it is.
    helpers = make_profile("Asistencia Sur", parent=team.peer.profile, is_assistant=True)
    User.update(profile=helpers).where(User.id == team.peer.id).execute()
    send(http, team.form, lead(team.form, postal_code="08001", email="uno@example.com"))
    User.update(profile=team.carlos.profile, is_active=False).where(
        User.id == team.peer.id
    ).execute()
    send(http, team.form, lead(team.form, postal_code="08001", email="dos@example.com"))

    subs = list(LeadSubmission.select().order_by(LeadSubmission.id))
    assert [s.status for s in subs] == ["failed", "failed"]
    assistant, inactive = (leads.error_text(s.error) for s in subs)
    assert team.peer.name in assistant and "assistant profile" in assistant
    assert team.peer.name in inactive and "no longer active" in inactive
    assert Client.select().count() == 0
