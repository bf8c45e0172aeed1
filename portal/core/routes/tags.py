"""Administration → Tags, and the tags on a client's page."""

from __future__ import annotations

import peewee as pw
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import audit, catalogue, tagging
from portal.core.models import ClientTag, Tag
from portal.core.routes import client_parts
from portal.database import db
from portal.i18n import gettext as _
from portal.text import parse_id
from portal.web.rendering import grants_of, is_fragment_request, render, see_other
from portal.web.requests import client_ip, form_values, permission_required, visible_client


@permission_required("menu.admin.tags")
async def tag_list(request: Request) -> Response:
    tags = list(Tag.select().order_by(Tag.name))
    counts = dict(
        ClientTag.select(ClientTag.tag, pw.fn.COUNT(ClientTag.id)).group_by(ClientTag.tag).tuples()
    )
    return render(request, "admin/tags.html", {"tags": tags, "counts": counts})


async def _tag_form(request: Request, tag: Tag | None) -> Response:
    errors: dict[str, str] = {}
    raw = {"name": tag.name, "colour": tag.colour} if tag else {"colour": "#5b6b7f"}
    if request.method == "POST":
        raw = await form_values(request)
        values, errors = tagging.validate_tag(raw, tag)
        if not errors:
            before = {"name": tag.name, "colour": tag.colour} if tag else {}
            with db.atomic():
                if tag is None:
                    tag = Tag.create(**values)
                    action = "tags.created"
                else:
                    Tag.update(**values).where(Tag.id == tag.id).execute()
                    action = "tags.updated"
                catalogue.changed()
                old, new = audit.changes(before, values)
                audit.record(
                    action, actor=request.state.user, target=tag, before=old, after=new,
                    label=values["name"], ip=client_ip(request),
                )  # fmt: skip
            return see_other("/admin/tags")
    context = {"tag": tag, "form": raw, "errors": errors}
    return render(request, "admin/tag_form.html", context, status_code=400 if errors else 200)


@permission_required("menu.admin.tags")
async def tag_new(request: Request) -> Response:
    return await _tag_form(request, None)


def _tag(request: Request) -> Tag:
    tag = Tag.get_or_none(Tag.id == request.path_params["tag_id"])
    if tag is None:
        raise HTTPException(404)
    return tag


@permission_required("menu.admin.tags")
async def tag_edit(request: Request) -> Response:
    return await _tag_form(request, _tag(request))


@permission_required("menu.admin.tags")
async def tag_delete(request: Request) -> Response:
    tag = _tag(request)
    uses = ClientTag.select().where(ClientTag.tag == tag).count()
    if request.method == "GET":
        return render(request, "admin/tag_delete.html", {"tag": tag, "uses": uses})
    with db.atomic():
        # The key goes with the tag, so a later tag given the same id starts unheld.
        holders = tagging.forget_tag_key(tag)
        audit.record(
            "tags.deleted", actor=request.state.user, target=tag, ip=client_ip(request),
            before={"name": tag.name, "colour": tag.colour, "clients": uses, "profiles": holders},
        )  # fmt: skip
        tag.delete_instance()
        catalogue.changed()
    return see_other("/admin/tags")


@permission_required("menu.clients")
async def client_tags(request: Request) -> Response:
    """Set a client's tags from the checkboxes of its page."""
    client = visible_client(request, to_change=True)
    async with request.form() as form:
        checked, offered = _ids(form.getlist("tag")), _ids(form.getlist("offered"))
    grants, ip = grants_of(request), client_ip(request)
    refused = tagging.retag(client, checked, offered, grants, request.state.user, ip)
    if refused:
        message = _("Your profile may not assign or remove: %(tags)s.", tags=", ".join(refused))
        context = client_parts.detail_context(request, client, tag_error=message)
        template = "clients/_tags.html" if is_fragment_request(request) else "clients/detail.html"
        return render(request, template, context, status_code=400)
    return see_other(f"/clients/{client.id}#tags")


def _ids(values: list) -> set[int]:
    ids = {parse_id(value) for value in values if isinstance(value, str)}
    return {value for value in ids if value is not None}


routes = [
    Route("/admin/tags", tag_list),
    Route("/admin/tags/new", tag_new, methods=["GET", "POST"]),
    Route("/admin/tags/{tag_id:id}", tag_edit, methods=["GET", "POST"]),
    Route("/admin/tags/{tag_id:id}/delete", tag_delete, methods=["GET", "POST"]),
    Route("/clients/{client_id:id}/tags", client_tags, methods=["POST"]),
]
