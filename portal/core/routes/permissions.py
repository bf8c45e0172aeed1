"""Administration → Permissions: the matrix of what each profile may open and do."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import granting
from portal.core.models import Profile
from portal.core.permissions import read_grants
from portal.core.profiles import Reach
from portal.core.routes.profiles import tree_rows
from portal.core.visibility import ProfileTree
from portal.text import parse_id
from portal.web.rendering import grants_of, render, see_other
from portal.web.requests import client_ip, form_values, permission_required


def _matrix(
    request: Request,
    profile_id: int | None,
    tab: str,
    *,
    posted: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    registry = request.app.state.permissions
    tree = ProfileTree.load()
    reach = Reach.of(request.state.user, tree)
    rows = [row for row in tree_rows(tree) if reach.may_change(row[0].id)]
    if tab not in {t.key for t in registry.tabs}:
        raise HTTPException(404)
    profile = None
    if profile_id is not None:
        profile = Profile.get_or_none(Profile.id == profile_id)
        if profile is None or not reach.may_change(profile_id):
            raise HTTPException(404)
    elif rows:
        profile = rows[0][0]

    held = read_grants(profile) if profile is not None else {}
    if posted is not None:
        # Show what was sent, so a refused save loses nothing.
        held = {
            key[len("grant:") :]: posted.get("limit:" + key[len("grant:") :], "")
            for key in posted
            if key.startswith("grant:")
        }
    context = {
        "profiles": rows,
        "profile": profile,
        "tabs": registry.tabs,
        "tab": tab,
        "rows": granting.tab_rows(registry, tab),
        "offered_to": granting.offered_to,
        "held": held,
        "errors": errors or {},
        "saved": request.query_params.get("saved") == "1",
    }
    return render(request, "admin/permissions.html", context, status_code=status_code)


@permission_required("menu.admin.permissions")
async def matrix(request: Request) -> Response:
    profile_id = parse_id(request.query_params.get("profile", ""))
    if request.query_params.get("profile") and profile_id is None:
        raise HTTPException(404)
    return _matrix(request, profile_id, request.query_params.get("tab", "menus"))


@permission_required("menu.admin.permissions")
async def save(request: Request) -> Response:
    profile_id = request.path_params["profile_id"]
    tab = request.path_params["tab"]
    registry = request.app.state.permissions
    profile = Profile.get_or_none(Profile.id == profile_id)
    if profile is None or not Reach.of(request.state.user).may_change(profile_id):
        raise HTTPException(404)
    if tab not in {t.key for t in registry.tabs}:
        raise HTTPException(404)

    posted = await form_values(request)
    rows = granting.tab_rows(registry, tab)
    plan = granting.plan_tab(profile, rows, posted, grants_of(request))
    if plan.errors:
        return _matrix(request, profile_id, tab, posted=posted, errors=plan.errors, status_code=400)
    granting.save_tab(profile, plan, request.state.user, client_ip(request))
    query = urlencode({"profile": profile_id, "tab": tab, "saved": 1})
    return see_other(f"/admin/permissions?{query}")


routes = [
    Route("/admin/permissions", matrix),
    Route("/admin/permissions/{profile_id:id}/{tab:str}", save, methods=["POST"]),
]
