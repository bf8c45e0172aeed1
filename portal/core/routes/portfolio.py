"""Administration → Zones and segments: the rules that place clients in portfolios."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import portfolio
from portal.core.models import Zone
from portal.web.rendering import render, see_other
from portal.web.requests import client_ip, form_values, permission_required


def _rule_form(rule: portfolio.SegmentRule) -> dict[str, str]:
    def text(value: object) -> str:
        return "" if value is None else str(value)

    return {"basis": rule.basis, "large": text(rule.large), "medium": text(rule.medium)}


def _overview(request: Request, rule_form: dict, rule_errors: dict, status: int = 200) -> Response:
    zones = portfolio.zones()
    context = {
        "zones": zones,
        "counts": {zone.id: portfolio.clients_in(zone) for zone in zones},
        "rule_form": rule_form,
        "rule_errors": rule_errors,
        "bases": portfolio.SEGMENT_BASES,
    }
    return render(request, "admin/portfolio.html", context, status_code=status)


@permission_required("menu.admin.portfolio")
async def overview(request: Request) -> Response:
    return _overview(request, _rule_form(portfolio.segment_rule()), {})


@permission_required("menu.admin.portfolio")
async def segment_rule(request: Request) -> Response:
    raw = await form_values(request)
    rule, errors = portfolio.validate_rule(raw)
    if errors:
        return _overview(request, raw, errors, status=400)
    portfolio.save_rule(rule, actor=request.state.user, ip=client_ip(request))
    return see_other("/admin/portfolio/reapply")


@permission_required("menu.admin.portfolio")
async def reapply(request: Request) -> Response:
    """Show what placing every client by the rules would change, then do it."""
    rule, zones = portfolio.segment_rule(), portfolio.zones()
    if request.method == "GET":
        pending = portfolio.pending_changes(rule, zones)
        context = {"pending": pending, "done": None}
        return render(request, "admin/portfolio_reapply.html", context)
    done = portfolio.reapply(rule, zones, actor=request.state.user, ip=client_ip(request))
    return render(request, "admin/portfolio_reapply.html", {"pending": None, "done": done})


def _zone(request: Request) -> Zone:
    zone = Zone.get_or_none(Zone.id == request.path_params["zone_id"])
    if zone is None:
        raise HTTPException(404)
    return zone


async def _zone_form(request: Request, zone: Zone | None) -> Response:
    raw: dict[str, str] = {}
    if zone is not None:
        raw = {
            "name": zone.name,
            "postal_prefixes": zone.postal_prefixes,
            "countries": zone.countries,
            "position": str(zone.position),
        }
    errors: dict[str, str] = {}
    if request.method == "POST":
        raw = await form_values(request)
        values, errors = portfolio.validate_zone(raw, zone)
        if not errors:
            portfolio.save_zone(zone, values, actor=request.state.user, ip=client_ip(request))
            return see_other("/admin/portfolio")
    context = {"zone": zone, "form": raw, "errors": errors}
    return render(request, "admin/zone_form.html", context, status_code=400 if errors else 200)


@permission_required("menu.admin.portfolio")
async def zone_new(request: Request) -> Response:
    return await _zone_form(request, None)


@permission_required("menu.admin.portfolio")
async def zone_edit(request: Request) -> Response:
    return await _zone_form(request, _zone(request))


@permission_required("menu.admin.portfolio")
async def zone_delete(request: Request) -> Response:
    zone = _zone(request)
    if request.method == "GET":
        context = {"zone": zone, "uses": portfolio.clients_in(zone)}
        return render(request, "admin/zone_delete.html", context)
    portfolio.delete_zone(zone, actor=request.state.user, ip=client_ip(request))
    return see_other("/admin/portfolio")


routes = [
    Route("/admin/portfolio", overview),
    Route("/admin/portfolio/segments", segment_rule, methods=["POST"]),
    Route("/admin/portfolio/reapply", reapply, methods=["GET", "POST"]),
    Route("/admin/zones/new", zone_new, methods=["GET", "POST"]),
    Route("/admin/zones/{zone_id:id}", zone_edit, methods=["GET", "POST"]),
    Route("/admin/zones/{zone_id:id}/delete", zone_delete, methods=["GET", "POST"]),
]
