"""Administration → Audit log: who changed what and when, filtered and exported."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import audit_log, exporting
from portal.core.models import AuditEntry, Client, Contact, Profile, User
from portal.i18n import N_, current_zone, to_local
from portal.i18n import gettext as _
from portal.web.rendering import grants_of, render
from portal.web.requests import permission_required, scope_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def object_links(request: Request, entries: list[AuditEntry]) -> dict[tuple[str, int], str]:
    """Where each entry's object lives, for those still there that the viewer may open.

    One query per kind of object on the page; clients and contacts go through the
    viewer's scope, so the log never links to a record they may not see.
    """
    wanted: dict[str, set[int]] = defaultdict(set)
    for entry in entries:
        if entry.object_id is not None:
            wanted[entry.object_type].add(entry.object_id)
    grants = grants_of(request)
    links: dict[tuple[str, int], str] = {}
    if wanted["profile"] and grants.has("menu.admin.profiles"):
        found = Profile.select(Profile.id).where(Profile.id.in_(wanted["profile"]))
        links.update({("profile", p.id): f"/admin/profiles/{p.id}" for p in found})
    if wanted["user"] and grants.has("menu.admin.users"):
        found = User.select(User.id).where(User.id.in_(wanted["user"]))
        links.update({("user", u.id): f"/admin/users/{u.id}" for u in found})
    if grants.has("menu.clients"):
        scope = scope_of(request)
        if wanted["client"]:
            found = scope.clients(Client.select(Client.id)).where(Client.id.in_(wanted["client"]))
            links.update({("client", c.id): f"/clients/{c.id}" for c in found})
        if wanted["contact"]:
            columns = scope.contacts().select(Contact.id, Contact.client)
            found = columns.where(Contact.id.in_(wanted["contact"]))
            links.update({("contact", c.id): f"/clients/{c.client_id}#contacts" for c in found})
    return links


@permission_required("menu.admin.audit")
async def audit_list(request: Request) -> Response:
    filters = audit_log.AuditFilters.from_params(dict(request.query_params))
    filters.readable = audit_log.readable_by(request.state.user)
    page = audit_log.page(filters)
    context = {
        "filters": filters,
        "page": page,
        "links": object_links(request, page.entries),
        "actions": audit_log.known_actions(),
        "types": audit_log.object_types(),
        "actors": audit_log.actors(request.state.user),
        "vocabulary": request.app.state.audit_labels,
        "zone": current_zone.get(),
    }
    status = 400 if filters.errors else 200
    return render(request, "admin/audit.html", context, status_code=status)


EXPORT_HEADERS = (
    N_("When"),
    N_("Who"),
    N_("Action"),
    N_("Description"),
    N_("Object type"),
    N_("Object ID"),
    N_("Object"),
    N_("Before"),
    N_("After"),
    N_("IP address"),
)


def _export_rows(
    filters: audit_log.AuditFilters, vocabulary: audit_log.Vocabulary, request: Request
) -> Iterator[list]:
    """The rows as the page words them; the writers neutralise what could run as a formula."""
    query = audit_log.filtered(filters, audit_log.with_actor_email())
    for entry in query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).iterator():
        who = entry.actor_name
        if entry.actor_id is not None:
            who = f"{who} <{entry.actor.email}>"
        yield [
            to_local(entry.at).replace(tzinfo=None),
            who,
            entry.action,
            vocabulary.action(entry.action),
            entry.object_type,
            entry.object_id,
            vocabulary.object_label(entry, request),
            entry.before,
            entry.after,
            entry.ip,
        ]


@permission_required("menu.admin.audit")
async def audit_export(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind not in ("csv", "xlsx"):
        raise HTTPException(404)
    filters = audit_log.AuditFilters.from_params(dict(request.query_params))
    filters.readable = audit_log.readable_by(request.state.user)
    headers = [_(h) for h in EXPORT_HEADERS]
    headers[0] = f"{headers[0]} ({current_zone.get()})"
    rows = _export_rows(filters, request.app.state.audit_labels, request)
    if kind == "csv":
        body, media = exporting.write_table_csv(headers, rows), "text/csv; charset=utf-8"
    else:
        body, media = exporting.write_table_xlsx(headers, rows, _("Audit log")), XLSX
    disposition = {"content-disposition": f'attachment; filename="audit.{kind}"'}
    return Response(body, media_type=media, headers=disposition)


routes = [
    Route("/admin/audit", audit_list),
    Route("/admin/audit/export.{kind:str}", audit_export),
]
