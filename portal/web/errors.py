"""Error pages that keep the layout and never reveal whether a record exists."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from portal.i18n import N_
from portal.i18n import gettext as _
from portal.web.rendering import render

_TITLES = {
    400: N_("Bad request"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    413: N_("Upload too large"),
}
# Named apart: pybabel misses a marker nested inside the `_()` call below.
_OTHER_TITLE = N_("Error")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    title = _(_TITLES.get(exc.status_code, _OTHER_TITLE))
    detail = exc.detail if exc.status_code in (400, 403, 413) else ""
    if "user" not in request.state._state:
        return Response(title, status_code=exc.status_code)
    return render(
        request,
        "error.html",
        {"title": title, "detail": detail},
        status_code=exc.status_code,
    )


handlers = {HTTPException: http_error}
