"""Administration → Users."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.config import LANGUAGES
from portal.core import people
from portal.core.models import Profile, User
from portal.core.routes.profiles import tree_rows
from portal.web.rendering import render, see_other
from portal.web.requests import form_values, permission_required


@permission_required("menu.admin.users")
async def user_list(request: Request) -> Response:
    users = list(
        User.select(User, Profile).join(Profile).order_by(User.is_active.desc(), User.name)
    )
    return render(request, "admin/users.html", {"users": users})


async def _user_form(request: Request, user: User | None) -> Response:
    if request.method == "GET":
        raw = {"is_active": "on", "language": "", "time_zone": ""}
        if user is not None:
            raw = {
                "name": user.name,
                "email": user.email,
                "profile": str(user.profile_id),
                "language": user.language,
                "time_zone": user.time_zone,
                "is_active": "on" if user.is_active else "",
                "is_admin": "on" if user.is_admin else "",
            }
        errors: dict[str, str] = {}
    else:
        raw = await form_values(request)
        values, errors = people.validate_user(raw, user)
        if not request.state.user.is_admin:
            # TODO: refuse with a message (and limit profiles to those below the
            # editor's own) once delegated user administration is finished.
            values["is_admin"] = user.is_admin if user is not None else False
        if user is not None and user.id == request.state.user.id:
            # Nobody locks themselves out by accident.
            values["is_active"], values["is_admin"] = True, True
        if not errors:
            people.save_user(user, values)
            return see_other("/admin/users")
    context = {
        "edited": user,
        "form": raw,
        "errors": errors,
        "profiles": [row[0] for row in tree_rows()],
        "languages": LANGUAGES,
        "zones": sorted(people.ZONES),
    }
    return render(request, "admin/user_form.html", context, status_code=400 if errors else 200)


@permission_required("menu.admin.users")
async def user_new(request: Request) -> Response:
    return await _user_form(request, None)


@permission_required("menu.admin.users")
async def user_edit(request: Request) -> Response:
    user = User.get_or_none(User.id == request.path_params["user_id"])
    if user is None:
        raise HTTPException(404)
    return await _user_form(request, user)


routes = [
    Route("/admin/users", user_list),
    Route("/admin/users/new", user_new, methods=["GET", "POST"]),
    Route("/admin/users/{user_id:id}", user_edit, methods=["GET", "POST"]),
]
