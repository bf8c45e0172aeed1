"""What hangs off a client's page: contacts, the activity timeline, and home."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import peewee as pw
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal import events
from portal.config import LANGUAGES
from portal.core import consent, fields, lifecycle, purchases, restrictions, tagging
from portal.core.clients import convert, delete_contact
from portal.core.models import ACTIVITY_KINDS, Activity, Client, Contact, Tag, Task, User
from portal.core.routes.opportunities import client_panel
from portal.database import db, utcnow
from portal.i18n import current_zone, local_today
from portal.i18n import gettext as _
from portal.text import clean, parse_id
from portal.web import contributions
from portal.web.rendering import grants_of, render, see_other
from portal.web.requests import (
    client_ip,
    form_values,
    login_required,
    permission_required,
    scope_of,
    visible_client,
)

TIMELINE_PAGE = 20
# The lifetime value's rules, which its explanation quotes.
LIFECYCLE_RULES = {"years": lifecycle.HORIZON_YEARS, "days": lifecycle.MIN_SILENCE_DAYS}
NOTES_LIMIT = 10_000


def timeline(client: Client, before: int | None = None) -> tuple[list[Activity], int | None]:
    """One page of the client's activity, latest first, and the cursor for more.

    The cursor is the id of the last activity shown; the next page continues after
    it in (happened_at, id) order, so nothing repeats or goes missing.
    """
    query = (
        Activity.select(Activity, User.name)
        .join(User, on=(Activity.author == User.id))
        .where(Activity.client == client.id)
    )
    if before:
        last = Activity.get_or_none(Activity.id == before, Activity.client == client.id)
        if last is None:
            return [], None
        query = query.where(
            (Activity.happened_at < last.happened_at)
            | ((Activity.happened_at == last.happened_at) & (Activity.id < last.id))
        )
    order = (Activity.happened_at.desc(), Activity.id.desc())
    rows = list(query.order_by(*order).limit(TIMELINE_PAGE + 1))
    more = rows[TIMELINE_PAGE - 1].id if len(rows) > TIMELINE_PAGE else None
    return rows[:TIMELINE_PAGE], more


def lifecycle_context(request: Request, client: Client) -> dict:
    """The client's figures from every source of sales, as of today in the user's zone.

    The caller has checked that the user may see the client: the sales hook
    is promised that.
    """
    hook = request.app.state.plugins.hook.client_sales
    sales, failed = purchases.gather(hook, client_id=client.id, user=request.state.user)
    return {
        "lifecycle": lifecycle.figures(lifecycle.merged(sales), local_today()),
        "lifecycle_incomplete": failed,
        "lifecycle_rules": LIFECYCLE_RULES,
    }


def open_tasks(request: Request, client: Client) -> list[Task]:
    """The client's open tasks the user may see, soonest first; [] without the agenda."""
    if not grants_of(request).has("menu.agenda"):
        return []
    query = (
        Task.select(Task, User.id, User.name)
        .join(User, on=(Task.assignee == User.id))
        .where(Task.client == client.id, Task.status == "open")
    )
    found = list(scope_of(request).tasks(query).order_by(Task.due_on, Task.due_at, Task.id))
    now, today = utcnow(), local_today()
    for task in found:
        task.overdue = task.due_at < now if task.due_at else task.due_on < today
    return found


def detail_context(request: Request, client: Client, **extra: object) -> dict:
    activities, more = timeline(client)
    contacts = list(client.contacts.order_by(Contact.name, Contact.id))
    owner = User.get_by_id(client.owner_id)
    grants = grants_of(request)
    all_tags = list(Tag.select().order_by(Tag.name))
    return {
        "client": client,
        "tags": tagging.tags_of(client),
        "all_tags": all_tags,
        "taggable": {tag.id for tag in all_tags if restrictions.may_tag(grants, tag)},
        "tag_error": "",
        "owner": owner,
        "can_change": scope_of(request).may_change(owner),
        "contacts": contacts,
        "activities": activities,
        "more_activities": more,
        "activity_kinds": ACTIVITY_KINDS,
        "client_tasks": open_tasks(request, client),
        "contact_form": {},
        "contact_errors": {},
        "activity_form": {"kind": "call"},
        "activity_errors": {},
        "merged": False,
        "panels": contributions.client_panels(request, client),
        **lifecycle_context(request, client),
        **client_panel(request, client),
        **extra,
    }


@permission_required("menu.clients")
async def client_timeline(request: Request) -> Response:
    client = visible_client(request)
    before = request.query_params.get("before", "")
    activities, more = timeline(client, parse_id(before))
    context = {"client": client, "activities": activities, "more_activities": more}
    return render(request, "clients/timeline.html", context, block="timeline")


CONTACT_FIELDS = ("name", "position", "email", "email_alt", "phone", "mobile", "language", "notes")
CONTACT_LIMITS = {"name": 150, "position": 100, "notes": NOTES_LIMIT}


def _contact_values(request: Request, raw: dict[str, str]) -> tuple[dict, dict]:
    values = {name: clean(raw.get(name, "")) for name in ("name", "position", "notes")}
    errors: dict[str, str] = {}
    for name, limit in CONTACT_LIMITS.items():
        if len(values[name]) > limit:
            errors[name] = _("At most %(n)s characters.", n=limit)
    if not values["name"]:
        errors["name"] = _("The name is required.")
    region = request.app.state.settings.phone_region
    for name in ("email", "email_alt"):
        convert(raw, values, errors, name, fields.normalise_email)
    for name in ("phone", "mobile"):
        convert(raw, values, errors, name, lambda text: fields.normalise_phone(text, region))
    values["language"] = raw.get("language", "")
    if values["language"] not in ("", *LANGUAGES):
        errors["language"] = _("Choose one of the options.")
    return values, errors


@permission_required("menu.clients")
async def contact_add(request: Request) -> Response:
    client = visible_client(request)
    raw = await form_values(request)
    values, errors = _contact_values(request, raw)
    if errors:
        context = detail_context(request, client, contact_form=raw, contact_errors=errors)
        return render(request, "clients/detail.html", context, status_code=400)
    Contact.create(client=client, **values)
    return see_other(f"/clients/{client.id}#contacts")


def contact_context(
    contact: Contact, form: dict, errors: dict | None = None, **extra: object
) -> dict:
    """What the contact page shows: its form, its consent and the consent history."""
    return {
        "client": Client.get_by_id(contact.client_id),
        "contact": contact,
        "form": form,
        "errors": errors or {},
        "consent_history": consent.history(contact),
        "consent_form": {"state": "", "method": "", "text_shown": "", "evidence": ""},
        "consent_errors": {},
        "consent_methods": consent.METHODS,
        "consent_choosable": consent.CHOOSABLE,
        "consent_states": consent.STATE_LABELS,
        **extra,
    }


def _contact(request: Request, client: Client) -> Contact:
    contact_id = request.path_params["contact_id"]
    contact = Contact.get_or_none(Contact.id == contact_id, Contact.client == client.id)
    if contact is None:
        raise HTTPException(404)
    return contact


@permission_required("menu.clients")
async def contact_edit(request: Request) -> Response:
    client = visible_client(request, to_change=True)
    contact = _contact(request, client)
    if request.method == "GET":
        raw = {name: getattr(contact, name) for name in CONTACT_FIELDS}
        return render(request, "clients/contact_edit.html", contact_context(contact, raw))
    raw = await form_values(request)
    values, errors = _contact_values(request, raw)
    if errors:
        context = contact_context(contact, raw, errors)
        return render(request, "clients/contact_edit.html", context, status_code=400)
    Contact.update(**values, updated_at=utcnow()).where(Contact.id == contact.id).execute()
    return see_other(f"/clients/{client.id}#contacts")


@permission_required("menu.clients")
async def contact_delete(request: Request) -> Response:
    client = visible_client(request, to_change=True)
    contact = _contact(request, client)
    if request.method == "GET":
        return render(
            request, "clients/contact_delete.html", {"client": client, "contact": contact}
        )
    delete_contact(contact, actor=request.state.user, ip=client_ip(request))
    return see_other(f"/clients/{client.id}#contacts")


def _parse_local_time(text: str) -> datetime | None:
    """A `datetime-local` value in the user's zone, as naive UTC."""
    try:
        local = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(current_zone.get()))
        if not 1900 <= local.year <= 2200:
            return None
        return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None


@permission_required("menu.clients")
async def activity_add(request: Request) -> Response:
    client = visible_client(request)
    raw = await form_values(request)
    errors = {}
    kind = raw.get("kind", "")
    if kind not in ACTIVITY_KINDS:
        errors["kind"] = _("Choose one of the options.")
    subject = clean(raw.get("subject", ""))
    notes = clean(raw.get("notes", ""))
    if not subject and not notes:
        errors["subject"] = _("Write a subject or some notes.")
    if len(subject) > 200:
        errors["subject"] = _("At most %(n)s characters.", n=200)
    if len(notes) > NOTES_LIMIT:
        errors["notes"] = _("At most %(n)s characters.", n=NOTES_LIMIT)
    happened_at = utcnow()
    if raw.get("happened_at"):
        happened_at = _parse_local_time(raw["happened_at"])
        if happened_at is None:
            errors["happened_at"] = _("Not a valid date and time.")
    if errors:
        context = detail_context(request, client, activity_form=raw, activity_errors=errors)
        return render(request, "clients/detail.html", context, status_code=400)
    with db.atomic():
        activity = Activity.create(
            client=client, author=request.state.user, kind=kind,
            subject=subject, notes=notes, happened_at=happened_at,
        )  # fmt: skip
        events.emit(
            "activity_logged",
            activity_id=activity.id,
            client_id=client.id,
            actor_id=request.state.user.id,
        )
    return see_other(f"/clients/{client.id}#timeline")


@login_required
async def home(request: Request) -> Response:
    scope = scope_of(request)
    user = request.state.user
    widgets = contributions.dashboard_widgets(request)
    if not grants_of(request).has("menu.clients"):
        # Client figures and activity belong to the Clients menu.
        context = {"user": user, "clients_menu": False, "widgets": widgets}
        return render(request, "home.html", context)
    mine = scope.clients(Client.select(Client.status, pw.fn.COUNT(Client.id).alias("n")))
    by_status = {row.status: row.n for row in mine.group_by(Client.status)}
    recent = list(
        scope.activities()
        .select(Activity, Client.id, Client.name)
        .order_by(Activity.id.desc())
        .limit(10)
    )
    context = {
        "by_status": by_status,
        "recent": recent,
        "user": user,
        "clients_menu": True,
        "widgets": widgets,
    }
    return render(request, "home.html", context)


routes = [
    Route("/clients/{client_id:id}/timeline", client_timeline),
    Route("/clients/{client_id:id}/contacts", contact_add, methods=["POST"]),
    Route(
        "/clients/{client_id:id}/contacts/{contact_id:id}/edit",
        contact_edit,
        methods=["GET", "POST"],
    ),
    Route(
        "/clients/{client_id:id}/contacts/{contact_id:id}/delete",
        contact_delete,
        methods=["GET", "POST"],
    ),
    Route("/clients/{client_id:id}/activities", activity_add, methods=["POST"]),
]
