"""Administration → Web forms: the forms, their snippet, the owner rules, the submissions."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import leads, webforms
from portal.core.models import SEGMENTS, AssignmentRule, LeadSubmission, WebForm
from portal.core.portfolio import zones
from portal.web.rendering import render, see_other
from portal.web.requests import client_ip, form_values, permission_required

KEY = "menu.admin.webforms"
SUBMISSIONS_PAGE = 200


def _form(request: Request) -> WebForm:
    form = WebForm.get_or_none(WebForm.id == request.path_params["form_id"])
    if form is None:
        raise HTTPException(404)
    return form


@permission_required(KEY)
async def overview(request: Request) -> Response:
    forms = list(WebForm.select().order_by(WebForm.name, WebForm.id))
    failed = LeadSubmission.select().where(LeadSubmission.status == "failed").count()
    return render(request, "admin/webforms.html", {"forms": forms, "failed": failed})


async def _edit(request: Request, form: WebForm | None) -> Response:
    raw = webforms.form_values(form)
    errors: dict[str, str] = {}
    if request.method == "POST":
        raw = await form_values(request)
        values, errors = webforms.validate_form(raw)
        if not errors:
            saved = webforms.save_form(
                form, values, actor=request.state.user, ip=client_ip(request)
            )
            return see_other(f"/admin/webforms/{saved.id}/snippet")
    context = {
        "webform": form,
        "form": raw,
        "errors": errors,
        "specs": webforms.FIELDS,
        "always": webforms.ALWAYS,
        "owners": list(webforms.owner_choices()),
    }
    return render(request, "admin/webform_form.html", context, status_code=400 if errors else 200)


@permission_required(KEY)
async def form_new(request: Request) -> Response:
    return await _edit(request, None)


@permission_required(KEY)
async def form_edit(request: Request) -> Response:
    return await _edit(request, _form(request))


@permission_required(KEY)
async def form_snippet(request: Request) -> Response:
    """The preview, the address of the hosted page and the HTML to paste."""
    form = _form(request)
    settings = request.app.state.settings
    language = request.query_params.get("lang")
    language = language if language in webforms.LANGUAGES else form.language
    code = webforms.snippet(
        form, base_url=settings.base_url, secret=settings.secret_key, language=language
    )
    context = {
        "webform": form,
        "code": code,
        "hosted": f"{settings.base_url}/f/{form.key}",
        "snippet_language": language,
    }
    return render(request, "admin/webform_snippet.html", context)


# ------------------------------------------------------------------ rules


def _rule(request: Request) -> AssignmentRule:
    rule = AssignmentRule.get_or_none(AssignmentRule.id == request.path_params["rule_id"])
    if rule is None:
        raise HTTPException(404)
    return rule


@permission_required(KEY)
async def rules(request: Request) -> Response:
    found = webforms.rules()
    context = {"rules": found, "members": webforms.members_of([rule.id for rule in found])}
    return render(request, "admin/lead_rules.html", context)


async def _rule_edit(request: Request, rule: AssignmentRule | None) -> Response:
    raw = webforms.rule_values(rule)
    errors: dict[str, str] = {}
    if request.method == "POST":
        async with request.form() as posted:
            members = [v for v in posted.getlist("members") if isinstance(v, str)]
            raw = {k: v for k, v in posted.items() if isinstance(v, str) and k != "members"}
        values, errors = webforms.validate_rule(raw, members)
        raw["members"] = members
        if not errors:
            webforms.save_rule(rule, values, actor=request.state.user, ip=client_ip(request))
            return see_other("/admin/lead-rules")
    context = {
        "rule": rule,
        "form": raw,
        "errors": errors,
        "forms": list(WebForm.select().order_by(WebForm.name)),
        "zones": zones(),
        "segments": SEGMENTS,
        "owners": list(webforms.owner_choices()),
    }
    return render(request, "admin/lead_rule_form.html", context, status_code=400 if errors else 200)


@permission_required(KEY)
async def rule_new(request: Request) -> Response:
    return await _rule_edit(request, None)


@permission_required(KEY)
async def rule_edit(request: Request) -> Response:
    return await _rule_edit(request, _rule(request))


@permission_required(KEY)
async def rule_delete(request: Request) -> Response:
    rule = _rule(request)
    if request.method == "GET":
        return render(request, "admin/lead_rule_delete.html", {"rule": rule})
    webforms.delete_rule(rule, actor=request.state.user, ip=client_ip(request))
    return see_other("/admin/lead-rules")


# ------------------------------------------------------------------ submissions


@permission_required(KEY)
async def submissions(request: Request) -> Response:
    status = request.query_params.get("status", "")
    query = (
        LeadSubmission.select(LeadSubmission, WebForm.name)
        .join(WebForm)
        .order_by(LeadSubmission.received_at.desc(), LeadSubmission.id.desc())
    )
    if status in ("received", "processed", "failed", "spam"):
        query = query.where(LeadSubmission.status == status)
    rows = []
    for submission in query.limit(SUBMISSIONS_PAGE):
        try:
            payload = json.loads(submission.payload)
        except ValueError:
            payload = {}
        reason = leads.SPAM_REASONS.get(payload.get("spam", ""), "")
        error = leads.error_text(submission.error) if submission.error else ""
        rows.append((submission, payload.get("values", {}), reason, error))
    context = {"rows": rows, "status": status}
    return render(request, "admin/lead_submissions.html", context)


@permission_required(KEY)
async def retry(request: Request) -> Response:
    submission = LeadSubmission.get_or_none(LeadSubmission.id == request.path_params["sub_id"])
    if submission is None:
        raise HTTPException(404)
    outcome = leads.process(submission.id, request.app.state.settings)
    return see_other("/admin/lead-submissions?status=failed" if outcome is None else
                     "/admin/lead-submissions")  # fmt: skip


@permission_required(KEY)
async def accept(request: Request) -> Response:
    """A post taken for spam that a person recognises as a real lead."""
    problem = leads.accept(
        request.path_params["sub_id"],
        request.app.state.settings,
        actor=request.state.user,
        ip=client_ip(request),
    )
    return see_other("/admin/lead-submissions?status=spam" if problem else
                     "/admin/lead-submissions")  # fmt: skip


routes = [
    Route("/admin/webforms", overview),
    Route("/admin/webforms/new", form_new, methods=["GET", "POST"]),
    Route("/admin/webforms/{form_id:id}", form_edit, methods=["GET", "POST"]),
    Route("/admin/webforms/{form_id:id}/snippet", form_snippet),
    Route("/admin/lead-rules", rules),
    Route("/admin/lead-rules/new", rule_new, methods=["GET", "POST"]),
    Route("/admin/lead-rules/{rule_id:id}", rule_edit, methods=["GET", "POST"]),
    Route("/admin/lead-rules/{rule_id:id}/delete", rule_delete, methods=["GET", "POST"]),
    Route("/admin/lead-submissions", submissions),
    Route("/admin/lead-submissions/{sub_id:id}/retry", retry, methods=["POST"]),
    Route("/admin/lead-submissions/{sub_id:id}/accept", accept, methods=["POST"]),
]
