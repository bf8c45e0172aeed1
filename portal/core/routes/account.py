"""The signed-in user's own settings: language, time zone, password."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.config import LANGUAGES
from portal.core import audit, people, sessions, tokens
from portal.core.models import User
from portal.core.passwords import MIN_LENGTH, hash_password, verify_password
from portal.database import db
from portal.i18n import gettext as _
from portal.web.middleware import SESSION_COOKIE
from portal.web.rendering import render, see_other
from portal.web.requests import client_ip, form_values, login_required


@login_required
async def account(request: Request) -> Response:
    user: User = request.state.user
    errors: dict[str, str] = {}
    raw = {"language": user.language, "time_zone": user.time_zone}
    if request.method == "POST":
        raw = await form_values(request)
        language, zone = raw.get("language", ""), raw.get("time_zone", "")
        if language not in ("", *LANGUAGES):
            errors["language"] = _("Choose one of the options.")
        if zone and zone not in people.ZONES:
            errors["time_zone"] = _("Not a known time zone.")
        new_password = raw.get("new_password", "")
        if new_password:
            if not verify_password(user.password_hash, raw.get("current_password", "")):
                errors["current_password"] = _("This is not your current password.")
            if len(new_password) < MIN_LENGTH:
                errors["new_password"] = _("At least %(n)s characters.", n=MIN_LENGTH)
        if not errors:
            changes = {"language": language, "time_zone": zone}
            if new_password:
                changes["password_hash"] = hash_password(new_password)
            with db.atomic():
                User.update(**changes).where(User.id == user.id).execute()
                old = {"language": user.language, "time_zone": user.time_zone}
                before, after = audit.changes(old, {"language": language, "time_zone": zone})
                if after:
                    audit.record(
                        "users.updated", actor=user, target=user, before=before, after=after,
                        ip=client_ip(request),
                    )  # fmt: skip
                if new_password:
                    # Every session and emailed link ends, this session too.
                    sessions.end_all_sessions(user.id)
                    tokens.revoke_all(user.id)
                    audit.record(
                        "users.password.changed", actor=user, target=user, ip=client_ip(request)
                    )
            response = see_other("/account?saved=1")
            if new_password:
                response = see_other("/login")
                response.delete_cookie(SESSION_COOKIE)
            return response
    context = {
        "form": raw,
        "errors": errors,
        "languages": LANGUAGES,
        "zones": sorted(people.ZONES),
        "saved": request.query_params.get("saved") == "1",
    }
    return render(request, "account.html", context, status_code=400 if errors else 200)


routes = [Route("/account", account, methods=["GET", "POST"])]
