"""Mass actions from the client list: choose, confirm, then a summary or a progress bar."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal import jobs
from portal.core import bulk, exporting, listing
from portal.core.models import BulkJob, Client
from portal.i18n import gettext as _
from portal.web.rendering import grants_of, is_fragment_request, render, see_other
from portal.web.requests import client_ip, permission_required, scope_of


async def _posted(request: Request) -> tuple[dict[str, str], list[str]]:
    async with request.form() as form:
        values = {key: value for key, value in form.items() if isinstance(value, str)}
        ticked = [value for value in form.getlist("id") if isinstance(value, str)]
    kind = values.get("action", "")
    # Without JavaScript every action's value field is posted; the chosen one counts.
    values.setdefault("value", values.get(f"value_{kind}", ""))
    return values, ticked


def _export(request: Request, selection: bulk.Selection, kind: str) -> Response:
    scope = scope_of(request)
    columns = [(attr, _(label)) for attr, label in exporting.CLIENT_EXPORT_COLUMNS]
    if selection.filters is not None:
        query = listing.filtered_clients(scope, selection.filters, listing.export_columns())
    else:
        ids = list(selection.ids)
        query = scope.clients(listing.export_columns()).where(Client.id.in_(ids))
    rows = query.order_by(Client.sort_name, Client.id).iterator()
    if kind == "xlsx":
        body = exporting.write_xlsx(rows, columns)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        kind, body, media = "csv", exporting.write_csv(rows, columns), "text/csv; charset=utf-8"
    headers = {"content-disposition": f'attachment; filename="clients.{kind}"'}
    return Response(body, media_type=media, headers=headers)


@permission_required("menu.clients")
@permission_required("clients.bulk")
async def choose(request: Request) -> Response:
    """Show what the chosen action would do to the selection, and ask to confirm."""
    values, ticked = await _posted(request)
    selection = bulk.selection_from(values, ticked)
    if values.get("action") == "export":
        if not grants_of(request).has("menu.clients.export"):
            raise HTTPException(403, _("Your profile does not include “%(entry)s”.",
                                       entry=_("Export clients")))  # fmt: skip
        return _export(request, selection, values.get("value", "csv"))
    scope = scope_of(request)
    action, errors = bulk.validate(values, scope, grants_of(request))
    if not selection.everything and not selection.ids:
        errors["selection"] = _("Tick at least one client, or choose every matching client.")
    context = {
        "action": action,
        "errors": errors,
        "plan": bulk.plan(selection, scope) if not errors else None,
        "selection": selection.as_json(),
        "kinds": bulk.KINDS,
        "back": "/clients?" + urlencode(selection.filters.params() if selection.filters else {}),
    }
    return render(request, "clients/bulk_confirm.html", context, status_code=400 if errors else 200)


@permission_required("menu.clients")
@permission_required("clients.bulk")
async def apply(request: Request) -> Response:
    values, _ticked = await _posted(request)
    try:
        selection = bulk.Selection.from_json(json.loads(values.get("selection", "{}")))
    except (ValueError, TypeError, AttributeError):
        raise HTTPException(400, _("The selection was lost; choose the clients again.")) from None
    scope, user, ip = scope_of(request), request.state.user, client_ip(request)
    action, errors = bulk.validate(values, scope, grants_of(request))
    if action is None:
        raise HTTPException(400, next(iter(errors.values())))
    planned = bulk.plan(selection, scope)
    if planned.background:
        job = bulk.queue_job(action, selection, user, ip, total=planned.changeable)
        enqueue(job.id)
        return see_other(f"/clients/bulk/{job.id}")
    outcome = bulk.apply(action, selection, scope, actor=user, ip=ip)
    context = {"action": action, "outcome": outcome.as_json(), "kinds": bulk.KINDS, "job": None}
    return render(request, "clients/bulk_done.html", context)


def enqueue(job_id: int) -> None:
    """Hand the job to the worker (or run it now, when jobs run in the portal)."""
    jobs.run_bulk(job_id)


@permission_required("menu.clients")
async def progress(request: Request) -> Response:
    """A mass action's progress; only its author may follow it."""
    job = BulkJob.get_or_none(
        BulkJob.id == request.path_params["job_id"], BulkJob.user == request.state.user.id
    )
    if job is None:
        raise HTTPException(404)
    context = {
        "job": job,
        "action": bulk.Action(job.action, job.value, job.label),
        "outcome": json.loads(job.outcome) if job.status == "done" else None,
        "kinds": bulk.KINDS,
    }
    block = "progress" if is_fragment_request(request) else None
    return render(request, "clients/bulk_done.html", context, block=block)


routes = [
    Route("/clients/bulk", choose, methods=["POST"]),
    Route("/clients/bulk/apply", apply, methods=["POST"]),
    Route("/clients/bulk/{job_id:id}", progress),
]
