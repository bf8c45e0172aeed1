"""What plugins add to pages: client-page panels and home-page widgets.

Both are loaded lazily: the page draws a placeholder that fetches `url` with
htmx once it is on screen, and a plain link to the same URL without
JavaScript. The route behind `url` belongs to the plugin and must check the
visibility scope and the permission itself, like any other page.
"""

from __future__ import annotations

from dataclasses import dataclass


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
