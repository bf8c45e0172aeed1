"""The outbox: mail leaves after the commit, through a real SMTP server on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from portal import jobs
from portal.config import Settings
from portal.core import notifications, outbox
from portal.core.models import AuditEntry, OutgoingMail, Profile, User
from portal.core.notifications import Note
from portal.database import db, utcnow
from portal.mail import server_url, shown_url
from tests.conftest import Mailbox, count_queries, grant, log_in, make_profile, make_user, post_form
from tests.core.test_bulk_pages import _redis_reachable

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def admin(http: TestClient) -> User:
    profile = make_profile("Dirección", kind="structural")
    user = make_user("admin@example.com", profile, is_admin=True, language="en")
    log_in(http, "admin@example.com")
    return user


def queue(to: str = "ana@example.com", **extra: object) -> OutgoingMail:
    values = {"subject": "Your order", "text": "It left today.", "kind": "test", **extra}
    with db.atomic():
        return outbox.queue_mail(to, **values)  # type: ignore[arg-type]


def reload(mail: OutgoingMail) -> OutgoingMail:
    return OutgoingMail.get_by_id(mail.id)


def body(message: object, kind: str = "plain") -> str:
    """A part's text as written (the wire's CRLF line ends read as LF)."""
    part = message.get_body((kind,))  # type: ignore[attr-defined]
    return part.get_content().replace("\r\n", "\n")


def make_due(mail: OutgoingMail) -> None:
    """As if the wait before the next attempt had passed."""
    past = utcnow() - timedelta(seconds=1)
    OutgoingMail.update(next_attempt_at=past).where(OutgoingMail.id == mail.id).execute()


# ---------------------------------------------------------------- queueing


def test_a_mail_queued_in_a_transaction_that_rolls_back_is_never_sent(
    app: object, mailbox: Mailbox
) -> None:
    with pytest.raises(RuntimeError), db.atomic():
        outbox.queue_mail("ana@example.com", "Hola", "Texto", kind="test")
        raise RuntimeError("the change failed")

    jobs.sweep_outbox.call_local()

    assert not OutgoingMail.select().exists()
    assert mailbox.messages == []


def test_a_committed_mail_leaves_with_text_html_and_its_headers(
    app: object, mailbox: Mailbox
) -> None:
    with db.atomic():
        mail = outbox.queue_mail(
            "Ana@Example.com",
            "Tu pedido ha salido",
            "Línea uno\nLínea dos",
            html="<p>Línea uno</p>",
            kind="orders.shipped",
            to_name="Ana Pérez",
            reply_to="ventas@example.com",
        )
        # Nothing leaves before the commit.
        assert mailbox.messages == []

    [message] = mailbox.messages
    sent = reload(mail)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, "")
    assert sent.sent_at is not None and sent.sender == "Cartera <cartera@localhost>"
    assert mailbox.envelopes == [["ana@example.com"]]
    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Ana Pérez", "ana@example.com")
    assert message["Subject"] == "Tu pedido ha salido"
    assert message["Reply-To"] == "ventas@example.com"
    assert message["From"] == "Cartera <cartera@localhost>"
    assert message["Message-ID"] == sent.message_id
    assert message.get_content_type() == "multipart/alternative"
    assert body(message) == "Línea uno\nLínea dos\n"
    assert body(message, "html").strip() == "<p>Línea uno</p>"


def test_a_template_mail_speaks_the_recipients_language_and_escapes_html(
    app: object, mailbox: Mailbox
) -> None:
    context = {"name": "<b>Eva</b>", "sender": "Ana", "link": "http://x/1", "days": 7}
    with db.atomic():
        for language in ("es", "en"):
            outbox.queue_template(
                None, "email/invite.html", language, "eva@example.com",
                kind="users.invite", **context,
            )  # fmt: skip

    spanish, english = mailbox.messages
    assert "Tu cuenta de Cartera" in spanish["Subject"]
    assert english["Subject"] == "Your Cartera account is ready"
    html = body(english, "html")
    assert "&lt;b&gt;Eva&lt;/b&gt;" in html and "<b>" not in html
    assert "Hello <b>Eva</b>," in body(english)


def test_line_breaks_in_a_subject_or_name_cannot_add_a_header(
    app: object, mailbox: Mailbox
) -> None:
    queue(
        subject="Hola\r\nBcc: victim@example.com",
        to_name="Ana\r\nBcc: other@example.com\r\n",
    )

    [message] = mailbox.messages
    assert message["Bcc"] is None
    assert mailbox.envelopes == [["ana@example.com"]]
    assert message["Subject"] == "Hola Bcc: victim@example.com"
    assert message["To"].addresses[0].display_name == "Ana Bcc: other@example.com"


@pytest.mark.parametrize(
    "address",
    [
        "ana@example.com\r\nBcc: victim@example.com",
        "ana@example.com, victim@example.com",
        "Ana <ana@example.com>",
        "not an address",
        "",
    ],
)
def test_a_recipient_that_is_not_one_address_is_refused(app: object, address: str) -> None:
    with pytest.raises(outbox.InvalidAddress):
        queue(address)
    with pytest.raises(outbox.InvalidAddress):
        queue(reply_to=address or "nobody")
    assert not OutgoingMail.select().exists()


def test_a_secret_body_is_erased_once_sent_or_given_up(app: object, mailbox: Mailbox) -> None:
    mailbox.refuse("gone@example.com")

    sent = reload(queue(text="Your link: http://x/password/new/abc", secret=True))
    gone = reload(queue("gone@example.com", text="http://x/password/new/def", secret=True))
    kept = reload(queue(text="Nothing secret"))

    assert "password/new/abc" in body(mailbox.messages[0])
    assert (sent.status, sent.text, gone.status, gone.text) == (
        "sent", outbox.ERASED, "failed", outbox.ERASED
    )  # fmt: skip
    assert kept.text == "Nothing secret\n"


# ---------------------------------------------------------------- failures


def test_a_server_that_is_down_is_retried_with_backoff_then_given_up(
    http: TestClient, admin: User, mailbox: Mailbox, smtp_down: str
) -> None:
    mail = queue()
    waits = []
    for _attempt in range(outbox.MAX_ATTEMPTS - 1):
        row = reload(mail)
        assert row.status == "queued" and "Connection" in row.last_error
        waits.append(row.next_attempt_at - utcnow())
        make_due(mail)
        # What the worker does every minute.
        jobs.sweep_outbox.call_local()

    failed = reload(mail)
    page = http.get("/admin/mail?status=failed").text

    assert (failed.status, failed.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    for wait, expected in zip(waits, outbox.BACKOFF, strict=True):
        assert expected - timedelta(seconds=5) < wait <= expected
    assert mailbox.messages == []
    assert "Connection" in failed.last_error and failed.last_error in page
    assert "due for more than five minutes" not in page
    assert "Retry now" in page and f'action="/admin/mail/{mail.id}/retry"' in page


def test_the_page_warns_when_mail_waits_for_a_worker(
    http: TestClient, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "_hand_over", lambda mail_id: None)
    mail = queue()
    fresh = http.get("/admin/mail").text
    old = utcnow() - timedelta(minutes=6)
    OutgoingMail.update(next_attempt_at=old).where(OutgoingMail.id == mail.id).execute()

    late = http.get("/admin/mail").text

    assert "due for more than five minutes" not in fresh
    assert "1 mail has been due for more than five minutes" in late


def test_retry_now_sends_a_failed_mail_once_the_server_is_back(
    http: TestClient, admin: User, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as down:
        down.setattr(outbox._config, "smtp_url", "smtp://127.0.0.1:1?tls=off")
        mail = queue()
        OutgoingMail.update(status="failed").where(OutgoingMail.id == mail.id).execute()

    forged = http.post(f"/admin/mail/{mail.id}/retry", data={}, follow_redirects=False)
    assert forged.status_code == 403 and reload(mail).status == "failed"

    answer = post_form(http, f"/admin/mail/{mail.id}/retry", {"status": "failed"})
    page = http.get(answer.headers["location"]).text
    again = post_form(http, f"/admin/mail/{mail.id}/retry")

    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/admin/mail?status=failed&notice=retried")
    # A sent mail is not sent twice.
    assert "notice" not in again.headers["location"] and len(mailbox.messages) == 1
    assert reload(mail).status == "sent" and len(mailbox.messages) == 1
    assert "Sent again" in page
    assert AuditEntry.get(AuditEntry.action == "mail.retried").object_id == mail.id
    assert post_form(http, "/admin/mail/999999/retry").status_code == 404


def test_a_failed_mail_retried_while_the_server_is_still_down_fails_again(
    app: object, admin: User, smtp_down: str
) -> None:
    mail = queue()
    OutgoingMail.update(status="failed").where(OutgoingMail.id == mail.id).execute()

    outbox.retry_now(reload(mail), actor=admin)

    assert reload(mail).status == "failed"


def test_a_refused_recipient_is_given_up_at_once(app: object, mailbox: Mailbox) -> None:
    mailbox.refuse("gone@example.com", "550 5.1.1 No such user")
    mailbox.refuse("full@example.com", "452 4.2.2 Mailbox full")

    gone = reload(queue("gone@example.com"))
    full = reload(queue("full@example.com"))

    assert (gone.status, gone.attempts) == ("failed", 1)
    assert gone.last_error.startswith("550") and "No such user" in gone.last_error
    # A 4xx may heal: tried again later.
    assert (full.status, full.attempts) == ("queued", 1)
    assert full.last_error.startswith("452") and full.next_attempt_at > utcnow()
    assert mailbox.messages == []


def test_two_workers_claiming_the_same_mail_send_it_once(
    app: object, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows nobody handed over, so only the two racing workers try them.
    monkeypatch.setattr(outbox, "_hand_over", lambda mail_id: None)
    mails = [queue(f"ana{i}@example.com") for i in range(5)]
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def worker() -> None:
        start.wait()
        for mail in mails:
            outcomes.append(outbox.deliver(mail.id))
        db.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(len(m) for m in mailbox.envelopes) == [1] * 5
    assert sorted(e[0] for e in mailbox.envelopes) == sorted(m.recipient for m in mails)
    assert sum(outcome is not None for outcome in outcomes) == 5
    assert [reload(m).attempts for m in mails] == [1] * 5


# ---------------------------------------------------------------- the worker


def test_the_sweep_sends_a_row_the_queue_never_received(
    app: object, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def queue_is_down(mail_id: int) -> None:
        raise ConnectionError("the queue is down")

    monkeypatch.setattr(jobs, "send_mail", queue_is_down)
    mail = queue()
    assert reload(mail).status == "queued" and mailbox.messages == []

    jobs.sweep_outbox.call_local()

    assert reload(mail).status == "sent" and len(mailbox.messages) == 1


def _through_the_queue(queue: object, mailbox: Mailbox) -> None:
    mail = outbox.queue_mail("ana@example.com", "Hola", "Texto", kind="test")
    assert reload(mail).status == "queued" and mailbox.messages == []

    # What `cartera worker` does with each message of the queue.
    queue.execute(queue.dequeue())  # type: ignore[attr-defined]

    assert reload(mail).status == "sent" and len(mailbox.messages) == 1


def test_without_immediate_mode_mail_waits_for_the_worker(
    app: object, settings: Settings, tmp_path: Path, mailbox: Mailbox
) -> None:
    queue = jobs.configure(Settings(data_dir=tmp_path / "queue", database_url="sqlite://"))
    try:
        _through_the_queue(queue, mailbox)
    finally:
        jobs.configure(settings)


def test_cartera_worker_sends_what_the_portal_queued(
    app: object, settings: Settings, tmp_path: Path, mailbox: Mailbox
) -> None:
    data = tmp_path / "worker"
    jobs.configure(Settings(data_dir=data, database_url=settings.database_url))
    try:
        mail = outbox.queue_mail("ana@example.com", "Hola", "Texto", kind="test")
    finally:
        jobs.configure(settings)
    env = {
        **os.environ,
        "CARTERA_DATA_DIR": str(data),
        "DATABASE_URL": settings.database_url,
        "CARTERA_SMTP_URL": mailbox.url,
        "CARTERA_SECRET_KEY": "test-secret-key",
    }
    env.pop("CARTERA_IMMEDIATE_JOBS", None)
    env.pop("CARTERA_REDIS_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "portal.cli", "worker", "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not mailbox.messages and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.1)
    finally:
        worker.terminate()
        _out, errors = worker.communicate(timeout=10)

    assert len(mailbox.messages) == 1, errors.decode()
    assert reload(mail).status == "sent"


@pytest.mark.skipif(not _redis_reachable(), reason="no Redis server on 127.0.0.1:6379")
def test_mail_goes_through_a_redis_queue(
    app: object, settings: Settings, tmp_path: Path, mailbox: Mailbox
) -> None:
    url = "redis://127.0.0.1:6379/12"
    queue = jobs.configure(Settings(data_dir=tmp_path, database_url="sqlite://", redis_url=url))
    queue.flush()
    try:
        _through_the_queue(queue, mailbox)
    finally:
        queue.flush()
        jobs.configure(settings)


# ---------------------------------------------------------------- notifications


def test_a_notification_reaches_its_reader_in_their_language(app: object, mailbox: Mailbox) -> None:
    profile = make_profile("Ventas")
    eva = make_user("eva@example.com", profile, language="en")
    msgid = "%(name)s asks for days off from %(start)s to %(end)s."
    values = {"name": "<b>Ana\nBcc: x@example.com", "start": "2026-07-01", "end": "2026-07-03"}

    with db.atomic():
        queued = notifications.notify([Note(eva, msgid, values, "/vacations/1")], kind="lead.x")

    [message] = mailbox.messages
    assert queued == 1 and OutgoingMail.get().kind == "lead.x"
    # A long subject is folded; the first line break is no part of it.
    assert message["Subject"].strip().startswith("<b>Ana Bcc: x@example.com asks for days")
    assert message["Bcc"] is None
    assert "Open it in Cartera: http://127.0.0.1:8000/vacations/1" in body(message)
    html = body(message, "html")
    assert '<a href="http://127.0.0.1:8000/vacations/1">Open it in Cartera</a>' in html
    assert "&lt;b&gt;Ana" in html and "<b>" not in html


# ---------------------------------------------------------------- the page


def test_the_sent_log_costs_the_same_queries_for_one_row_or_many(
    http: TestClient, admin: User
) -> None:
    queue()
    with count_queries() as one:
        http.get("/admin/mail")
    for i in range(20):
        queue(f"ana{i}@example.com")
    with count_queries() as many:
        page = http.get("/admin/mail").text

    assert len(many) == len(one)
    assert page.count('<tr id="mail-') == 21


def test_the_mail_page_needs_its_permission(http: TestClient, mailbox: Mailbox) -> None:
    clerks = make_profile("Oficina", kind="structural")
    make_user("clerk@example.com", clerks)
    log_in(http, "clerk@example.com")

    refused = http.get("/admin/mail")
    test = post_form(http, "/admin/mail/test", {"to": "x@example.com"})
    grant(Profile.get_by_id(clerks.id), "menu.admin", "menu.admin.mail")
    allowed = http.get("/admin/mail")

    assert refused.status_code == 403 and test.status_code == 403
    assert mailbox.messages == [] and not OutgoingMail.select().exists()
    assert allowed.status_code == 200 and 'href="/admin/mail"' in allowed.text


def test_the_page_shows_the_variable_and_sends_a_test_email(
    http: TestClient, admin: User, mailbox: Mailbox
) -> None:
    page = http.get("/admin/mail").text
    sent = post_form(http, "/admin/mail/test", {"to": "ops@example.com"})
    bad = post_form(http, "/admin/mail/test", {"to": "ops@example.com\r\nBcc: x@example.com"})
    refused = post_form(http, "/admin/mail/settings", {"host": "smtp.example.com"})
    log = http.get(sent.headers["location"]).text

    assert "CARTERA_SMTP_URL" in page and mailbox.url in page
    assert sent.status_code == 303 and mailbox.to("ops@example.com")
    assert mailbox.to("ops@example.com")[0]["Subject"] == "Cartera test email"
    assert bad.status_code == 400 and "Not a valid email address" in bad.text
    assert refused.status_code == 409
    assert "mail.test" in log and "ops@example.com" in log


def test_settings_kept_on_the_page_send_the_mail(
    http: TestClient, admin: User, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox._config, "smtp_url", "")
    port = mailbox.url.rsplit(":", 1)[1].split("?")[0]
    form = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "user": "mailer",
        "password": "s3cret-pass",
        "sender_name": "Ventas\r\nBcc: x@example.com",
        "sender_address": "ventas@example.com",
    }
    empty = http.get("/admin/mail").text
    wrong = post_form(http, "/admin/mail/settings", {**form, "port": "99999", "host": ""})
    saved = post_form(http, "/admin/mail/settings", form)
    page = http.get("/admin/mail").text
    kept = post_form(http, "/admin/mail/settings", {**form, "password": ""})
    stored = outbox.stored_settings()
    # This test server offers no login: forget the user and password to send.
    post_form(http, "/admin/mail/settings", {**form, "user": "", "forget_password": "on"})
    post_form(http, "/admin/mail/test", {"to": "ops@example.com"})

    assert "log instead of being sent" in empty
    assert wrong.status_code == 400 and 'aria-invalid="true"' in wrong.text
    assert saved.status_code == 303 and kept.status_code == 303
    assert stored.password == "s3cret-pass"
    assert "s3cret-pass" not in page and "A password is stored" in page
    assert "s3cret-pass" not in AuditEntry.get(AuditEntry.action == "mail.settings.changed").after
    [message] = mailbox.to("ops@example.com")
    assert message["From"].addresses[0].addr_spec == "ventas@example.com"
    assert message["From"].addresses[0].display_name == "Ventas Bcc: x@example.com"
    assert message["Bcc"] is None


def test_a_server_url_is_built_from_fields_and_shown_without_its_password() -> None:
    url = server_url("smtp.example.com", 587, "starttls", "ana@example.com", "p@ss:w/rd")

    assert url == "smtp://ana%40example.com:p%40ss%3Aw%2Frd@smtp.example.com:587?tls=require"
    assert shown_url(url) == "smtp://ana%40example.com:•••@smtp.example.com:587?tls=require"
    assert server_url("mail.example.com", 465, "tls") == "smtps://mail.example.com:465"
    assert server_url("relay", 25, "none") == "smtp://relay:25?tls=off"
