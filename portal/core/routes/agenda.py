"""The agenda: day, week and month views, the overdue list, and the task pages.

Every task is looked up through the visibility scope: one outside it answers
404 whatever the verb. Times are entered and shown in the viewer's zone; a
task keeps the zone it was planned in, so a series keeps its local time.
"""

from __future__ import annotations

from datetime import date, timedelta

from babel import dates
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import audit, calendar_feed, task_forms, tasks
from portal.core.agenda import VIEWS, agenda_items, anchor_day, filtered, overdue, span
from portal.core.models import ACTIVITY_KINDS, RECURRENCES, TASK_KINDS, Client, Contact, Task, User
from portal.core.tasks import Occurrence
from portal.database import db, utcnow
from portal.i18n import current_language, current_zone, local_today
from portal.i18n import gettext as _
from portal.i18n import to_local as shown_local
from portal.text import clean, parse_id
from portal.web.rendering import grants_of, render, safe_next, see_other
from portal.web.requests import client_ip, form_values, permission_required, scope_of

AGENDA = "menu.agenda"


# ---------------------------------------------------------------- the agenda


def _who(request: Request, team: list[User]) -> tuple[str, int | None]:
    """`mine` or `team`, and the one teammate chosen (if any, and visible)."""
    who = request.query_params.get("who", "mine")
    if who != "team" or not team:
        return "mine", None
    chosen = parse_id(request.query_params.get("assignee", ""))
    return "team", chosen if chosen in {person.id for person in team} else None


@permission_required(AGENDA)
async def agenda(request: Request) -> Response:
    user: User = request.state.user
    scope = scope_of(request)
    view = request.query_params.get("view", "week")
    view = view if view in VIEWS else "week"
    anchor = anchor_day(request.query_params.get("date"))
    first, last, previous, following = span(view, anchor)
    team = [person for person in scope.users().order_by(User.name) if person.id != user.id]
    who, assignee = _who(request, team)
    now = utcnow()
    query = filtered(scope, user, who, assignee)
    days = agenda_items(query.clone(), first, last, current_zone.get(), now)
    shown = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    params = {"view": view, "who": who, **({"assignee": assignee} if assignee else {})}
    names = dates.get_day_names("abbreviated", locale=current_language.get())
    context = {
        "view": view,
        "views": VIEWS,
        "who": who,
        "assignee": assignee,
        "team": team,
        "anchor": anchor,
        "first": first,
        "last": last,
        "previous": previous,
        "following": following,
        "today": local_today(),
        "days": shown,
        "items": days,
        "overdue": overdue(query.clone(), now),
        "params": params,
        "title": _title(view, first, last),
        "day_label": _day_label,
        "weekday_names": [names[n] for n in range(7)],
    }
    return render(request, "agenda/index.html", context, block="agenda")


def _title(view: str, first: date, last: date) -> str:
    language = current_language.get()
    if view == "day":
        return dates.format_date(first, "full", locale=language)
    if view == "month":
        return dates.format_skeleton("yMMMM", first, locale=language)
    return dates.format_interval(first, last, "yMMMd", locale=language)


def _day_label(day: date) -> str:
    return dates.format_skeleton("MMMEd", day, locale=current_language.get())


# ---------------------------------------------------------------- one task


def visible_task(request: Request) -> Task:
    task = scope_of(request).task_or_none(request.path_params["task_id"])
    if task is None:
        raise HTTPException(404)
    return task


def _may_delete(request: Request) -> None:
    if not grants_of(request).has("tasks.delete"):
        label = _(request.app.state.permissions.permissions["tasks.delete"].label)
        raise HTTPException(403, _("Your profile does not include “%(entry)s”.", entry=label))


def _outcome_form(task: Task) -> dict[str, str]:
    return {"kind": tasks.OUTCOME_KINDS.get(task.kind, "note"), "notes": ""}


def _detail(request: Request, task: Task, **extra: object) -> Response:
    client = Client.get_or_none(Client.id == task.client_id) if task.client_id else None
    context = {
        "task": task,
        "client": client,
        "contact": Contact.get_or_none(Contact.id == task.contact_id) if task.contact_id else None,
        "assignee": User.get_by_id(task.assignee_id),
        "starts": shown_local(task.due_at) if task.due_at else None,
        "upcoming": _upcoming(task) if task.status == "open" else [],
        "activity_kinds": ACTIVITY_KINDS,
        "form": _outcome_form(task),
        "errors": {},
        "conflict": False,
        **extra,
    }
    status_code = 409 if context["conflict"] else 400 if context["errors"] else 200
    return render(request, "agenda/task.html", context, status_code=status_code)


def _upcoming(task: Task, count: int = 3) -> list[Occurrence]:
    """The next few occurrences after the pending one, to show what repeats."""
    found = []
    for occurrence in tasks.repetitions(task, 1):
        found.append(occurrence)
        if len(found) == count:
            break
    return found


@permission_required(AGENDA)
async def task_detail(request: Request) -> Response:
    return _detail(request, visible_task(request))


@permission_required(AGENDA)
async def task_complete(request: Request) -> Response:
    task = visible_task(request)
    raw = await form_values(request)
    errors = {}
    kind = raw.get("kind", "")
    if task.client_id is not None and kind not in ACTIVITY_KINDS:
        errors["kind"] = _("Choose one of the options.")
    notes = clean(raw.get("notes", ""))
    if len(notes) > task_forms.NOTES_LIMIT:
        errors["notes"] = _("At most %(n)s characters.", n=task_forms.NOTES_LIMIT)
    version = parse_id(raw.get("version", ""))
    if task.status != "open":
        errors["form"] = _("This task is already closed.")
    if errors:
        return _detail(request, task, form=raw, errors=errors)
    try:
        tasks.complete(
            task, request.state.user, outcome_kind=kind or "note", notes=notes,
            expected_version=version or 0,
        )  # fmt: skip
    except tasks.Conflict:
        fresh = visible_task(request)
        return _detail(request, fresh, form=raw, conflict=True)
    return see_other(safe_next(raw.get("next"), f"/agenda/tasks/{task.id}"))


@permission_required(AGENDA)
async def task_delete(request: Request) -> Response:
    task = visible_task(request)
    _may_delete(request)
    if request.method == "GET":
        return render(request, "agenda/task_delete.html", {"task": task})
    with db.atomic():
        Task.delete().where(Task.id == task.id).execute()
        audit.record(
            "tasks.deleted",
            actor=request.state.user,
            target=task,
            label=task.title,
            before={"title": task.title, "assignee": task.assignee_id, "status": task.status},
            ip=client_ip(request),
        )
    return see_other("/agenda")


# ---------------------------------------------------------------- the form


def _offered(request: Request, client: Client | None) -> task_forms.Choices:
    return task_forms.choices(scope_of(request), request.state.user, client)


def _form_page(
    request: Request,
    form: dict[str, str],
    errors: dict[str, str],
    *,
    task: Task | None,
    client: Client | None,
    conflict: bool = False,
) -> Response:
    context = {
        "task": task,
        "form": form,
        "errors": errors,
        "choices": _offered(request, client),
        "client": client,
        "kinds": TASK_KINDS,
        "recurrences": RECURRENCES,
        "reminders": task_forms.REMINDERS,
        "conflict": conflict,
    }
    status_code = 409 if conflict else 400 if errors else 200
    return render(request, "agenda/task_form.html", context, status_code=status_code)


@permission_required(AGENDA)
async def task_new(request: Request) -> Response:
    scope = scope_of(request)
    user: User = request.state.user
    if request.method == "GET":
        client = scope.client_or_none(request.query_params.get("client", ""))
        day = anchor_day(request.query_params.get("day"))
        form = {
            "kind": "call", "assignee": str(user.id), "day": day.isoformat(), "time": "09:00",
            "duration": "30", "client": str(client.id) if client else "",
            # Started from a client's page: back there once saved.
            "next": f"/clients/{client.id}#tasks" if client else "",
        }  # fmt: skip
        return _form_page(request, form, {}, task=None, client=client)
    raw = await form_values(request)
    client = scope.client_or_none(raw.get("client", "")) if raw.get("client") else None
    values, when, errors = task_forms.values_of(scope, raw, _offered(request, client))
    if errors or when is None:
        return _form_page(request, raw, errors, task=None, client=client)
    with db.atomic():
        created = tasks.create(
            values["assignee"],
            values["title"],
            when,
            kind=values["kind"],
            client=values["client"],
            contact=values["contact"],
            created_by=user,
            duration_minutes=values["duration_minutes"],
            reminder_minutes=values["reminder_minutes"],
            recurrence=values["recurrence"],
            recurrence_until=values["recurrence_until"],
            notes=values["notes"],
        )
    return see_other(safe_next(raw.get("next"), f"/agenda/tasks/{created.id}"))


@permission_required(AGENDA)
async def task_edit(request: Request) -> Response:
    task = visible_task(request)
    scope = scope_of(request)
    current = Client.get_or_none(Client.id == task.client_id) if task.client_id else None
    if request.method == "GET":
        return _form_page(request, task_forms.form_of(task), {}, task=task, client=current)
    raw = await form_values(request)
    chosen = current if current and raw.get("client") == str(current.id) else None
    if chosen is None and raw.get("client"):
        chosen = scope.client_or_none(raw["client"])
    offered = _offered(request, chosen)
    values, when, errors = task_forms.values_of(scope, raw, offered, keep=current)
    version = parse_id(raw.get("version", ""))
    if errors or when is None or version is None:
        if version is None:
            errors["form"] = _("The form is incomplete; open the task again.")
        return _form_page(request, raw, errors, task=task, client=chosen)
    try:
        tasks.save(task, values, when, expected_version=version)
    except tasks.Conflict:
        fresh = visible_task(request)
        form = task_forms.form_of(fresh)
        return _form_page(request, form, {}, task=fresh, client=chosen, conflict=True)
    return see_other(f"/agenda/tasks/{task.id}")


# ---------------------------------------------------------------- the feed


@permission_required(AGENDA)
async def feed_page(request: Request) -> Response:
    """Where the user makes (or remakes) the secret address of their calendar feed."""
    user: User = request.state.user
    address = ""
    if request.method == "POST":
        # Answered with the page itself, not a redirect: the address is shown
        # this once and must not travel in a URL or be stored to show again.
        await form_values(request)
        token = calendar_feed.issue(user)
        base = request.app.state.settings.base_url
        address = f"{base}/agenda/feed/{token}.ics"
    context = {"address": address, "exists": calendar_feed.exists(user)}
    return render(request, "agenda/feed.html", context)


async def feed(request: Request) -> Response:
    """The feed itself: no login, the secret address is the key."""
    user = calendar_feed.owner(request.path_params["token"])
    if user is None:
        raise HTTPException(404)
    now = utcnow()
    base = request.app.state.settings.base_url
    body = calendar_feed.calendar(user, calendar_feed.feed_tasks(user, now), base_url=base, now=now)
    headers = {"cache-control": "private, max-age=300", "x-robots-tag": "noindex"}
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


routes = [
    Route("/agenda", agenda, name="agenda"),
    Route("/agenda/tasks/new", task_new, methods=["GET", "POST"]),
    Route("/agenda/tasks/{task_id:id}", task_detail),
    Route("/agenda/tasks/{task_id:id}/edit", task_edit, methods=["GET", "POST"]),
    Route("/agenda/tasks/{task_id:id}/complete", task_complete, methods=["POST"]),
    Route("/agenda/tasks/{task_id:id}/delete", task_delete, methods=["GET", "POST"]),
    Route("/agenda/feed", feed_page, methods=["GET", "POST"]),
    Route("/agenda/feed/{token}.ics", feed),
]
