"""Administration: profiles and users (the minimum the visibility needs)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.config import LANGUAGES
from portal.core import people
from portal.core.models import PROFILE_KINDS, Profile, User
from portal.core.visibility import ProfileTree
from portal.web.rendering import render, see_other
from portal.web.requests import admin_required, form_values


def _tree_rows() -> list[tuple[Profile, int, int]]:
    """Profiles in tree order with their depth and number of users."""
    profiles = {p.id: p for p in Profile.select()}
    tree = ProfileTree.load()
    counts = tree.users
    rows: list[tuple[Profile, int, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        children = sorted(tree.children.get(parent, ()), key=lambda i: profiles[i].name)
        for child in children:
            rows.append((profiles[child], depth, counts.get(child, 0)))
            walk(child, depth + 1)

    walk(None, 0)
    return rows


@admin_required
async def profile_list(request: Request) -> Response:
    return render(request, "admin/profiles.html", {"rows": _tree_rows()})


async def _profile_form(request: Request, profile: Profile | None) -> Response:
    if request.method == "GET":
        raw = {"kind": "hierarchical"}
        if profile is not None:
            raw = {
                "name": profile.name,
                "kind": profile.kind,
                "parent": str(profile.parent_id or ""),
                "is_assistant": "on" if profile.is_assistant else "",
            }
        errors: dict[str, str] = {}
    else:
        raw = await form_values(request)
        values, errors = people.validate_profile(raw, profile)
        if not errors:
            if profile is None:
                profile = Profile.create(**values)
            else:
                Profile.update(**values).where(Profile.id == profile.id).execute()
            return see_other("/admin/profiles")
    context = {
        "profile": profile,
        "form": raw,
        "errors": errors,
        "kinds": PROFILE_KINDS,
        "parents": [row for row in _tree_rows() if profile is None or row[0].id != profile.id],
    }
    return render(request, "admin/profile_form.html", context, status_code=400 if errors else 200)


@admin_required
async def profile_new(request: Request) -> Response:
    return await _profile_form(request, None)


@admin_required
async def profile_edit(request: Request) -> Response:
    profile = Profile.get_or_none(Profile.id == request.path_params["profile_id"])
    if profile is None:
        raise HTTPException(404)
    return await _profile_form(request, profile)


@admin_required
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
        "profiles": [row[0] for row in _tree_rows()],
        "languages": LANGUAGES,
        "zones": sorted(people.ZONES),
    }
    return render(request, "admin/user_form.html", context, status_code=400 if errors else 200)


@admin_required
async def user_new(request: Request) -> Response:
    return await _user_form(request, None)


@admin_required
async def user_edit(request: Request) -> Response:
    user = User.get_or_none(User.id == request.path_params["user_id"])
    if user is None:
        raise HTTPException(404)
    return await _user_form(request, user)


routes = [
    Route("/admin/profiles", profile_list),
    Route("/admin/profiles/new", profile_new, methods=["GET", "POST"]),
    Route("/admin/profiles/{profile_id:id}", profile_edit, methods=["GET", "POST"]),
    Route("/admin/users", user_list),
    Route("/admin/users/new", user_new, methods=["GET", "POST"]),
    Route("/admin/users/{user_id:id}", user_edit, methods=["GET", "POST"]),
]
