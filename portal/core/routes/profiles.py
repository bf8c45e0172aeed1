"""Administration → Profiles: the tree, a profile's page, removal and the export."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import exporting, people
from portal.core import profiles as admin
from portal.core.models import PROFILE_KINDS, Profile
from portal.core.visibility import ProfileTree
from portal.i18n import gettext as _
from portal.web.rendering import render, see_other
from portal.web.requests import client_ip, form_values, permission_required

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def tree_rows(tree: ProfileTree | None = None) -> list[tuple[Profile, int, int]]:
    """Profiles in tree order with their depth and number of users."""
    profiles = {p.id: p for p in Profile.select()}
    tree = tree or ProfileTree.load()
    counts = tree.users
    rows: list[tuple[Profile, int, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        children = sorted(tree.children.get(parent, ()), key=lambda i: profiles[i].name)
        for child in children:
            rows.append((profiles[child], depth, counts.get(child, 0)))
            walk(child, depth + 1)

    walk(None, 0)
    return rows


def _profile(request: Request) -> Profile:
    profile = Profile.get_or_none(Profile.id == request.path_params["profile_id"])
    if profile is None:
        raise HTTPException(404)
    return profile


def _refuse_outside(reach: admin.Reach, profile: Profile) -> None:
    if not reach.may_change(profile.id):
        raise HTTPException(403, _("You may change only the profiles below your own."))


@permission_required("menu.admin.profiles")
async def profile_list(request: Request) -> Response:
    collapsed = request.query_params.get("collapsed") == "1"
    context = {"roots": admin.tree(), "collapsed": collapsed}
    return render(request, "admin/profiles.html", context)


def _form_context(reach: admin.Reach, profile: Profile | None) -> dict:
    """The choices of the form: only parents the editor may use, never a cycle."""
    rows = tree_rows()
    tree = ProfileTree.load()
    beneath = (tree.below(profile.id) | {profile.id}) if profile is not None else set()
    parents = [row for row in rows if row[0].id not in beneath and reach.may_place_under(row[0].id)]
    return {"kinds": PROFILE_KINDS, "parents": parents, "top_allowed": reach.everything}


async def _posted(
    request: Request, reach: admin.Reach, profile: Profile | None
) -> tuple[dict, dict, dict]:
    raw = await form_values(request)
    values, errors = people.validate_profile(raw, profile)
    admin.check_reach(reach, values, errors, profile)
    return raw, values, errors


@permission_required("menu.admin.profiles")
async def profile_new(request: Request) -> Response:
    user = request.state.user
    reach = admin.Reach.of(user)
    if request.method == "GET":
        raw = {"kind": "hierarchical", "parent": "" if reach.everything else str(reach.own)}
        errors: dict[str, str] = {}
    else:
        raw, values, errors = await _posted(request, reach, None)
        if not errors:
            admin.create_profile(values, user, client_ip(request))
            return see_other("/admin/profiles")
    context = {"form": raw, "errors": errors, **_form_context(reach, None)}
    status = 400 if errors else 200
    return render(request, "admin/profile_form.html", context, status_code=status)


@permission_required("menu.admin.profiles")
async def profile_detail(request: Request) -> Response:
    """The profile's page: its form (when the editor may change it), users, permissions."""
    profile = _profile(request)
    user = request.state.user
    reach = admin.Reach.of(user)
    errors: dict[str, str] = {}
    raw = {
        "name": profile.name,
        "kind": profile.kind,
        "parent": str(profile.parent_id or ""),
        "is_assistant": "on" if profile.is_assistant else "",
    }
    if request.method == "POST":
        _refuse_outside(reach, profile)
        raw, values, errors = await _posted(request, reach, profile)
        if not errors:
            admin.update_profile(profile, values, user, client_ip(request))
            return see_other(f"/admin/profiles/{profile.id}?saved=1")
    context = {
        "profile": profile,
        "form": raw,
        "errors": errors,
        "editable": reach.may_change(profile.id),
        "saved": request.query_params.get("saved") == "1",
        "members": admin.dependants(profile).users,
        "held": admin.held_by_tab(request.app.state.permissions, profile),
        **_form_context(reach, profile),
    }
    status = 400 if errors else 200
    return render(request, "admin/profile_detail.html", context, status_code=status)


@permission_required("menu.admin.profiles")
async def profile_delete(request: Request) -> Response:
    """A confirmation first; refused, and nothing changed, while anything depends on it."""
    profile = _profile(request)
    _refuse_outside(admin.Reach.of(request.state.user), profile)
    blocking = admin.dependants(profile)
    if request.method == "POST" and not blocking:
        blocking = admin.delete_profile(profile, request.state.user, client_ip(request))
        if blocking is None:
            return see_other("/admin/profiles")
    status = 409 if request.method == "POST" else 200
    context = {"profile": profile, "blocking": blocking}
    return render(request, "admin/profile_delete.html", context, status_code=status)


@permission_required("menu.admin.profiles")
async def profile_export(request: Request) -> Response:
    headers, rows = admin.export_table(request.app.state.permissions)
    body = exporting.write_table_xlsx(headers, rows, _("Profiles"))
    disposition = {"content-disposition": 'attachment; filename="profiles.xlsx"'}
    return Response(body, media_type=XLSX, headers=disposition)


routes = [
    Route("/admin/profiles", profile_list),
    Route("/admin/profiles/new", profile_new, methods=["GET", "POST"]),
    Route("/admin/profiles/export.xlsx", profile_export),
    Route("/admin/profiles/{profile_id:id}", profile_detail, methods=["GET", "POST"]),
    Route("/admin/profiles/{profile_id:id}/delete", profile_delete, methods=["GET", "POST"]),
]
