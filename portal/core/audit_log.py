"""Reading the audit log: filters, keyset pages newest first, and readable values.

Pages walk `(at, id)` downwards from a cursor, so entries written while someone
reads never make a row repeat or go missing between pages. Dates in the filters
are days in the viewer's time zone; the log stores UTC.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import peewee as pw
import pluggy
from starlette.requests import Request

from portal.core import fields
from portal.core.models import AuditEntry, User
from portal.core.visibility import ProfileTree
from portal.i18n import N_, current_zone
from portal.i18n import gettext as _
from portal.text import clean, parse_id

logger = logging.getLogger(__name__)

PAGE_SIZES = (25, 50, 100)

# Human names for the actions the core writes; any other action shows its dotted name.
ACTION_LABELS = {
    "profiles.created": N_("Profile created"),
    "profiles.updated": N_("Profile changed"),
    "profiles.deleted": N_("Profile removed"),
    "profiles.permission.granted": N_("Permission granted"),
    "profiles.permission.revoked": N_("Permission revoked"),
    "profiles.permission.changed": N_("Permission limit changed"),
    "profiles.approvals.changed": N_("Vacation approvers changed"),
    "users.created": N_("User created"),
    "users.invited": N_("User invited"),
    "users.invitation.accepted": N_("Invitation accepted"),
    "users.updated": N_("User changed"),
    "users.profile.changed": N_("User's profile changed"),
    "users.password.changed": N_("Password changed"),
    "users.password.reset": N_("Password reset by email"),
    "users.deactivated": N_("User deactivated"),
    "users.reactivated": N_("User reactivated"),
    "users.vacation_days.changed": N_("Vacation allowance changed"),
    "vacations.requested": N_("Days off requested"),
    "vacations.approved": N_("Days off approved"),
    "vacations.rejected": N_("Days off rejected"),
    "vacations.cancelled": N_("Days off cancelled"),
    "tags.created": N_("Tag created"),
    "tags.updated": N_("Tag changed"),
    "tags.deleted": N_("Tag deleted"),
    "gdpr.contact.exported": N_("Personal data of a contact downloaded"),
    "gdpr.client.exported": N_("Personal data of a client downloaded"),
    "gdpr.contact.erased": N_("Contact erased at their request"),
    "gdpr.client.erased": N_("Client erased at their request"),
    "clients.bulk.reassign": N_("Clients given to another owner"),
    "clients.bulk.tag": N_("Tag added to clients"),
    "clients.bulk.untag": N_("Tag removed from clients"),
    "clients.bulk.zone": N_("Zone of clients changed"),
    "clients.bulk.segment": N_("Segment of clients changed"),
    "clients.bulk.status": N_("Status of clients changed"),
    "clients.bulk.delete": N_("Clients deleted together"),
    "zones.created": N_("Zone created"),
    "zones.updated": N_("Zone changed"),
    "zones.deleted": N_("Zone deleted"),
    "segments.rule.changed": N_("Segment rule changed"),
    "portfolio.reapplied": N_("Clients placed by zone and segment rules"),
    "clients.tags.changed": N_("Client's tags changed"),
    "clients.owner.changed": N_("Client owner changed"),
    "clients.deleted": N_("Client deleted"),
    "clients.merged": N_("Clients merged"),
    "contacts.deleted": N_("Contact deleted"),
    "imports.clients": N_("Clients imported"),
    "imports.contacts": N_("Contacts imported"),
    "imports.undone": N_("Import undone"),
    "mail.settings.changed": N_("Mail server changed"),
    "mail.retried": N_("Email sent again"),
    "clients.status.changed": N_("Client's status changed"),
    "opportunities.created": N_("Opportunity created"),
    "opportunity.stage_changed": N_("Opportunity moved to another stage"),
    "opportunities.deleted": N_("Opportunity deleted"),
    "pipelines.created": N_("Pipeline created"),
    "pipelines.updated": N_("Pipeline renamed"),
    "pipelines.deleted": N_("Pipeline deleted"),
    "pipelines.stage.created": N_("Stage added"),
    "pipelines.stage.updated": N_("Stage changed"),
    "pipelines.stage.deleted": N_("Stage deleted"),
    "leads.captured": N_("Web lead received"),
    "leads.accepted": N_("Web lead accepted after being taken for spam"),
    "leads.form.created": N_("Web form created"),
    "leads.form.changed": N_("Web form changed"),
    "leads.rule.saved": N_("Owner rule saved"),
    "leads.rule.deleted": N_("Owner rule deleted"),
}
OBJECT_LABELS = {
    "profile": N_("Profile"),
    "user": N_("User"),
    "client": N_("Client"),
    "contact": N_("Contact"),
    "import_job": N_("Import"),
    "outgoing_mail": N_("Email"),
    "opportunity": N_("Opportunity"),
    "pipeline": N_("Pipeline"),
    "stage": N_("Stage"),
    "web_form": N_("Web form"),
    "assignment_rule": N_("Owner rule"),
    "lead_submission": N_("Web form submission"),
}


@dataclass
class AuditFilters:
    action: str = ""
    actor: str = ""
    object_type: str = ""
    object_id: int | None = None
    start: date | None = None
    end: date | None = None
    size: int = 50
    after: str = ""
    before: str = ""
    actor_id: int | None = None
    errors: dict[str, str] = field(default_factory=dict)
    # Set by the view from who is reading (see `readable_by`), never from the URL.
    readable: pw.Expression | None = None

    @classmethod
    def from_params(cls, params: dict[str, str]) -> AuditFilters:
        """Read query parameters; a value that cannot be used gets a message."""
        size = parse_id(params.get("size", ""))
        filters = cls(
            action=clean(params.get("action", ""))[:100],
            actor=clean(params.get("actor", ""))[:254],
            object_type=clean(params.get("type", ""))[:50],
            size=size if size in PAGE_SIZES else 50,
            after=params.get("after", "")[:200],
            before=params.get("before", "")[:200],
        )
        errors = filters.errors
        raw_id = clean(params.get("object", ""))
        filters.object_id = parse_id(raw_id)
        if raw_id and filters.object_id is None:
            errors["object"] = _("Not a valid number.")
        filters.start = _day(params.get("from", ""), "from", errors)
        filters.end = _day(params.get("to", ""), "to", errors)
        if filters.start and filters.end and filters.end < filters.start:
            errors["to"] = _("The end is before the start.")
        if filters.actor:
            filters.actor_id = _actor_id(filters.actor, errors)
        return filters

    def params(self, **changes: object) -> dict[str, str]:
        """Query parameters reproducing these filters, for links and exports."""
        values = {
            "action": self.action,
            "actor": self.actor,
            "type": self.object_type,
            "object": str(self.object_id or ""),
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
            "size": str(self.size) if self.size != 50 else "",
        }
        values.update({key: str(value) for key, value in changes.items()})
        return {key: value for key, value in values.items() if value}


def _day(text: str, name: str, errors: dict[str, str]) -> date | None:
    text = clean(text)
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or not 1900 <= day.year <= 2200:
        errors[name] = _("Not a valid date.")
        return None
    return day


def _actor_id(text: str, errors: dict[str, str]) -> int | None:
    try:
        email = fields.normalise_email(text)
    except fields.FieldError as error:
        errors["actor"] = error.translated()
        return None
    found = User.select(User.id).where(User.email == email).first()
    if found is None:
        errors["actor"] = _("Nobody has this email.")
        return None
    return found.id


def _utc_midnight(day: date) -> datetime:
    """The start of `day` in the viewer's zone, as stored (naive UTC)."""
    local = datetime.combine(day, time.min, tzinfo=ZoneInfo(current_zone.get()))
    return local.astimezone(UTC).replace(tzinfo=None)


def with_actor_email() -> pw.SelectQuery:
    """Entries joined to their actor's email, which the page links and the export shows."""
    on = AuditEntry.actor == User.id
    return AuditEntry.select(AuditEntry, User.id, User.email).join(User, pw.JOIN.LEFT_OUTER, on=on)


def filtered(filters: AuditFilters, query: pw.SelectQuery | None = None) -> pw.SelectQuery:
    """Every list and export starts here; filters with a mistake match nothing."""
    query = AuditEntry.select() if query is None else query
    if filters.errors:
        return query.where(AuditEntry.id == 0)
    if filters.readable is not None:
        query = query.where(filters.readable)
    action = filters.action
    if action.endswith((".", "*")):
        query = query.where(AuditEntry.action.startswith(action.rstrip("*")))
    elif action:
        query = query.where(AuditEntry.action == action)
    if filters.actor_id:
        query = query.where(AuditEntry.actor == filters.actor_id)
    if filters.object_type:
        query = query.where(AuditEntry.object_type == filters.object_type)
    if filters.object_id:
        query = query.where(AuditEntry.object_id == filters.object_id)
    if filters.start:
        query = query.where(AuditEntry.at >= _utc_midnight(filters.start))
    if filters.end:
        query = query.where(AuditEntry.at < _utc_midnight(filters.end + timedelta(days=1)))
    return query


@dataclass
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: str = ""
    previous_cursor: str = ""


def page(filters: AuditFilters) -> AuditPage:
    """One page, newest first; `before` walks back towards newer entries."""
    backwards = bool(filters.before) and not filters.after
    cursor = _decode(filters.before if backwards else filters.after)
    query = filtered(filters, with_actor_email())
    if cursor is not None:
        at, last_id = cursor
        at_key, id_key = AuditEntry.at, AuditEntry.id
        if backwards:
            query = query.where((at_key > at) | ((at_key == at) & (id_key > last_id)))
        else:
            query = query.where((at_key < at) | ((at_key == at) & (id_key < last_id)))
    if backwards:
        order = (AuditEntry.at.asc(), AuditEntry.id.asc())
    else:
        order = (AuditEntry.at.desc(), AuditEntry.id.desc())
    rows = list(query.order_by(*order).limit(filters.size + 1))
    more = len(rows) > filters.size
    rows = rows[: filters.size]
    if backwards:
        rows.reverse()

    result = AuditPage(rows)
    if rows:
        if more or backwards:
            result.next_cursor = _encode(rows[-1])
        if (cursor is not None and not backwards) or (backwards and more):
            result.previous_cursor = _encode(rows[0])
    return result


def _encode(entry: AuditEntry) -> str:
    raw = json.dumps([entry.at.isoformat(), entry.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, last_id = json.loads(base64.urlsafe_b64decode(padded))
        if parse_id(last_id) is None or not isinstance(at, str):
            return None
        return datetime.fromisoformat(at), int(last_id)
    except (ValueError, TypeError):
        return None


# ------------------------------------------------------------------ showing


def decoded(text: str) -> dict[str, Any]:
    try:
        values = json.loads(text or "{}")
    except ValueError:
        return {"": text}
    return values if isinstance(values, dict) else {"": values}


def shown(value: Any) -> str:
    """A stored value as text a person reads (the template escapes it)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def differences(entry: AuditEntry) -> list[tuple[str, str, str]]:
    """(field, before, after) for every field either side holds."""
    before, after = decoded(entry.before), decoded(entry.after)
    keys = sorted(before.keys() | after.keys())
    return [(key, shown(before.get(key)), shown(after.get(key))) for key in keys]


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return _(label) if label else ""


# Turns a value a plugin stored into text; gets the page's request for what
# the portal knows while running (`request.app.state.report_sources`).
ValueFormatter = Callable[[Any, Request], str]
# Turns an entry's stored object label ("Ana · 2026-12 · opportunities.won_value")
# into words; the same request as above.
ObjectFormatter = Callable[[AuditEntry, Request], str]


@dataclass(frozen=True)
class AuditLabels:
    """How the log names what one plugin records (`register_audit_labels`).

    `area` is the first part of the plugin's actions ("loyalty" for
    `loyalty.points.redeemed`): `fields` and `values` apply only to entries of
    that area. `objects` words the stored object label of the plugin's own
    object types. Every label is an `N_()` msgid, translated when the page is
    drawn.
    """

    area: str
    actions: Mapping[str, str] = field(default_factory=dict)
    object_types: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, ValueFormatter] = field(default_factory=dict)
    objects: Mapping[str, ObjectFormatter] = field(default_factory=dict)


class Vocabulary:
    """The core's labels and every plugin's, as the audit page reads them."""

    def __init__(self, plugins: Iterable[AuditLabels] = ()) -> None:
        self.actions: dict[str, str] = dict(ACTION_LABELS)
        self.object_types: dict[str, str] = dict(OBJECT_LABELS)
        self.areas: dict[str, AuditLabels] = {}
        self.objects: dict[str, ObjectFormatter] = {}
        for labels in plugins:
            # The core's names win: a plugin cannot relabel what the core records.
            self.actions = {**labels.actions, **self.actions}
            self.object_types = {**labels.object_types, **self.object_types}
            self.areas[labels.area] = labels
            own = {k: v for k, v in labels.objects.items() if k not in OBJECT_LABELS}
            self.objects = {**own, **self.objects}

    @classmethod
    def from_plugins(cls, manager: pluggy.PluginManager) -> Vocabulary:
        from portal.plugins import collect

        return cls(collect(manager.hook.register_audit_labels))

    def action(self, action: str) -> str:
        label = self.actions.get(action)
        return _(label) if label else ""

    def object_type(self, code: str) -> str:
        label = self.object_types.get(code)
        return _(label) if label else code

    def object_label(self, entry: AuditEntry, request: Request) -> str:
        """The entry's object in words; its stored label when no plugin words it."""
        show = self.objects.get(entry.object_type)
        if show is None or not entry.object_label:
            return entry.object_label
        try:
            return show(entry, request)
        except Exception:
            # As with values: a failing formatter costs the words, never the page.
            logger.exception("audit object formatter failed for entry %s", entry.id)
            return entry.object_label

    def changes(self, entry: AuditEntry, request: Request) -> list[tuple[str, str, str, str]]:
        """(label, field, before, after) per changed field; label "" when none is known."""
        labels = self.areas.get(entry.action.split(".")[0])
        if labels is None:
            return [("", name, old, new) for name, old, new in differences(entry)]
        before, after = decoded(entry.before), decoded(entry.after)
        rows = []
        for name in sorted(before.keys() | after.keys()):
            label = labels.fields.get(name)
            show = labels.values.get(name)
            old, new = before.get(name), after.get(name)
            rows.append(
                (
                    _(label) if label else "",
                    name,
                    _formatted(show, old, request),
                    _formatted(show, new, request),
                )
            )
        return rows


def _formatted(show: ValueFormatter | None, value: Any, request: Request) -> str:
    if show is None or value is None or value == "":
        return shown(value)
    try:
        return show(value, request)
    except Exception:
        # A formatter that fails costs its readable value, never the page.
        logger.exception("audit value formatter failed for %r", value)
        return shown(value)


def known_actions() -> list[str]:
    """Actions present in the log and every area prefix, for the filter's suggestions."""
    present = [row[0] for row in AuditEntry.select(AuditEntry.action).distinct().tuples()]
    areas = {action.split(".")[0] + "." for action in present}
    return sorted(areas) + sorted(present)


def object_types() -> list[str]:
    query = AuditEntry.select(AuditEntry.object_type).where(AuditEntry.object_type != "")
    return sorted(row[0] for row in query.distinct().tuples())


def readable_by(viewer: User) -> pw.Expression | None:
    """The entries a viewer may read: all for an administrator.

    Anyone else holding the audit menu reads what they and the people below
    them in the tree did, so the log never tells a manager about another
    team's clients.
    """
    if viewer.is_admin:
        return None
    return AuditEntry.actor.in_(_team(viewer))


def _team(viewer: User) -> pw.SelectQuery:
    below = ProfileTree.load().below(viewer.profile_id)
    return User.select(User.id).where((User.profile.in_(below or {0})) | (User.id == viewer.id))


def actors(viewer: User) -> list[tuple[str, str]]:
    """(email, name) of everyone in the log whose entries the viewer may read."""
    logged = AuditEntry.select(AuditEntry.actor).where(AuditEntry.actor.is_null(False))
    query = User.select(User.email, User.name).where(User.id.in_(logged))
    if not viewer.is_admin:
        query = query.where(User.id.in_(_team(viewer)))
    return list(query.order_by(User.name).tuples())
