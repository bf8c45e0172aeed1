"""Login and logout, and setting a password through a link sent by email."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import audit, fields, login, people, resets, sessions, tokens
from portal.core.models import User
from portal.core.passwords import MIN_LENGTH
from portal.database import db
from portal.i18n import gettext as _
from portal.web import emails
from portal.web.middleware import SESSION_COOKIE
from portal.web.rendering import render, safe_next, see_other
from portal.web.requests import client_ip, form_values


async def login_page(request: Request) -> Response:
    target = safe_next(request.query_params.get("next"))
    if request.method == "GET":
        if request.state.user is not None:
            return see_other(target)
        return render(request, "login.html", {"next": target, "error": "", "email": ""})

    form = await form_values(request)
    email = form.get("email", "").strip()
    password = form.get("password", "")
    target = safe_next(form.get("next"))
    ip = client_ip(request)
    # One message whatever went wrong, so the page never tells which emails exist.
    failure = _("Wrong email or password, or too many attempts. Wait a few minutes and try again.")
    user = None
    if email and password and not login.is_throttled(email, ip):
        user = login.authenticate(email, password, ip)
    if user is None:
        context = {"next": target, "error": failure, "email": email}
        return render(request, "login.html", context, status_code=400)

    login.clear_failures(email, ip)
    return _signed_in(request, user, target)


def _signed_in(request: Request, user: User, target: str) -> Response:
    """Redirect to `target` with a new session for `user`."""
    # Rotation: the visitor's old session (if any) ends and a new token is issued.
    sessions.end_session(request.state.session_token)
    ip = client_ip(request)
    token = sessions.start_session(user, ip=ip, user_agent=request.headers.get("user-agent", ""))
    response = see_other(target)
    settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(sessions.LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )
    return response


async def logout(request: Request) -> Response:
    sessions.end_session(request.state.session_token)
    response = see_other("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


async def forgot_password(request: Request) -> Response:
    """Ask for a reset link; the answer is the same whether the email exists or not."""
    if request.method == "GET":
        sent = request.query_params.get("sent") == "1"
        return render(request, "password_forgot.html", {"sent": sent, "form": {}, "errors": {}})

    raw = await form_values(request)
    errors: dict[str, str] = {}
    try:
        email = fields.normalise_email(raw.get("email", ""))
    except fields.FieldError as problem:
        email, errors["email"] = "", problem.translated()
    if not email and not errors:
        errors["email"] = _("The email is required.")
    if errors:
        context = {"sent": False, "form": raw, "errors": errors}
        return render(request, "password_forgot.html", context, status_code=400)

    found = resets.request_reset(email, client_ip(request))
    response = see_other("/password/forgot?sent=1")
    if found is not None:
        # Sent after the answer, so a known email takes no longer to answer.
        user, token = found
        response.background = BackgroundTask(
            emails.send_link, request.app, user, tokens.RESET, token
        )
    return response


async def new_password(request: Request) -> Response:
    """The page an invitation or reset link opens: choose a password, then you are in."""
    token = request.path_params["token"]
    found = tokens.find(token)
    if found is None:
        return render(request, "password_new.html", {"found": None}, status_code=404)
    errors: dict[str, str] = {}
    if request.method == "POST":
        raw = await form_values(request)
        password = raw.get("password", "")
        errors = people.password_problems(password, "password")
        if not errors and raw.get("repeat", "") != password:
            errors["repeat"] = _("The two passwords differ.")
        if not errors:
            with db.atomic():
                spent = tokens.redeem(token, password)
                if spent is not None:
                    action = (
                        "users.password.reset"
                        if spent.purpose == tokens.RESET
                        else "users.invitation.accepted"
                    )
                    audit.record(action, actor=spent.user, target=spent.user, ip=client_ip(request))
            if spent is None:
                # Used a moment ago in another tab: the same answer as any dead link.
                return render(request, "password_new.html", {"found": None}, status_code=404)
            return _signed_in(request, spent.user, "/")
    context = {"found": found, "errors": errors, "token": token, "min_length": MIN_LENGTH}
    return render(request, "password_new.html", context, status_code=400 if errors else 200)


routes = [
    Route("/login", login_page, methods=["GET", "POST"], name="login"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/password/forgot", forgot_password, methods=["GET", "POST"]),
    Route("/password/new/{token}", new_password, methods=["GET", "POST"]),
]
