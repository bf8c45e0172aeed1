"""The agenda: day, week and month views, the overdue list, and the task pages.

Every task is looked up through the visibility scope: one outside it answers
404 whatever the verb. Times are entered and shown in the viewer's zone; a
task keeps the zone it was planned in, so a series keeps its local time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import peewee as pw
from babel import dates
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import audit, calendar_feed, tasks
from portal.core.models import (
    ACTIVITY_KINDS,
    RECURRENCES,
    TASK_KINDS,
    Client,
    Contact,
    Task,
    User,
)
from portal.core.tasks import Occurrence, When
from portal.core.visibility import Scope
from portal.database import db, utcnow
from portal.i18n import current_language, current_zone, local_today
from portal.i18n import gettext as _
from portal.i18n import to_local as shown_local
from portal.text import clean, fold, parse_id
from portal.web.rendering import grants_of, render, safe_next, see_other
from portal.web.requests import client_ip, form_values, permission_required, scope_of

VIEWS = ("day", "week", "month")
NOTES_LIMIT = 10_000
# A select lists the clients when there are this few; past it, a search box.
CLIENT_CHOICES = 200
REMINDERS = (0, 5, 10, 15, 30, 60, 120, 1440)
MAX_DURATION = 24 * 60
# Rows one agenda page reads at most; a month of a large team stays well under.
AGENDA_ROWS = 3000
OVERDUE_ROWS = 50
AGENDA = "menu.agenda"


# ---------------------------------------------------------------- the agenda


@dataclass(frozen=True)
class Item:
    """One occurrence as the viewer sees it."""

    occurrence: Occurrence
    starts: datetime | None  # in the viewer's zone; None when all-day
    overdue: bool

    @property
    def task(self) -> Task:
        return self.occurrence.task


def _anchor(raw: str | None) -> date:
    try:
        day = date.fromisoformat(raw or "")
    except ValueError:
        return local_today()
    return day if 1900 < day.year < 9000 else local_today()


def _span(view: str, anchor: date) -> tuple[date, date, date, date]:
    """First and last day shown, and the anchors of the previous and next pages."""
    if view == "day":
        return anchor, anchor, anchor - timedelta(days=1), anchor + timedelta(days=1)
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        week = timedelta(days=7)
        return first, first + timedelta(days=6), first - week, first + week
    first = anchor.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    return first, following - timedelta(days=1), previous, following


def _who(request: Request, team: list[User]) -> tuple[str, int | None]:
    """`mine` or `team`, and the one teammate chosen (if any, and visible)."""
    who = request.query_params.get("who", "mine")
    if who != "team" or not team:
        return "mine", None
    chosen = parse_id(request.query_params.get("assignee", ""))
    return "team", chosen if chosen in {person.id for person in team} else None


def _filtered(scope: Scope, user: User, who: str, assignee: int | None) -> pw.SelectQuery:
    query = (
        Task.select(Task, Client.id, Client.name, User.id, User.name)
        .join(Client, pw.JOIN.LEFT_OUTER, on=(Task.client == Client.id))
        .switch(Task)
        .join(User, on=(Task.assignee == User.id))
    )
    if who == "mine":
        return query.where(Task.assignee == user.id)
    query = scope.tasks(query)
    return query.where(Task.assignee == assignee) if assignee else query


def agenda_items(
    query: pw.SelectQuery, first: date, last: date, zone: str, now: datetime
) -> dict[date, list[Item]]:
    """Every occurrence from `first` to `last` in the viewer's zone, by day, in time order.

    A series is expanded in its own zone, a day either side of the range since
    the viewer's day may start hours before or after the task's.
    """
    start, end = tasks.day_bounds(first, last, zone)
    single = (Task.recurrence == "") & (
        (Task.all_day & Task.due_on.between(first, last))
        | (~Task.all_day & (Task.due_at >= start) & (Task.due_at < end))
    )
    series = (
        (Task.recurrence != "")
        & (Task.status == "open")
        & (Task.due_on <= last + timedelta(days=1))
        & (Task.recurrence_until.is_null() | (Task.recurrence_until >= first - timedelta(days=1)))
    )
    rows = query.where(Task.status != "cancelled", single | series)
    today = local_today()
    days: dict[date, list[Item]] = defaultdict(list)
    margin = timedelta(days=1)
    for task in rows.order_by(Task.due_on, Task.id).limit(AGENDA_ROWS):
        for occurrence in tasks.occurrences_between(task, first - margin, last + margin):
            item = _item(occurrence, now, today)
            day = item.starts.date() if item.starts else occurrence.day
            if first <= day <= last:
                days[day].append(item)
    for items in days.values():
        items.sort(key=lambda i: (i.starts is not None, i.starts or datetime.min, i.task.id))
    return days


def _item(occurrence: Occurrence, now: datetime, today: date) -> Item:
    open_ = occurrence.task.status == "open" and occurrence.is_first
    if occurrence.starts_at is None:
        return Item(occurrence, None, open_ and occurrence.day < today)
    starts = shown_local(occurrence.starts_at)
    return Item(occurrence, starts, open_ and occurrence.starts_at < now)


def overdue(query: pw.SelectQuery, now: datetime) -> list[Task]:
    late = (Task.all_day & (Task.due_on < local_today())) | (~Task.all_day & (Task.due_at < now))
    return list(
        query.where(Task.status == "open", late)
        .order_by(Task.due_on, Task.due_at, Task.id)
        .limit(OVERDUE_ROWS)
    )


@permission_required(AGENDA)
async def agenda(request: Request) -> Response:
    user: User = request.state.user
    scope = scope_of(request)
    view = request.query_params.get("view", "week")
    view = view if view in VIEWS else "week"
    anchor = _anchor(request.query_params.get("date"))
    first, last, previous, following = _span(view, anchor)
    team = [person for person in scope.users().order_by(User.name) if person.id != user.id]
    who, assignee = _who(request, team)
    now = utcnow()
    query = _filtered(scope, user, who, assignee)
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
    if len(notes) > NOTES_LIMIT:
        errors["notes"] = _("At most %(n)s characters.", n=NOTES_LIMIT)
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


@dataclass
class Choices:
    """What the form offers: people, and clients as a list or a search box."""

    people: list[User]
    clients: list[Client] | None  # None: too many, a search box instead
    contacts: list[Contact]


def _choices(request: Request, client: Client | None) -> Choices:
    scope = scope_of(request)
    user: User = request.state.user
    people = list(scope.users().order_by(User.name, User.id))
    if not any(person.id == user.id for person in people):
        people.insert(0, user)
    listed = list(
        scope.clients(Client.select(Client.id, Client.name))
        .order_by(Client.sort_name, Client.id)
        .limit(CLIENT_CHOICES + 1)
    )
    contacts = []
    if client is not None:
        contacts = list(client.contacts.order_by(Contact.name, Contact.id))
    clients = listed if len(listed) <= CLIENT_CHOICES else None
    return Choices(people, clients, contacts)


def _find_client(
    scope: Scope, raw: dict[str, str], errors: dict[str, str], keep: Client | None
) -> Client | None:
    """The client chosen by id, or found by a search that matches exactly one.

    `keep` is the client the task already has: it stays even when the editor
    could not choose it (a shared client whose owner is outside their scope).
    """
    if keep is not None and raw.get("client") == str(keep.id):
        return keep
    if raw.get("client"):
        client = scope.client_or_none(raw["client"])
        if client is None:
            errors["client"] = _("Choose one of the options.")
        return client
    words = fold(clean(raw.get("client_q", "")))
    if not words:
        return None
    found = list(
        scope.clients()
        .where(Client.search_text.contains(words))
        .order_by(Client.sort_name, Client.id)
        .limit(2)
    )
    if len(found) != 1:
        errors["client_q"] = (
            _("No client you can see matches.")
            if not found
            else _("Several clients match: write more of the name.")
        )
        return None
    return found[0]


def _values(
    request: Request, raw: dict[str, str], choices: Choices, keep: Client | None = None
) -> tuple[dict, When | None, dict[str, str]]:
    """The task's columns (related rows as objects), its time, and each field's error."""
    scope = scope_of(request)
    errors: dict[str, str] = {}
    values: dict[str, object] = {}
    if raw.get("kind") not in TASK_KINDS:
        errors["kind"] = _("Choose one of the options.")
    values["kind"] = raw.get("kind", "")
    title = clean(raw.get("title", ""))
    if not title:
        errors["title"] = _("Write what is to be done.")
    elif len(title) > 200:
        errors["title"] = _("At most %(n)s characters.", n=200)
    values["title"] = title
    client = _find_client(scope, raw, errors, keep)
    values["client"] = client
    contact = None
    if raw.get("contact"):
        contact = (
            Contact.get_or_none(Contact.id == parse_id(raw["contact"]), Contact.client == client.id)
            if client is not None and parse_id(raw["contact"])
            else None
        )
        if contact is None:
            errors["contact"] = _("Choose a contact of the chosen client.")
    values["contact"] = contact
    people = {person.id: person for person in choices.people}
    assignee = parse_id(raw.get("assignee", ""))
    if assignee not in people:
        errors["assignee"] = _("Choose one of the options.")
    values["assignee"] = people.get(assignee)
    when = _when(raw, errors)
    values["duration_minutes"] = _number(raw, "duration", 0, MAX_DURATION, errors, default=30)
    recurrence = raw.get("recurrence", "")
    if recurrence not in RECURRENCES:
        errors["recurrence"] = _("Choose one of the options.")
    values["recurrence"] = recurrence
    until = None
    if raw.get("until") and recurrence:
        until = _date(raw["until"])
        if until is None:
            errors["until"] = _("Not a valid date.")
        elif when is not None and until < when.day:
            errors["until"] = _("The series cannot end before it starts.")
    values["recurrence_until"] = until
    reminder = None
    if raw.get("reminder", ""):
        reminder = _number(raw, "reminder", 0, 40320, errors)
        if when is not None and when.is_all_day:
            errors["reminder"] = _("All-day tasks have no reminder: give it a time.")
    values["reminder_minutes"] = reminder
    notes = clean(raw.get("notes", ""))
    if len(notes) > NOTES_LIMIT:
        errors["notes"] = _("At most %(n)s characters.", n=NOTES_LIMIT)
    values["notes"] = notes
    return values, when, errors


def _date(text: str) -> date | None:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return day if 1900 < day.year < 9000 else None


def _when(raw: dict[str, str], errors: dict[str, str]) -> When | None:
    day = _date(raw.get("day", ""))
    if day is None:
        errors["day"] = _("Not a valid date.")
        return None
    if raw.get("all_day") == "on":
        return When.all_day(day)
    try:
        hour = datetime.strptime(raw.get("time", "").strip(), "%H:%M").time()
    except ValueError:
        errors["time"] = _("Give a time (hh:mm), or mark it all day.")
        return None
    return When.at(datetime.combine(day, hour), current_zone.get())


def _number(
    raw: dict[str, str],
    name: str,
    low: int,
    high: int,
    errors: dict[str, str],
    default: int | None = None,
) -> int | None:
    text = raw.get(name, "").strip()
    if not text and default is not None:
        return default
    try:
        number = int(text)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        errors[name] = _("A whole number from %(low)s to %(high)s.", low=low, high=high)
        return None
    return number


def _form_of(task: Task) -> dict[str, str]:
    """The form's fields for a stored task, its time in the viewer's zone."""
    form = {
        "kind": task.kind,
        "title": task.title,
        "client": str(task.client_id or ""),
        "contact": str(task.contact_id or ""),
        "assignee": str(task.assignee_id),
        "duration": str(task.duration_minutes),
        "recurrence": task.recurrence,
        "until": task.recurrence_until.isoformat() if task.recurrence_until else "",
        "reminder": "" if task.reminder_minutes is None else str(task.reminder_minutes),
        "notes": task.notes,
        "version": str(task.version),
    }
    if task.all_day or task.due_at is None:
        form.update(all_day="on", day=task.due_on.isoformat(), time="")
    else:
        starts = shown_local(task.due_at)
        form.update(day=starts.date().isoformat(), time=starts.strftime("%H:%M"))
    return form


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
        "choices": _choices(request, client),
        "client": client,
        "kinds": TASK_KINDS,
        "recurrences": RECURRENCES,
        "reminders": REMINDERS,
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
        day = _anchor(request.query_params.get("day"))
        form = {
            "kind": "call", "assignee": str(user.id), "day": day.isoformat(), "time": "09:00",
            "duration": "30", "client": str(client.id) if client else "",
            # Started from a client's page: back there once saved.
            "next": f"/clients/{client.id}#tasks" if client else "",
        }  # fmt: skip
        return _form_page(request, form, {}, task=None, client=client)
    raw = await form_values(request)
    client = scope.client_or_none(raw.get("client", "")) if raw.get("client") else None
    values, when, errors = _values(request, raw, _choices(request, client))
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
        return _form_page(request, _form_of(task), {}, task=task, client=current)
    raw = await form_values(request)
    chosen = current if current and raw.get("client") == str(current.id) else None
    if chosen is None and raw.get("client"):
        chosen = scope.client_or_none(raw["client"])
    values, when, errors = _values(request, raw, _choices(request, chosen), keep=current)
    version = parse_id(raw.get("version", ""))
    if errors or when is None or version is None:
        if version is None:
            errors["form"] = _("The form is incomplete; open the task again.")
        return _form_page(request, raw, errors, task=task, client=chosen)
    try:
        tasks.save(task, values, when, expected_version=version)
    except tasks.Conflict:
        fresh = visible_task(request)
        return _form_page(request, _form_of(fresh), {}, task=fresh, client=chosen, conflict=True)
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
