"""Administration → Mail: the SMTP server, a test email, and the sent log with retries."""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import outbox
from portal.core.models import MAIL_STATUSES, OutgoingMail
from portal.i18n import N_, current_zone
from portal.i18n import gettext as _
from portal.mail import SECURITY, shown_url
from portal.text import parse_id
from portal.web.rendering import render, see_other
from portal.web.requests import client_ip, form_values, permission_required

NOTICES = {
    "saved": N_("Mail settings saved."),
    "test_queued": N_("Test email queued; its line below says whether it left."),
    "retried": N_("Sent again; its line below shows the outcome."),
}
STATUS_LABELS = {"queued": N_("Queued"), "sent": N_("Sent"), "failed": N_("Not sent")}
SECURITY_LABELS = {
    "starttls": N_("STARTTLS (usually port 587)"),
    "tls": N_("TLS from the start (usually port 465)"),
    "none": N_("None (a relay on this machine or network)"),
}


def _form_of(stored: outbox.ServerSettings) -> dict[str, str]:
    values = {k: str(v) for k, v in asdict(stored).items() if k != "password"}
    if not stored.host:
        values["port"] = "587"
    return values


def _page(
    request: Request,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    test_errors: dict[str, str] | None = None,
    test_form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    stored = outbox.stored_settings()
    status = request.query_params.get("status", "")
    status = status if status in MAIL_STATUSES else ""
    before = parse_id(request.query_params.get("before", ""))
    notice = request.query_params.get("notice", "")
    mailer = outbox.current_mailer(stored)
    context = {
        "source": outbox.source(stored),
        "server": shown_url(mailer.url),
        "sender": mailer.sender,
        "has_password": bool(stored.password),
        "form": form if form is not None else _form_of(stored),
        "errors": errors or {},
        "test_form": test_form or {"to": request.state.user.email},
        "test_errors": test_errors or {},
        "security": [(code, _(SECURITY_LABELS[code])) for code in SECURITY],
        "page": outbox.log_page(status, before),
        "overdue": outbox.overdue(),
        "status": status,
        "statuses": MAIL_STATUSES,
        "status_labels": STATUS_LABELS,
        "notice": _(NOTICES[notice]) if notice in NOTICES else "",
        "zone": current_zone.get(),
    }
    return render(request, "admin/mail.html", context, status_code=status_code)


@permission_required("menu.admin.mail")
async def overview(request: Request) -> Response:
    return _page(request)


@permission_required("menu.admin.mail")
async def save_settings(request: Request) -> Response:
    if outbox.source() == "environment":
        # The variable wins; saving here would change nothing the page shows.
        raise HTTPException(409, _("CARTERA_SMTP_URL is set: change the server there."))
    raw = await form_values(request)
    values, errors = outbox.validate_settings(raw, outbox.stored_settings())
    if errors:
        return _page(request, form=raw, errors=errors, status_code=400)
    outbox.save_settings(values, actor=request.state.user, ip=client_ip(request))
    return see_other("/admin/mail?notice=saved")


@permission_required("menu.admin.mail")
async def send_test(request: Request) -> Response:
    raw = await form_values(request)
    user = request.state.user
    try:
        outbox.queue_template(
            request.app,
            "email/test.html",
            user.language or request.app.state.settings.language,
            raw.get("to", ""),
            kind="mail.test",
            name=user.name,
        )
    except outbox.InvalidAddress:
        errors = {"to": _("Not a valid email address")}
        return _page(request, test_form=raw, test_errors=errors, status_code=400)
    return see_other("/admin/mail?notice=test_queued")


@permission_required("menu.admin.mail")
async def retry(request: Request) -> Response:
    mail = OutgoingMail.get_or_none(OutgoingMail.id == parse_id(request.path_params["mail_id"]))
    if mail is None:
        raise HTTPException(404)
    raw = await form_values(request)
    retried = outbox.retry_now(mail, actor=request.state.user, ip=client_ip(request))
    # Back to the list the button was on.
    status = raw.get("status", "")
    params = {"status": status if status in MAIL_STATUSES else ""}
    if retried:
        params["notice"] = "retried"
    return see_other(f"/admin/mail?{urlencode(params)}#mail-{mail.id}")


routes = [
    Route("/admin/mail", overview),
    Route("/admin/mail/settings", save_settings, methods=["POST"]),
    Route("/admin/mail/test", send_test, methods=["POST"]),
    Route("/admin/mail/{mail_id:int}/retry", retry, methods=["POST"]),
]
