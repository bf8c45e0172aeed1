"""Client pages: list, detail, create, edit, delete, export, autocomplete, owner search."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.config import Settings
from portal.core import (
    bulk,
    catalogue,
    clients,
    exporting,
    listing,
    owner_picker,
    portfolio,
    restrictions,
    saved_views,
)
from portal.core.duplicates import Candidate, Match, likely_duplicates
from portal.core.models import CLIENT_STATUSES, SEGMENTS, Client, Contact, User
from portal.core.permissions import Grants
from portal.core.routes import client_merge, client_parts
from portal.core.visibility import Scope
from portal.i18n import gettext as _
from portal.text import clean, parse_id
from portal.web.rendering import grants_of, is_fragment_request, render, see_other
from portal.web.requests import (
    client_ip,
    form_values,
    permission_required,
    scope_of,
    visible_client,
)

AUTOCOMPLETE_LIMIT = 10


def _choices(scope: Scope, chosen_owner: int | None = None) -> dict:
    owners = scope.owner_choices()
    if chosen_owner and all(owner.id != chosen_owner for owner in owners):
        # Someone deeper in the tree, reached through a link: offer them too.
        extra = scope.users().where(User.id == chosen_owner).first()
        owners = sorted([*owners, *([extra] if extra else [])], key=lambda o: o.name)
    return {"statuses": CLIENT_STATUSES, "segments": SEGMENTS, "owners": owners}


@permission_required("menu.clients")
async def client_list(request: Request) -> Response:
    scope = scope_of(request)
    filters = listing.ClientFilters.from_params(dict(request.query_params))
    page = listing.client_page(scope, filters)
    context = {"page": page, "filters": filters, "sorts": listing.SORTS}
    if not is_fragment_request(request):
        context.update(_choices(scope, filters.owner))
        context.update(_list_extras(request))
    return render(request, "clients/list.html", context, block="results")


def _list_extras(request: Request) -> dict:
    """What the full list page shows around the rows: tags, saved views, mass actions."""
    error = saved_views.ERRORS.get(request.query_params.get("view_error", ""), "")
    user = request.state.user
    stamp = getattr(user, "catalogue_stamp", None)
    tags, zones = catalogue.tags_and_zones(stamp)
    return {
        "tags": tags,
        "views": catalogue.views_of(user, stamp),
        "view_error": _(error) if error else "",
        "zones": zones,
        "bulk_kinds": bulk.KINDS,
    }


@permission_required("menu.clients")
async def client_detail(request: Request) -> Response:
    scope = scope_of(request)
    client_id = request.path_params["client_id"]
    client = scope.client_or_none(client_id)
    if client is None:
        survivor_id = client_merge.merged_into(scope, client_id)
        if survivor_id is None:
            raise HTTPException(404)
        return see_other(f"/clients/{survivor_id}")
    merged = request.query_params.get("merged") == "1"
    context = client_parts.detail_context(request, client, merged=merged)
    return render(request, "clients/detail.html", context)


def _render_form(
    request: Request, raw: dict[str, str], errors: dict[str, str], *,
    client: Client | None = None, conflict: bool = False, status_code: int = 200,
    duplicates: list[Match] | None = None, candidates: list[User] | None = None,
) -> Response:  # fmt: skip
    scope = scope_of(request)
    # One person more than the threshold tells whether the list or the search is shown.
    owners = list(scope.may_own().order_by(User.name).limit(owner_picker.THRESHOLD + 1))
    picker = None
    if len(owners) > owner_picker.THRESHOLD:
        owners = []
        picker = _picker_context(scope, raw, errors, client, candidates or [])
        if "owner" not in errors:
            # The owner is settled: the next save must not search again.
            raw = {**raw, "owner_q": ""}
    elif client is not None and all(owner.id != client.owner_id for owner in owners):
        owners.insert(0, User.get_by_id(client.owner_id))
    context = {
        "form": raw,
        "errors": errors,
        "client": client,
        "conflict": conflict,
        "duplicates": duplicates or [],
        "zones": [zone.name for zone in portfolio.zones()],
        "segment_rule": portfolio.segment_rule(),
        "mergeable": _mergeable(request, client, duplicates or []),
        "statuses": CLIENT_STATUSES,
        "segments": SEGMENTS,
        "owners": owners,
        "owner_picker": picker,
        "locked": restrictions.locked_fields(grants_of(request)),
        "discount_limit": grants_of(request).limit("clients.discount"),
    }
    return render(request, "clients/form.html", context, status_code=status_code)


def _picker_context(
    scope: Scope, raw: dict[str, str], errors: dict[str, str], client: Client | None,
    candidates: list[User],
) -> dict:  # fmt: skip
    """The current owner the search form shows, and the candidates of a failed search."""
    current = None
    # The chosen owner when it was accepted, else the one the form showed before.
    keys = ("owner_kept",) if "owner" in errors else ("owner", "owner_kept")
    for key in keys:
        owner_id = parse_id(raw.get(key, ""))
        if owner_id is None:
            continue
        current = scope.may_own().where(User.id == owner_id).first()
        if current is None and client is not None and owner_id == client.owner_id:
            # Kept even when they have left, as validation allows.
            current = User.get_by_id(owner_id)
        if current is not None:
            break
    return {"current": current, "candidates": candidates}


def _mergeable(request: Request, client: Client | None, duplicates: list[Match]) -> set[int]:
    """Ids among the duplicates the user may merge the edited client with."""
    ids = [match.client_id for match in duplicates if match.visible]
    if client is None or not ids or not grants_of(request).has("clients.merge"):
        return set()
    query = scope_of(request).changeable(Client.select(Client.id)).where(Client.id.in_(ids))
    return {client_id for (client_id,) in query.tuples()}


# A change to any of these makes an edited client worth checking again.
_IDENTIFYING = ("name", "city", "fiscal_id", "email", "phone", "mobile")


def _unconfirmed_duplicates(
    raw: dict[str, str], values: dict, scope: Scope, current: Client | None = None
) -> list[Match]:
    """Likely duplicates of the posted client, unless the user confirmed it is new.

    An edit is checked only when an identifying field changed, so a pair the
    user already decided to keep apart does not warn at every save.
    """
    if raw.get("not_duplicate") == "on":
        return []
    if current is not None and all(
        values.get(name, "") == getattr(current, name) for name in _IDENTIFYING
    ):
        return []
    candidate = Candidate(
        name=values["name"],
        city=values.get("city", ""),
        fiscal_id=values.get("fiscal_id", ""),
        email=values.get("email", ""),
        phones=tuple(p for p in (values.get("phone"), values.get("mobile")) if p),
        client_id=current.id if current else None,
    )
    return likely_duplicates(candidate, scope)


def _validate(
    picked: owner_picker.Picked, scope: Scope, settings: Settings, grants: Grants,
    current: Client | None = None,
) -> clients.ClientForm:  # fmt: skip
    """The posted client checked, with the owner search's own message at its field."""
    form = clients.validate(picked.raw, scope, settings, grants, current=current)
    if picked.error:
        form.errors["owner"] = picked.error
    return form


@permission_required("menu.clients")
async def client_new(request: Request) -> Response:
    scope = scope_of(request)
    settings = request.app.state.settings
    if request.method == "GET":
        owner = request.state.user if scope.owns else None
        return _render_form(request, clients.empty_form(owner, settings.phone_region), {})
    picked = owner_picker.resolve(scope, await form_values(request))
    raw = picked.raw
    form = _validate(picked, scope, settings, grants_of(request))
    if not form.ok:
        return _render_form(
            request, raw, form.errors, status_code=400, candidates=picked.candidates
        )
    duplicates = _unconfirmed_duplicates(raw, form.values, scope)
    if duplicates:
        return _render_form(request, raw, {}, duplicates=duplicates, status_code=409)
    client = clients.create_client(form, actor=request.state.user)
    return see_other(f"/clients/{client.id}")


@permission_required("menu.clients")
async def client_edit(request: Request) -> Response:
    client = visible_client(request, to_change=True)
    scope = scope_of(request)
    if request.method == "GET":
        raw = clients.form_from_client(client)
        raw["version"] = str(client.version)
        return _render_form(request, raw, {}, client=client)
    picked = owner_picker.resolve(scope, await form_values(request))
    raw = picked.raw
    settings = request.app.state.settings
    form = _validate(picked, scope, settings, grants_of(request), current=client)
    if not form.ok:
        return _render_form(
            request, raw, form.errors, client=client, status_code=400,
            candidates=picked.candidates,
        )  # fmt: skip
    duplicates = _unconfirmed_duplicates(raw, form.values, scope, current=client)
    if duplicates:
        return _render_form(request, raw, {}, client=client, duplicates=duplicates, status_code=409)
    version = parse_id(raw.get("version", "")) or -1
    user, ip = request.state.user, client_ip(request)
    if not clients.update_client(client, form, version, actor=user, ip=ip):
        return _render_form(request, raw, {}, client=client, conflict=True, status_code=409)
    return see_other(f"/clients/{client.id}")


@permission_required("menu.clients")
async def client_delete(request: Request) -> Response:
    client = visible_client(request, to_change=True)
    if request.method == "GET":
        return render(request, "clients/delete.html", {"client": client})
    clients.delete_client(client, actor=request.state.user, ip=client_ip(request))
    return see_other("/clients")


@permission_required("menu.clients.export")
async def client_export(request: Request) -> Response:
    scope = scope_of(request)
    kind = request.path_params["kind"]
    if kind not in ("csv", "xlsx"):
        raise HTTPException(404)
    filters = listing.ClientFilters.from_params(dict(request.query_params))
    query = listing.filtered_clients(scope, filters, listing.export_columns())
    columns = [(attr, _(label)) for attr, label in exporting.CLIENT_EXPORT_COLUMNS]
    rows = query.order_by(Client.sort_name, Client.id).iterator()
    if kind == "csv":
        body, media = exporting.write_csv(rows, columns), "text/csv; charset=utf-8"
    else:
        body = exporting.write_xlsx(rows, columns)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    headers = {"content-disposition": f'attachment; filename="clients.{kind}"'}
    return Response(body, media_type=media, headers=headers)


@permission_required("menu.clients.export")
async def contact_export(request: Request) -> Response:
    """The contacts of the clients the list shows, in a file the import reads back."""
    scope = scope_of(request)
    kind = request.path_params["kind"]
    if kind not in ("csv", "xlsx"):
        raise HTTPException(404)
    filters = listing.ClientFilters.from_params(dict(request.query_params))
    columns = Contact.select(Contact, Client.id, Client.name, Client.fiscal_id).join(Client)
    query = listing.filtered_clients(scope, filters, columns)
    rows = query.order_by(Client.sort_name, Client.id, Contact.id).iterator()
    headers = [(attr, _(label)) for attr, label in exporting.CONTACT_EXPORT_COLUMNS]
    if kind == "csv":
        body, media = exporting.write_csv(rows, headers), "text/csv; charset=utf-8"
    else:
        body = exporting.write_xlsx(rows, headers, "Contacts")
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    headers_out = {"content-disposition": f'attachment; filename="contacts.{kind}"'}
    return Response(body, media_type=media, headers=headers_out)


@permission_required("menu.clients")
async def client_autocomplete(request: Request) -> Response:
    """Clients to open; with `merge=<id>`, the clients that one may be merged with."""
    scope = scope_of(request)
    filters = listing.ClientFilters(q=clean(request.query_params.get("q", ""))[:100])
    merge_into = request.query_params.get("merge")
    if merge_into is not None and grants_of(request).has("clients.merge"):
        survivor = scope.client_or_none(merge_into, to_change=True)
        if survivor is None:
            raise HTTPException(404)
        matches = client_merge.candidates(scope, filters.q, survivor.id)
        context = {"matches": matches, "merge_into": survivor.id}
        return render(request, "clients/_autocomplete.html", context)
    matches = []
    if filters.q:
        columns = Client.select(Client.id, Client.name, Client.city)
        query = listing.filtered_clients(scope, filters, columns)
        matches = list(query.order_by(Client.sort_name, Client.id).limit(AUTOCOMPLETE_LIMIT))
    return render(request, "clients/_autocomplete.html", {"matches": matches})


@permission_required("menu.clients")
async def owner_search(request: Request) -> Response:
    """People matching the owner search of the client form, to choose one from."""
    text = request.query_params.get("owner_q", "")
    matches = owner_picker.matching(scope_of(request), text)
    context = {"matches": matches, "searched": bool(owner_picker.searched_words(text))}
    return render(request, "clients/_owner_matches.html", context)


routes = [
    Route("/", client_parts.home, name="home"),
    Route("/clients", client_list, name="clients"),
    Route("/clients/new", client_new, methods=["GET", "POST"], name="client-new"),
    Route("/clients/autocomplete", client_autocomplete, name="client-autocomplete"),
    Route("/clients/owners", owner_search, name="client-owner-search"),
    Route("/clients/export.{kind:str}", client_export, name="client-export"),
    Route("/clients/contacts/export.{kind:str}", contact_export, name="contact-export"),
    Route("/clients/{client_id:id}", client_detail, name="client"),
    Route("/clients/{client_id:id}/edit", client_edit, methods=["GET", "POST"]),
    Route("/clients/{client_id:id}/delete", client_delete, methods=["GET", "POST"]),
    *client_parts.routes,
    *client_merge.routes,
]
