"""Saved views of the client list: keep the current filters under a name, or drop them."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import saved_views
from portal.core.listing import ClientFilters
from portal.text import parse_id
from portal.web.rendering import see_other
from portal.web.requests import form_values, permission_required


@permission_required("menu.clients")
async def save_view(request: Request) -> Response:
    raw = await form_values(request)
    view, error = saved_views.save(request.state.user, raw.get("view_name", ""), raw)
    params = ClientFilters.from_params(raw).params()
    if error:
        params["view_error"] = error
    elif view is not None:
        params["view"] = str(view.id)
    return see_other("/clients?" + urlencode(params))


@permission_required("menu.clients")
async def delete_view(request: Request) -> Response:
    saved_views.delete(request.state.user, parse_id(request.path_params["view_id"]))
    return see_other("/clients")


routes = [
    Route("/clients/views", save_view, methods=["POST"]),
    Route("/clients/views/{view_id:id}/delete", delete_view, methods=["POST"]),
]
