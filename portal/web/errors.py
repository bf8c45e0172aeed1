"""Error pages that keep the layout and never reveal whether a record exists."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from portal.i18n import gettext as _
from portal.web.rendering import render

_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    413: "Upload too large",
}


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    title = _(_TITLES.get(exc.status_code, "Error"))
    detail = exc.detail if exc.status_code in (400, 413) else ""
    if "user" not in request.state._state:
        return Response(title, status_code=exc.status_code)
    return render(
        request,
        "error.html",
        {"title": title, "detail": detail},
        status_code=exc.status_code,
    )


handlers = {HTTPException: http_error}
