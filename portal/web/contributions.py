"""What plugins add to pages: client-page panels and home-page widgets.

Both are loaded lazily: the page draws a placeholder that fetches `url` with
htmx once it is on screen, and a plain link to the same URL without
JavaScript. The route behind `url` belongs to the plugin and must check the
visibility scope and the permission itself, like any other page; it answers
through `render_panel`, which serves both the placeholder and the link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from portal.i18n import gettext as _
from portal.plugins import collect_safely
from portal.web.rendering import grants_of, is_fragment_request, render

if TYPE_CHECKING:
    from portal.core.models import Client


@dataclass(frozen=True)
class Panel:
    """A panel on a client's page; `url` answers an HTML fragment for that client."""

    key: str  # unique across plugins: "loyalty.points"
    title: str  # a msgid, translated where it is shown
    url: str
    order: int = 100


@dataclass(frozen=True)
class Widget:
    """A widget on the home page; `url` answers an HTML fragment for the viewer."""

    key: str  # unique across plugins: "objectives.progress"
    title: str  # a msgid, translated where it is shown
    url: str
    size: str = "half"  # "half" or "full" width on a wide screen; phones stack them
    order: int = 100


@dataclass(frozen=True)
class Placeholder:
    """A panel or widget as the page draws it: the title already translated."""

    key: str
    title: str  # translated; plain text, escaped where it is shown
    url: str
    size: str = "full"


def client_panels(request: Request, client: Client) -> list[Placeholder]:
    """The panels the plugins offer on `client`'s page, for the current user.

    A plugin whose hook fails is logged by name and its panels are left out.
    """
    hook = request.app.state.plugins.hook.client_panels
    user = request.state.user
    found = collect_safely(hook, client=client, user=user, grants=grants_of(request))
    return [Placeholder(p.key, _(p.title), p.url) for p in _ordered(found)]


def dashboard_widgets(request: Request) -> list[Placeholder]:
    """The widgets the plugins offer on the current user's home page."""
    hook = request.app.state.plugins.hook.dashboard_widgets
    found = collect_safely(hook, user=request.state.user, grants=grants_of(request))
    return [Placeholder(w.key, _(w.title), w.url, w.size) for w in _ordered(found)]


def render_panel(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    title: str,
    client: Client | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Answer a panel's or widget's URL: the fragment to htmx, a page otherwise.

    `template` holds the fragment alone. htmx, filling the placeholder, gets
    just that. The plain link followed without JavaScript gets it inside the
    portal's layout, under `title` (the msgid the hook gave the panel), with a
    link back to `client`'s page for a client panel or to the home page for a
    widget. `client` comes from `visible_client(request)`, so a client outside
    the viewer's scope has answered 404 before this is called.
    """
    if is_fragment_request(request):
        return render(request, template, context, status_code=status_code)
    # Prefixed names: the fragment sees the page's context too, and may have
    # a `client` or a `title` of its own.
    page = {
        **(context or {}),
        "panel_template": template,
        "panel_title": _(title),
        "panel_client": client,
    }
    return render(request, "panel_page.html", page, status_code=status_code)


def _ordered(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda item: (item.order, item.key))
