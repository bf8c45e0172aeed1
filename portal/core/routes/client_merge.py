"""Merging two clients: pick the other client, choose the values, confirm, merge."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import listing, merging, restrictions
from portal.core.models import Client, ClientMerge, User
from portal.core.visibility import Scope
from portal.plugins import known_models
from portal.text import clean, parse_id
from portal.web.rendering import grants_of, render, see_other
from portal.web.requests import client_ip, form_values, permission_required, scope_of

CANDIDATES = 10
CHOICES, CONFIRMATION = "clients/merge.html", "clients/merge_confirm.html"


def candidates(scope: Scope, q: str, survivor_id: int) -> list[Client]:
    """Clients matching `q` that the user may merge into the survivor."""
    if not q:
        return []
    columns = Client.select(Client.id, Client.name, Client.city)
    query = listing.filtered_clients(scope, listing.ClientFilters(q=q[:100]), columns)
    query = scope.changeable(query).where(Client.id != survivor_id, Client.erased_at.is_null())
    return list(query.order_by(Client.sort_name, Client.id).limit(CANDIDATES))


def merged_into(scope: Scope, client_id: int) -> int | None:
    """The survivor a merged-away client leads to, if this user may see it."""
    if Client.select().where(Client.id == client_id).exists():
        return None
    found = ClientMerge.get_or_none(ClientMerge.merged_id == client_id)
    if found is None or scope.client_or_none(found.survivor_id) is None:
        return None
    return found.survivor_id


def _changeable(scope: Scope, client_id: object) -> Client:
    client = scope.client_or_none(client_id, to_change=True)
    if client is None:
        raise HTTPException(404)
    return client


def _page(
    request: Request, template: str, merge_plan: merging.Plan, *, status_code: int = 200,
    conflict: bool = False,
) -> Response:  # fmt: skip
    """The side-by-side choices, or the confirmation before merging."""
    survivor, other = merge_plan.survivor, merge_plan.other
    models = known_models(request.app.state.plugins)
    owners = User.select(User.id, User.name).where(User.id.in_({survivor.owner_id, other.owner_id}))
    context = {
        "plan": merge_plan,
        "survivor": survivor,
        "other": other,
        "fields": merging.differing(survivor, other),
        "owners": {owner.id: owner.name for owner in owners},
        "locked": restrictions.locked_fields(grants_of(request)),
        "moving": merging.summary(models, survivor.id, other.id),
        "conflict": conflict,
    }
    return render(request, template, context, status_code=status_code)


@permission_required("menu.clients")
@permission_required("clients.merge")
async def client_merge(request: Request) -> Response:
    scope = scope_of(request)
    survivor = _changeable(scope, request.path_params["client_id"])
    grants = grants_of(request)
    if request.method == "GET":
        other_id = request.query_params.get("with", "")
        if not other_id:
            q = clean(request.query_params.get("q", ""))
            context = {"client": survivor, "q": q, "matches": candidates(scope, q, survivor.id)}
            return render(request, "clients/merge_pick.html", context, block="candidates")
        other = _changeable(scope, other_id)
        if other.id == survivor.id:
            raise HTTPException(404)
        return _page(request, CHOICES, merging.plan(survivor, other, grants, scope))

    raw = await form_values(request)
    other = _changeable(scope, raw.get("with", ""))
    if other.id == survivor.id:
        raise HTTPException(404)
    seen = (parse_id(raw.get("version", "")), parse_id(raw.get("other_version", "")))
    if seen != (survivor.version, other.version):
        fresh = merging.plan(survivor, other, grants, scope)
        return _page(request, CHOICES, fresh, conflict=True, status_code=409)
    merge_plan = merging.plan(survivor, other, grants, scope, raw)
    if not merge_plan.ok:
        return _page(request, CHOICES, merge_plan, status_code=400)
    if raw.get("step") != "merge":
        return _page(request, CONFIRMATION, merge_plan)

    try:
        merging.merge(
            merge_plan,
            request.app.state.plugins,
            survivor_version=survivor.version,
            other_version=other.version,
            actor=request.state.user,
            ip=client_ip(request),
        )
    except merging.Conflict:
        survivor = _changeable(scope, survivor.id)
        other = _changeable(scope, other.id)
        fresh = merging.plan(survivor, other, grants, scope)
        return _page(request, CHOICES, fresh, conflict=True, status_code=409)
    return see_other(f"/clients/{survivor.id}?merged=1")


routes = [
    Route("/clients/{client_id:id}/merge", client_merge, methods=["GET", "POST"]),
]
