"""Login and logout."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import login, sessions
from portal.i18n import gettext as _
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
    # Rotation: the visitor's old session (if any) ends and a new token is issued.
    sessions.end_session(request.state.session_token)
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


routes = [
    Route("/login", login_page, methods=["GET", "POST"], name="login"),
    Route("/logout", logout, methods=["POST"], name="logout"),
]
