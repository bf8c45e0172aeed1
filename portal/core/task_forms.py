"""The task form: what it offers, and what a posted form means.

Everything offered and accepted comes through the visibility scope: the people
the user may plan for, and clients they may see (the client a task already has
stays, even if the editor could not choose it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from portal.core.models import RECURRENCES, TASK_KINDS, Client, Contact, Task, User
from portal.core.tasks import When
from portal.core.visibility import Scope
from portal.i18n import current_zone
from portal.i18n import gettext as _
from portal.i18n import to_local as shown_local
from portal.text import clean, fold, one_line, parse_id

NOTES_LIMIT = 10_000
# A select lists the clients when there are this few; past it, a search box.
CLIENT_CHOICES = 200
REMINDERS = (0, 5, 10, 15, 30, 60, 120, 1440)
MAX_DURATION = 24 * 60


@dataclass
class Choices:
    """What the form offers: people, and clients as a list or a search box."""

    people: list[User]
    clients: list[Client] | None  # None: too many, a search box instead
    contacts: list[Contact]


def choices(scope: Scope, user: User, client: Client | None) -> Choices:
    """People the task may go to (the user and those in scope), clients, contacts."""
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
            # Worded alike whether the client exists or not: nothing is told about it.
            errors["client"] = _("Choose a client you can see.")
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


def values_of(
    scope: Scope, raw: dict[str, str], offered: Choices, keep: Client | None = None
) -> tuple[dict, When | None, dict[str, str]]:
    """The task's columns (related rows as objects), its time, and each field's error.

    Times are read in the current user's zone.
    """
    errors: dict[str, str] = {}
    values: dict[str, object] = {}
    if raw.get("kind") not in TASK_KINDS:
        errors["kind"] = _("Choose one of the options.")
    values["kind"] = raw.get("kind", "")
    title = one_line(raw.get("title", ""))
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
    people = {person.id: person for person in offered.people}
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


def form_of(task: Task) -> dict[str, str]:
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
