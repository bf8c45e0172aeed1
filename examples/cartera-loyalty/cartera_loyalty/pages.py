"""The plugin's pages: the ranking, and the panel on a client's page."""

from __future__ import annotations

import peewee as pw
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cartera_loyalty import points
from cartera_loyalty.models import Award
from portal.core.models import Client
from portal.i18n import N_, UserError
from portal.web.contributions import render_panel
from portal.web.rendering import grants_of, is_fragment_request, render, see_other
from portal.web.requests import (
    client_ip,
    form_values,
    permission_required,
    scope_of,
    visible_client,
)

MENU_KEY = "menu.loyalty"
REDEEM_KEY = "loyalty.redeem"
RANKING_SIZE = 50
# The panel's title: on the client's page, and on the panel opened as a page.
PANEL_TITLE = N_("Loyalty points")
# How the panel names why points moved (`Award.reason`).
REASONS = {
    "visit": N_("Visit logged"),
    "call": N_("Call logged"),
    "email": N_("Email logged"),
    "redeemed": N_("Redeemed"),
}


@permission_required(MENU_KEY)
async def ranking(request: Request) -> Response:
    # One query: only clients the viewer's scope admits, with their balance.
    total = pw.fn.SUM(Award.points)
    rows = (
        scope_of(request)
        .clients(Client.select(Client.id, Client.name, total.alias("points")).join(Award))
        .group_by(Client.id, Client.name)
        .order_by(total.desc(), Client.name, Client.id)
        .limit(RANKING_SIZE)
    )
    return render(request, "loyalty/ranking.html", {"rows": list(rows)})


@permission_required(MENU_KEY)
async def panel(request: Request) -> Response:
    # A client outside the scope answers 404 (visible_client), as in the core.
    client = visible_client(request)
    return _panel(request, client, _panel_context(request, client))


@permission_required(REDEEM_KEY)
async def redeem(request: Request) -> Response:
    client = visible_client(request)
    values = await form_values(request)
    try:
        points.redeem(client, values.get("points", ""), request.state.user, client_ip(request))
    except UserError as error:
        context = _panel_context(request, client, error=error.translated(), form=values)
        return _panel(request, client, context, status_code=400)
    if is_fragment_request(request):
        # htmx swaps the panel in place; a plain form goes back to the client.
        return _panel(request, client, _panel_context(request, client))
    return see_other(f"/clients/{client.id}")


def _panel(request: Request, client: Client, context: dict, status_code: int = 200) -> Response:
    # The fragment for htmx; the panel in the portal's layout for a plain request.
    return render_panel(
        request,
        "loyalty/panel.html",
        context,
        title=PANEL_TITLE,
        client=client,
        status_code=status_code,
    )


def _panel_context(request: Request, client: Client, **extra: object) -> dict:
    latest = (
        Award.select()
        .where(Award.client == client.id)
        .order_by(Award.awarded_at.desc(), Award.id.desc())
        .limit(5)
    )
    return {
        "client": client,
        "balance": points.balance(client.id),
        "latest": list(latest),
        "may_redeem": grants_of(request).has(REDEEM_KEY),
        "reasons": REASONS,
        "error": "",
        "form": {},
        **extra,
    }


routes = [
    Route("/loyalty", ranking, name="loyalty"),
    Route("/loyalty/clients/{client_id:id}", panel, name="loyalty-panel"),
    Route("/loyalty/clients/{client_id:id}/redeem", redeem, methods=["POST"]),
]
