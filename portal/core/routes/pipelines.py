"""Administration → Pipelines: pipelines, their stages, order, probability and kind."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import peewee as pw
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import pipelines
from portal.core.models import STAGE_KINDS, Opportunity, Pipeline, Stage
from portal.i18n import UserError
from portal.web.rendering import render, see_other
from portal.web.requests import client_ip, form_values, permission_required

KEY = "menu.admin.pipelines"


def _page(
    request: Request, errors: dict[str, str] | None = None, forms: dict | None = None
) -> Response:
    """The page; `errors` and `forms` are keyed by the form that failed."""
    held = dict(
        Opportunity.select(Opportunity.stage, pw.fn.COUNT(Opportunity.id))
        .group_by(Opportunity.stage)
        .tuples()
    )
    stages: dict[int, list[Stage]] = {}
    for stage in Stage.select().order_by(Stage.position, Stage.id):
        stages.setdefault(stage.pipeline_id, []).append(stage)
    context = {
        "pipelines": pipelines.all_pipelines(),
        "stages": stages,
        "held": held,
        "kinds": [(kind, pipelines.KIND_LABELS[kind]) for kind in STAGE_KINDS],
        "label": pipelines.label,
        "errors": errors or {},
        "forms": forms or {},
    }
    return render(request, "admin/pipelines.html", context, status_code=400 if errors else 200)


def _pipeline(request: Request) -> Pipeline:
    found = Pipeline.get_or_none(Pipeline.id == request.path_params["pipeline_id"])
    if found is None:
        raise HTTPException(404)
    return found


def _stage(request: Request) -> Stage:
    found = Stage.get_or_none(Stage.id == request.path_params["stage_id"])
    if found is None:
        raise HTTPException(404)
    return found


@permission_required(KEY)
async def pipeline_page(request: Request) -> Response:
    if request.method == "GET":
        return _page(request)
    raw = await form_values(request)
    try:
        pipelines.create_pipeline(raw, actor=request.state.user, ip=client_ip(request))
    except UserError as error:
        return _page(request, {"new": error.translated()}, {"new": raw})
    return see_other("/admin/pipelines")


async def _change(
    request: Request, key: str, change: Callable[..., object], anchor: str
) -> Response:
    """Apply one form to a pipeline or stage; a refusal shows at the form named `key`."""
    raw = await form_values(request)
    try:
        change(raw, actor=request.state.user, ip=client_ip(request))
    except UserError as error:
        return _page(request, {key: error.translated()}, {key: raw})
    return see_other(f"/admin/pipelines#{anchor}")


@permission_required(KEY)
async def pipeline_rename(request: Request) -> Response:
    pipeline = _pipeline(request)
    key = f"pipeline-{pipeline.id}"
    return await _change(request, key, partial(pipelines.rename_pipeline, pipeline), key)


@permission_required(KEY)
async def pipeline_delete(request: Request) -> Response:
    pipeline = _pipeline(request)
    if request.method == "GET":
        refusal = pipelines.deletion_refusal(pipeline)
        context = {
            "pipeline": pipeline,
            "name": pipelines.label(pipeline),
            "stages": [pipelines.label(stage) for stage in pipelines.stages_of(pipeline)],
            "refusal": refusal.translated() if refusal else "",
        }
        return render(request, "admin/pipeline_delete.html", context)
    try:
        pipelines.delete_pipeline(pipeline, actor=request.state.user, ip=client_ip(request))
    except UserError as error:
        return _page(request, {f"delete-pipeline-{pipeline.id}": error.translated()})
    return see_other("/admin/pipelines")


@permission_required(KEY)
async def stage_add(request: Request) -> Response:
    pipeline = _pipeline(request)
    change = partial(pipelines.add_stage, pipeline)
    return await _change(request, f"new-stage-{pipeline.id}", change, f"pipeline-{pipeline.id}")


@permission_required(KEY)
async def stage_update(request: Request) -> Response:
    stage = _stage(request)
    change = partial(pipelines.update_stage, stage)
    return await _change(request, f"stage-{stage.id}", change, f"pipeline-{stage.pipeline_id}")


@permission_required(KEY)
async def stage_shift(request: Request) -> Response:
    stage = _stage(request)
    raw = await form_values(request)
    pipelines.shift_stage(stage, -1 if raw.get("direction") == "up" else 1)
    return see_other(f"/admin/pipelines#pipeline-{stage.pipeline_id}")


@permission_required(KEY)
async def stage_delete(request: Request) -> Response:
    stage = _stage(request)
    if request.method == "GET":
        return render(
            request, "admin/stage_delete.html", {"stage": stage, "name": pipelines.label(stage)}
        )
    try:
        pipelines.delete_stage(stage, actor=request.state.user, ip=client_ip(request))
    except UserError as error:
        return _page(request, {f"stage-{stage.id}": error.translated()})
    return see_other(f"/admin/pipelines#pipeline-{stage.pipeline_id}")


routes = [
    Route("/admin/pipelines", pipeline_page, methods=["GET", "POST"]),
    Route("/admin/pipelines/{pipeline_id:id}", pipeline_rename, methods=["POST"]),
    Route("/admin/pipelines/{pipeline_id:id}/delete", pipeline_delete, methods=["GET", "POST"]),
    Route("/admin/pipelines/{pipeline_id:id}/stages", stage_add, methods=["POST"]),
    Route("/admin/stages/{stage_id:id}", stage_update, methods=["POST"]),
    Route("/admin/stages/{stage_id:id}/move", stage_shift, methods=["POST"]),
    Route("/admin/stages/{stage_id:id}/delete", stage_delete, methods=["GET", "POST"]),
]
