"""Opportunities: the board, moving a card, the form, the funnel, the client's panel.

Every look-up goes through `Scope.opportunities`: an opportunity whose owner
the user's scope does not cover answers 404 whatever the verb.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import board, funnel, listing, pipelines
from portal.core.models import Client, Opportunity, Pipeline, Stage, User
from portal.i18n import N_, UserError, current_zone, local_today
from portal.text import clean, parse_id
from portal.web.rendering import grants_of, is_fragment_request, render, safe_next, see_other
from portal.web.requests import (
    client_ip,
    form_values,
    permission_required,
    scope_of,
    visible_client,
)


def _opportunity(request: Request) -> Opportunity:
    found = scope_of(request).opportunity_or_none(request.path_params["opportunity_id"])
    if found is None:
        raise HTTPException(404)
    return found


def _board_url(pipeline: Pipeline, owner: User | None) -> str:
    params = {"pipeline": pipeline.id, **({"owner": owner.id} if owner else {})}
    return "/opportunities?" + urlencode(params)


# ------------------------------------------------------------------ the board


def _board_context(
    request: Request,
    pipeline: Pipeline,
    owner: User | None,
    errors: dict | None = None,
    *,
    only: set[int] | None = None,
    chosen: dict[int, int] | None = None,
) -> dict:
    """What the board shows; with `only`, just those columns (an htmx move's answer).

    `chosen` is the stage picked for a card whose move was refused, kept in its
    selector so that giving the reason is all that is left to do.
    """
    scope = scope_of(request)
    today = local_today()
    columns = board.columns(scope, pipeline, today, owner=owner.id if owner else None, only=only)
    return {
        "pipeline": pipeline,
        "pipelines": []
        if only
        else [(p.id, pipelines.label(p)) for p in pipelines.all_pipelines()],
        "columns": columns,
        "owners": [] if only else scope.owner_choices(),
        "owner": owner,
        "stage_options": _stage_options(pipeline),
        "card_errors": errors or {},
        "card_stages": chosen or {},
        "closed_days": board.CLOSED_DAYS,
        "back": _board_url(pipeline, owner),
        "oob": False,
    }


def _stage_options(pipeline: Pipeline) -> list[tuple[int, str]]:
    return [(stage.id, pipelines.label(stage)) for stage in pipelines.stages_of(pipeline)]


@permission_required("menu.opportunities")
async def opportunity_board(request: Request) -> Response:
    pipeline = pipelines.pipeline_or_default(request.query_params.get("pipeline"))
    if pipeline is None:
        raise HTTPException(404)
    owner = board.owner_of(scope_of(request), request.query_params.get("owner"))
    context = _board_context(request, pipeline, owner)
    return render(request, "opportunities/board.html", context, block="board")


@permission_required("opportunities.edit")
async def opportunity_move(request: Request) -> Response:
    """Put a card in another stage: a drag (htmx) or the card's own form."""
    opportunity = _opportunity(request)
    raw = await form_values(request)
    scope = scope_of(request)
    pipeline = Pipeline.get_by_id(opportunity.pipeline_id)
    owner = board.owner_of(scope, raw.get("filter_owner"))
    stage = Stage.get_or_none(
        Stage.id == (parse_id(raw.get("stage", "")) or 0), Stage.pipeline == pipeline.id
    )
    previous = opportunity.stage_id
    errors = {}
    try:
        if stage is None:
            raise UserError(N_("Choose one of the options."))
        pipelines.change_stage(
            opportunity, stage, lost_reason=raw.get("lost_reason", ""),
            actor=request.state.user, ip=client_ip(request),
        )  # fmt: skip
    except UserError as error:
        errors = {opportunity.id: error.translated()}
    chosen = {opportunity.id: stage.id} if errors and stage is not None else {}

    if not is_fragment_request(request):
        if errors:
            context = _board_context(request, pipeline, owner, errors, chosen=chosen)
            return render(request, "opportunities/board.html", context, status_code=400)
        return see_other(_board_url(pipeline, owner))
    # A fragment: the columns the card left and entered, swapped in where they are.
    touched = {previous, opportunity.stage_id}
    context = _board_context(request, pipeline, owner, errors, only=touched, chosen=chosen)
    context["oob"] = True
    status = 400 if errors else 200
    return render(request, "opportunities/_columns.html", context, status_code=status)


# ------------------------------------------------------------------- the form


def _render_form(
    request: Request,
    client: Client,
    raw: dict[str, str],
    errors: dict[str, str],
    *,
    opportunity: Opportunity | None = None,
    conflict: bool = False,
    status_code: int = 200,
) -> Response:
    scope = scope_of(request)
    owners = list(scope.may_own().select(User.id, User.name).order_by(User.name, User.id))
    if opportunity is not None and all(o.id != opportunity.owner_id for o in owners):
        owners.insert(0, User.get_by_id(opportunity.owner_id))
    if opportunity is None:
        stages = pipelines.all_stages()
    else:
        stages = [s for s in pipelines.all_stages() if s.pipeline_id == opportunity.pipeline_id]
    groups: dict[str, list[tuple[int, str]]] = {}
    for stage in stages:
        groups.setdefault(pipelines.label(stage.pipeline), []).append(
            (stage.id, pipelines.label(stage))
        )
    context = {
        "client": client,
        "opportunity": opportunity,
        "form": raw,
        "errors": errors,
        "conflict": conflict,
        "stage_groups": groups,
        "owners": [(o.id, o.name) for o in owners],
        "sources": [(code, text) for code, text in pipelines.SOURCES.items()],
        "next": safe_next(raw.get("next"), f"/clients/{client.id}#opportunities"),
    }
    return render(request, "opportunities/form.html", context, status_code=status_code)


# How many clients the board's "New opportunity" search offers.
CLIENT_CHOICES = 20


@permission_required("opportunities.edit")
async def opportunity_pick_client(request: Request) -> Response:
    """From the board: find the client the new opportunity is for (any the user sees)."""
    q = clean(request.query_params.get("q", ""))[:100]
    matches = []
    if q:
        columns = Client.select(Client.id, Client.name, Client.city)
        query = listing.filtered_clients(scope_of(request), listing.ClientFilters(q=q), columns)
        matches = list(query.order_by(Client.sort_name, Client.id).limit(CLIENT_CHOICES))
    back = safe_next(request.query_params.get("next"), "/opportunities")
    context = {"q": q, "matches": matches, "next": back}
    return render(request, "opportunities/pick_client.html", context)


@permission_required("opportunities.edit")
async def opportunity_new(request: Request) -> Response:
    client = visible_client(request)
    scope = scope_of(request)
    if request.method == "GET":
        first = pipelines.pipeline_or_default(request.query_params.get("pipeline"))
        stages = pipelines.stages_of(first) if first else []
        owner = request.state.user.id if scope.owns else client.owner_id
        raw = {
            "stage": str(stages[0].id) if stages else "",
            "owner": str(owner),
            "next": request.query_params.get("next", ""),
        }
        return _render_form(request, client, raw, {})
    raw = await form_values(request)
    form = pipelines.validate(raw, scope, pipelines.all_stages())
    if not form.ok:
        return _render_form(request, client, raw, form.errors, status_code=400)
    pipelines.create_opportunity(client, form, actor=request.state.user, ip=client_ip(request))
    return see_other(safe_next(raw.get("next"), f"/clients/{client.id}#opportunities"))


@permission_required("opportunities.edit")
async def opportunity_edit(request: Request) -> Response:
    opportunity = _opportunity(request)
    client = Client.get_by_id(opportunity.client_id)
    if request.method == "GET":
        raw = {**pipelines.form_from(opportunity), "next": request.query_params.get("next", "")}
        return _render_form(request, client, raw, {}, opportunity=opportunity)
    raw = await form_values(request)
    stages = pipelines.stages_of(opportunity.pipeline_id)
    form = pipelines.validate(raw, scope_of(request), stages, current=opportunity)
    if not form.ok:
        return _render_form(
            request, client, raw, form.errors, opportunity=opportunity, status_code=400
        )
    saved = pipelines.update_opportunity(
        opportunity, form, raw.get("updated", ""),
        actor=request.state.user, ip=client_ip(request),
    )  # fmt: skip
    if not saved:
        return _render_form(
            request, client, raw, {}, opportunity=opportunity, conflict=True, status_code=409
        )
    return see_other(safe_next(raw.get("next"), f"/clients/{client.id}#opportunities"))


@permission_required("opportunities.edit")
async def opportunity_delete(request: Request) -> Response:
    opportunity = _opportunity(request)
    client = Client.get_by_id(opportunity.client_id)
    back = safe_next(request.query_params.get("next"), f"/clients/{client.id}#opportunities")
    if request.method == "GET":
        context = {"opportunity": opportunity, "client": client, "next": back}
        return render(request, "opportunities/delete.html", context)
    pipelines.delete_opportunity(opportunity, actor=request.state.user, ip=client_ip(request))
    return see_other(back)


def client_panel(request: Request, client: Client) -> dict:
    """The client page's list of the opportunities the user may see on it."""
    if not grants_of(request).has("menu.opportunities"):
        return {"opportunities": None}
    query = (
        Opportunity.select(Opportunity, Stage, User.id, User.name)
        .join(Stage, on=(Opportunity.stage == Stage.id))
        .switch(Opportunity)
        .join(User, on=(Opportunity.owner == User.id))
        .where(Opportunity.client == client.id)
        .order_by(Opportunity.status != "open", Opportunity.created_at.desc())
    )
    rows = list(scope_of(request).opportunities(query))
    for row in rows:
        row.stage_name = pipelines.label(row.stage)
    return {"opportunities": rows}


# ----------------------------------------------------------------- the funnel


@permission_required("menu.opportunities.funnel")
async def opportunity_funnel(request: Request) -> Response:
    scope = scope_of(request)
    params = request.query_params
    pipeline = pipelines.pipeline_or_default(params.get("pipeline"))
    if pipeline is None:
        raise HTTPException(404)
    days = parse_id(params.get("days", "365"))
    days = days if days in funnel.PERIODS else None
    since = None
    if days is not None:
        start = local_today() - timedelta(days=days)
        local = datetime.combine(start, time(0), ZoneInfo(current_zone.get()))
        since = local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    by_owner, stages = funnel.tallies(scope, pipeline, since)
    rows, total = funnel.rows_for(scope, by_owner)

    # The stage table: the whole scope, or one row's person (alone or with team).
    chosen = {row.user.id: row for row in rows}.get(parse_id(params.get("user")) or 0)
    team = params.get("team") == "1"
    shown = total
    if chosen is not None:
        shown = chosen.team if team and chosen.team is not None else chosen.own
    context = {
        "pipeline": pipeline,
        "pipelines": [(p.id, pipelines.label(p)) for p in pipelines.all_pipelines()],
        "days": days,
        "periods": funnel.PERIODS,
        "rows": rows,
        "total": total,
        "chosen": chosen,
        "team": team and chosen is not None and chosen.team is not None,
        "stages": funnel.stage_figures(shown, stages),
        "shown": shown,
    }
    return render(request, "opportunities/funnel.html", context)


routes = [
    Route("/opportunities", opportunity_board, name="opportunities"),
    Route("/opportunities/funnel", opportunity_funnel, name="funnel"),
    Route("/opportunities/new", opportunity_pick_client),
    Route("/opportunities/{opportunity_id:id}/move", opportunity_move, methods=["POST"]),
    Route("/opportunities/{opportunity_id:id}/edit", opportunity_edit, methods=["GET", "POST"]),
    Route("/opportunities/{opportunity_id:id}/delete", opportunity_delete, methods=["GET", "POST"]),
    Route("/clients/{client_id:id}/opportunities/new", opportunity_new, methods=["GET", "POST"]),
]
