"""Web leads: the public form visitors post to (/f/<key>) and the manager's list.

The public form needs no login, session or cookie; the middleware lets its
posts through without the session's CSRF check (PUBLIC_FORM_PREFIX), and this
view protects them instead: its own signed token and fill time, a honeypot, a
rate limit per address, a body and per-field size limit.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.core import leads, notifications, webforms
from portal.core.models import WebForm
from portal.i18n import gettext as _
from portal.text import parse_id
from portal.web.rendering import render
from portal.web.requests import client_ip, permission_required, scope_of


def _active_form(request: Request) -> WebForm:
    key = request.path_params["key"]
    form = WebForm.get_or_none(WebForm.key == key, WebForm.is_active == True)  # noqa: E712
    if form is None:
        raise HTTPException(404)
    return form


def _language(wanted: str | None, form: WebForm) -> str:
    return wanted if wanted in webforms.LANGUAGES else form.language


def _security_headers(response: Response, form: WebForm) -> Response:
    # The page may be shown inside the company's site (an iframe), and after a
    # post it may send the visitor on to the form's thank-you address.
    targets = "'self'"
    if form.redirect_url:
        parts = urlsplit(form.redirect_url)
        targets += f" {parts.scheme}://{parts.netloc}"
    response.headers["content-security-policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"frame-ancestors *; form-action {targets}; base-uri 'none'; object-src 'none'"
    )
    return response


def _page(
    request: Request,
    form: WebForm,
    language: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> Response:
    settings = request.app.state.settings
    fields = [
        {**item, "spec": webforms.SPECS[item["name"]], "label": item.get(f"label_{language}", "")}
        for item in webforms.chosen_fields(form)
    ]
    context = {
        "form": form,
        "title": webforms.title_in(form, language),
        "language": language,
        "fields": fields,
        "values": values or {},
        "errors": errors or {},
        "notice": notice,
        "consent_text": webforms.text_in(form, "consent", language),
        "token": webforms.page_token(settings.secret_key, form),
        "segments": webforms.SEGMENT_CHOICES[language],
        "webforms": webforms,
    }
    response = render(request, "public/lead_form.html", context, status_code=status)
    return _security_headers(response, form)


def _thanks(request: Request, form: WebForm, language: str) -> Response:
    if form.redirect_url:
        return _security_headers(RedirectResponse(form.redirect_url, status_code=303), form)
    context = {
        "form": form,
        "title": webforms.title_in(form, language),
        "language": language,
        "message": webforms.text_in(form, "thanks", language),
    }
    return _security_headers(render(request, "public/lead_thanks.html", context), form)


def _refusal(request: Request, form: WebForm, language: str, text: str, status: int) -> Response:
    context = {
        "form": form,
        "title": webforms.title_in(form, language),
        "language": language,
        "message": text,
    }
    response = render(request, "public/lead_refused.html", context, status_code=status)
    return _security_headers(response, form)


async def _body(request: Request) -> bytes | None:
    """The posted body, or None when it is larger than a web form ever needs."""
    declared = parse_id(request.headers.get("content-length", "0"))
    if declared is not None and declared > leads.BODY_LIMIT:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > leads.BODY_LIMIT:
            return None
    return bytes(body)


async def public_form(request: Request) -> Response:
    form = _active_form(request)
    if request.method == "GET":
        language = _language(request.query_params.get("lang"), form)
        with notifications.speaking(language):
            return _page(request, form, language)

    language = form.language
    content_type = request.headers.get("content-type", "")
    body = await _body(request)
    if body is None:
        with notifications.speaking(language):
            text = _("The form is too large to be sent.")
            return _refusal(request, form, language, text, 413)
    try:
        pairs = parse_qsl(
            body.decode("utf-8", errors="replace"),
            keep_blank_values=True,
            max_num_fields=leads.MAX_FIELDS,
        )
    except ValueError:
        pairs = None
    if pairs is not None:
        language = _language(dict(pairs).get("lang"), form)
    with notifications.speaking(language):
        if pairs is None or not content_type.startswith("application/x-www-form-urlencoded"):
            text = _("The form could not be read. Reload the page and try again.")
            return _refusal(request, form, language, text, 400)
        settings = request.app.state.settings
        ip = client_ip(request)
        if leads.too_many(form, ip):
            text = _("Too many submissions from your address. Please try again in a few minutes.")
            return _refusal(request, form, language, text, 429)
        reading = leads.read_post(form, pairs, secret=settings.secret_key, now=time.time())
        if reading.spam:
            # Told thank you like anyone else: a bot learns nothing from the answer.
            leads.receive(form, reading, ip=ip, language=language)
            return _thanks(request, form, language)
        if reading.expired or reading.errors:
            notice = (
                _("The page was open too long. Please check the form and send it again.")
                if reading.expired
                else _("Please correct the fields marked below.")
            )
            return _page(
                request, form, language, values=reading.raw, errors=reading.errors,
                notice=notice, status=400,
            )  # fmt: skip
        submission = leads.receive(form, reading, ip=ip, language=language)

    leads.process(submission.id, settings)
    with notifications.speaking(language):
        return _thanks(request, form, language)


# ------------------------------------------------------------------ the manager's list


@permission_required("menu.leads")
async def team_leads(request: Request) -> Response:
    state = request.query_params.get("state", "")
    state = state if state in leads.STATES else ""
    form_id = parse_id(request.query_params.get("form", ""))
    rows, counts = leads.team_leads(scope_of(request), state=state, form_id=form_id)
    forms = list(WebForm.select(WebForm.id, WebForm.name).order_by(WebForm.name))
    context = {
        "rows": rows,
        "counts": counts,
        "state": state,
        "form_id": form_id,
        "forms": forms,
        "states": leads.STATES,
        "state_names": leads.STATE_NAMES,
    }
    return render(request, "leads.html", context, block="results")


routes = [
    Route("/f/{key}", public_form, methods=["GET", "POST"]),
    Route("/leads", team_leads),
]
