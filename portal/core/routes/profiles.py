"""Administration → Profiles: the tree of profiles the visibility follows."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import people
from portal.core.models import PROFILE_KINDS, Profile
from portal.core.visibility import ProfileTree
from portal.web.rendering import render, see_other
from portal.web.requests import form_values, permission_required


def tree_rows() -> list[tuple[Profile, int, int]]:
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


@permission_required("menu.admin.profiles")
async def profile_list(request: Request) -> Response:
    return render(request, "admin/profiles.html", {"rows": tree_rows()})


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
        "parents": [row for row in tree_rows() if profile is None or row[0].id != profile.id],
    }
    return render(request, "admin/profile_form.html", context, status_code=400 if errors else 200)


@permission_required("menu.admin.profiles")
async def profile_new(request: Request) -> Response:
    return await _profile_form(request, None)


@permission_required("menu.admin.profiles")
async def profile_edit(request: Request) -> Response:
    profile = Profile.get_or_none(Profile.id == request.path_params["profile_id"])
    if profile is None:
        raise HTTPException(404)
    return await _profile_form(request, profile)


routes = [
    Route("/admin/profiles", profile_list),
    Route("/admin/profiles/new", profile_new, methods=["GET", "POST"]),
    Route("/admin/profiles/{profile_id:id}", profile_edit, methods=["GET", "POST"]),
]
