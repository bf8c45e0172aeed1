"""Consent changes, and a person's copy of their data and its erasure (GDPR)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import audit, consent, gdpr
from portal.core.models import Activity, Client, ConsentRecord, Contact
from portal.core.routes.client_parts import contact_context
from portal.i18n import gettext as _
from portal.web.rendering import render, see_other
from portal.web.requests import client_ip, form_values, permission_required, visible_client

ZIP = "application/zip"


def _contact(request: Request, *, to_change: bool) -> Contact:
    client = visible_client(request, to_change=to_change)
    contact = Contact.get_or_none(
        Contact.id == request.path_params["contact_id"], Contact.client == client.id
    )
    if contact is None:
        raise HTTPException(404)
    return contact


def _person(request: Request, *, to_change: bool) -> Client:
    """The client in the URL, if it is a person the user may see (or change)."""
    client = visible_client(request, to_change=to_change)
    if client.kind != "person" or client.erased_at is not None:
        raise HTTPException(404)
    return client


@permission_required("menu.clients")
async def consent_change(request: Request) -> Response:
    contact = _contact(request, to_change=True)
    raw = await form_values(request)
    values, errors = consent.validate(raw)
    if values["state"] == "given" and contact.email and consent.is_suppressed(contact.email):
        errors["state"] = _(
            "This address belongs to someone whose data was erased at their request: "
            "it may not be mailed again."
        )
    if errors:
        form = {name: getattr(contact, name) for name in ("name", "position", "email")}
        context = contact_context(contact, form, consent_form=raw, consent_errors=errors)
        return render(request, "clients/contact_edit.html", context, status_code=400)
    consent.record(contact, **values, actor=request.state.user, ip=client_ip(request))
    return see_other(f"/clients/{contact.client_id}/contacts/{contact.id}/edit#consent")


def _download(request: Request, subject: gdpr.Subject, record: Contact | Client) -> Response:
    sections = gdpr.personal_data(subject, request.app.state.plugins)
    # Filed under the person, so their erasure blanks this entry's name too.
    audit.record(
        f"gdpr.{subject.kind}.exported", actor=request.state.user, target=record,
        after={"kind": subject.kind, "id": subject.record_id}, ip=client_ip(request),
    )  # fmt: skip
    name = f"personal-data-{subject.kind}-{subject.record_id}.zip"
    headers = {"content-disposition": f'attachment; filename="{name}"'}
    return Response(gdpr.as_zip(sections), media_type=ZIP, headers=headers)


@permission_required("menu.clients")
@permission_required("clients.gdpr")
async def contact_download(request: Request) -> Response:
    contact = _contact(request, to_change=False)
    return _download(request, gdpr.Subject("contact", contact.id), contact)


@permission_required("menu.clients")
@permission_required("clients.gdpr")
async def client_download(request: Request) -> Response:
    client = _person(request, to_change=False)
    return _download(request, gdpr.Subject("client", client.id), client)


@permission_required("menu.clients")
@permission_required("clients.gdpr")
async def contact_erase(request: Request) -> Response:
    contact = _contact(request, to_change=True)
    client = Client.get_by_id(contact.client_id)
    if request.method == "GET":
        context = {
            "client": client,
            "person": contact.name,
            "action": f"/clients/{client.id}/contacts/{contact.id}/erase",
            "cancel": f"/clients/{client.id}/contacts/{contact.id}/edit",
            "consents": ConsentRecord.select().where(ConsentRecord.contact == contact).count(),
            "activities": None,
        }
        return render(request, "clients/erase.html", context)
    subject = gdpr.Subject("contact", contact.id)
    gdpr.erase(subject, request.app.state.plugins, actor=request.state.user, ip=client_ip(request))
    return see_other(f"/clients/{client.id}#contacts")


@permission_required("menu.clients")
@permission_required("clients.gdpr")
async def client_erase(request: Request) -> Response:
    client = _person(request, to_change=True)
    if request.method == "GET":
        context = {
            "client": client,
            "person": client.name,
            "action": f"/clients/{client.id}/erase",
            "cancel": f"/clients/{client.id}",
            "consents": ConsentRecord.select().where(ConsentRecord.client == client.id).count(),
            "activities": Activity.select().where(Activity.client == client.id).count(),
        }
        return render(request, "clients/erase.html", context)
    subject = gdpr.Subject("client", client.id)
    gdpr.erase(subject, request.app.state.plugins, actor=request.state.user, ip=client_ip(request))
    return see_other(f"/clients/{client.id}")


routes = [
    Route(
        "/clients/{client_id:id}/contacts/{contact_id:id}/consent",
        consent_change,
        methods=["POST"],
    ),
    Route("/clients/{client_id:id}/contacts/{contact_id:id}/personal-data.zip", contact_download),
    Route(
        "/clients/{client_id:id}/contacts/{contact_id:id}/erase",
        contact_erase,
        methods=["GET", "POST"],
    ),
    Route("/clients/{client_id:id}/personal-data.zip", client_download),
    Route("/clients/{client_id:id}/erase", client_erase, methods=["GET", "POST"]),
]
