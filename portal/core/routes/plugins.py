"""Administration → Plugins: what the portal loaded, from where, and what it answers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.plugins import installed
from portal.web.rendering import render
from portal.web.requests import permission_required


@permission_required("menu.admin.plugins")
async def overview(request: Request) -> Response:
    rows = installed(request.app.state.plugins, request.app.state.settings)
    return render(request, "admin/plugins.html", {"plugins": rows})


routes = [Route("/admin/plugins", overview)]
