"""What plugins add to pages: client-page panels and home-page widgets.

Both are loaded lazily: the page draws a placeholder that fetches `url` with
htmx once it is on screen, and a plain link to the same URL without
JavaScript. The route behind `url` belongs to the plugin and must check the
visibility scope and the permission itself, like any other page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from portal.i18n import gettext as _
from portal.plugins import collect_safely
from portal.web.rendering import grants_of

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


def _ordered(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda item: (item.order, item.key))
