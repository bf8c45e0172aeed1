"""Mass actions on clients: reassign, tag, untag, set zone, segment or status, delete.

A selection is either ticked rows or "every client matching these filters"; it
is always read through the user's scope, so a crafted id outside it is simply
not there. Clients the user sees but may not change (shared by another team)
are counted as refused, never touched. Work goes in batches, each in its own
transaction, reporting progress after each one; the summary says what changed
and what was refused, and the audit log keeps who did what to which clients.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import peewee as pw

from portal import events
from portal.core import audit, listing, portfolio, restrictions
from portal.core.clients import DELETION_RECORD
from portal.core.models import (
    CLIENT_STATUSES,
    SEGMENTS,
    BulkJob,
    Client,
    ClientTag,
    Tag,
    User,
)
from portal.core.permissions import Grants
from portal.core.visibility import Scope
from portal.database import db, utcnow
from portal.i18n import N_
from portal.i18n import gettext as _
from portal.text import parse_id

logger = logging.getLogger(__name__)

KINDS = {
    "reassign": N_("Give to another owner"),
    "tag": N_("Add a tag"),
    "untag": N_("Remove a tag"),
    "zone": N_("Change the zone"),
    "segment": N_("Change the segment"),
    "status": N_("Change the status"),
    "delete": N_("Delete"),
}
BATCH = 500
# Selections above this many clients run in the background with a progress bar.
BACKGROUND_AT = 2000
MAX_TICKED = 10_000
AUDITED_IDS = 1000


@dataclass(frozen=True)
class Selection:
    """Ticked client ids, or every client matching `filters` when `everything`."""

    ids: tuple[int, ...] = ()
    filters: listing.ClientFilters | None = None

    @property
    def everything(self) -> bool:
        return self.filters is not None

    def visible(self, scope: Scope) -> pw.SelectQuery:
        if self.filters is not None:
            return listing.filtered_clients(scope, self.filters, Client.select(Client.id))
        return scope.clients(Client.select(Client.id)).where(Client.id.in_(list(self.ids)))

    def changeable(self, scope: Scope) -> pw.SelectQuery:
        return scope.changeable(self.visible(scope))

    def as_json(self) -> dict[str, Any]:
        if self.filters is None:
            return {"ids": list(self.ids)}
        return {"filters": self.filters.params()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Selection:
        if "filters" in data:
            return cls(filters=listing.ClientFilters.from_params(data["filters"]))
        return cls(ids=tuple(int(i) for i in data.get("ids", ())))


def selection_from(form: dict[str, Any], ticked: list[str]) -> Selection:
    """The selection a list form posts: `all=on` with its filters, or ticked ids."""
    if form.get("all") == "on":
        params = {key: value for key, value in form.items() if isinstance(value, str)}
        return Selection(filters=listing.ClientFilters.from_params(params))
    ids = {parse_id(value) for value in ticked[:MAX_TICKED]}
    return Selection(ids=tuple(sorted(i for i in ids if i is not None)))


@dataclass(frozen=True)
class Action:
    kind: str
    value: str = ""
    # What the value means to a person: the owner's or the tag's name.
    label: str = ""


def validate(
    raw: dict[str, str], scope: Scope, grants: Grants
) -> tuple[Action | None, dict[str, str]]:
    """The action posted, or a message for the field that is wrong."""
    kind, value = raw.get("action", ""), raw.get("value", "").strip()
    if kind not in KINDS:
        return None, {"action": _("Choose what to do.")}
    if kind == "reassign":
        owner = scope.may_own().where(User.id == parse_id(value)).first()
        if owner is None:
            return None, {"value": _("Choose an owner among the people you can see.")}
        return Action(kind, str(owner.id), owner.name), {}
    if kind in ("tag", "untag"):
        tag = Tag.get_or_none(Tag.id == parse_id(value)) if parse_id(value) else None
        if tag is None:
            return None, {"value": _("Choose a tag.")}
        if not restrictions.may_tag(grants, tag):
            message = _("Your profile may not assign or remove: %(tags)s.", tags=tag.name)
            return None, {"value": message}
        return Action(kind, str(tag.id), tag.name), {}
    if kind == "zone":
        names = [zone.name for zone in portfolio.zones()]
        # Without configured zones the zone is free text, as on the client form.
        allowed: tuple[str, ...] | None = ("", *names) if names else None
        value = value[:100]
    else:
        allowed = {"status": CLIENT_STATUSES, "segment": ("", *SEGMENTS)}.get(kind)
    if allowed is not None and value not in allowed:
        return None, {"value": _("Choose one of the options.")}
    return Action(kind, value, value), {}


@dataclass
class Outcome:
    selected: int = 0
    changed: int = 0
    unchanged: int = 0
    # Visible clients the user may not change: shared by another team.
    refused: int = 0
    ids: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "selected": self.selected,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "refused": self.refused,
        }


@dataclass(frozen=True)
class Plan:
    """What the user is about to do, for the confirmation step."""

    selected: int
    changeable: int

    @property
    def refused(self) -> int:
        return self.selected - self.changeable

    @property
    def background(self) -> bool:
        return self.changeable > BACKGROUND_AT


def plan(selection: Selection, scope: Scope) -> Plan:
    return Plan(selection.visible(scope).count(), selection.changeable(scope).count())


def _batches(query: pw.SelectQuery) -> Iterator[list[int]]:
    """The ids of `query` in batches, read once up front so changes do not shift them."""
    ids = [client_id for (client_id,) in query.order_by(Client.id).tuples()]
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def apply(
    action: Action,
    selection: Selection,
    scope: Scope,
    *,
    actor: User,
    ip: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Do `action` to the selected clients this user may change; count the rest."""
    outcome = Outcome(selected=selection.visible(scope).count())
    batches = list(_batches(selection.changeable(scope)))
    total = sum(len(batch) for batch in batches)
    outcome.refused = outcome.selected - total
    done = 0
    for batch in batches:
        with db.atomic():
            # The scope again, inside the transaction: a client that moved out
            # of reach since the ids were read is left alone.
            still = scope.changeable(Client.select(Client.id)).where(Client.id.in_(batch))
            ids = [client_id for (client_id,) in still.tuples()]
            changed = _CHANGES[action.kind](action, ids, actor, ip)
        outcome.changed += changed
        outcome.unchanged += len(ids) - changed
        outcome.refused += len(batch) - len(ids)
        outcome.ids += ids
        done += len(batch)
        if progress is not None:
            progress(done, total)
    audit.record(
        f"clients.bulk.{action.kind}",
        actor=actor,
        label=action.label,
        after={"value": action.value, **outcome.as_json(), "ids": outcome.ids[:AUDITED_IDS]},
        ip=ip,
    )
    return outcome


def _bump(**values: Any) -> dict[str, Any]:
    return {**values, "version": Client.version + 1, "updated_at": utcnow()}


def _set(name: str) -> Callable[[Action, list[int], User, str], int]:
    def change(action: Action, ids: list[int], actor: User, ip: str) -> int:
        field_ = getattr(Client, name)
        query = Client.update(**_bump(**{name: action.value}))
        return query.where(Client.id.in_(ids), field_ != action.value).execute()

    return change


def _reassign(action: Action, ids: list[int], actor: User, ip: str) -> int:
    owner = User.get_by_id(int(action.value))
    moving = list(
        Client.select(Client.id, Client.name, Client.owner)
        .where(Client.id.in_(ids), Client.owner != owner.id)
        .tuples()
    )
    previous = {u.id: u.name for u in User.select().where(User.id.in_({o for *_, o in moving}))}
    for client_id, name, old_owner in moving:
        audit.record(
            "clients.owner.changed", actor=actor, ip=ip,
            target=Client(id=client_id), label=name,
            before={"owner_id": old_owner, "owner_name": previous.get(old_owner, "")},
            after={"owner_id": owner.id, "owner_name": owner.name},
        )  # fmt: skip
    if not moving:
        return 0
    moved = [client_id for client_id, *_ in moving]
    events.emit("client_reassigned", client_ids=moved, owner_id=owner.id, actor_id=actor.id)
    return Client.update(**_bump(owner=owner.id)).where(Client.id.in_(moved)).execute()


def _tag(action: Action, ids: list[int], actor: User, ip: str) -> int:
    tag_id = int(action.value)
    query = ClientTag.select(ClientTag.client).where(
        ClientTag.tag == tag_id, ClientTag.client.in_(ids)
    )
    tagged = {client_id for (client_id,) in query.tuples()}
    new = [client_id for client_id in ids if client_id not in tagged]
    if new:
        ClientTag.insert_many([{"client": i, "tag": tag_id} for i in new]).execute()
        Client.update(**_bump()).where(Client.id.in_(new)).execute()
    return len(new)


def _untag(action: Action, ids: list[int], actor: User, ip: str) -> int:
    tag_id = int(action.value)
    tagged = [
        client_id
        for (client_id,) in ClientTag.select(ClientTag.client)
        .where(ClientTag.tag == tag_id, ClientTag.client.in_(ids))
        .tuples()
    ]
    if tagged:
        ClientTag.delete().where(ClientTag.tag == tag_id, ClientTag.client.in_(tagged)).execute()
        Client.update(**_bump()).where(Client.id.in_(tagged)).execute()
    return len(tagged)


def _delete(action: Action, ids: list[int], actor: User, ip: str) -> int:
    columns = [getattr(Client, name) for name in DELETION_RECORD]
    for client in Client.select(Client.id, Client.owner, *columns).where(Client.id.in_(ids)):
        before = {name: getattr(client, name) for name in DELETION_RECORD}
        before["owner_id"] = client.owner_id
        audit.record("clients.deleted", actor=actor, target=client, before=before, ip=ip)
    return Client.delete().where(Client.id.in_(ids)).execute()


_CHANGES: dict[str, Callable[[Action, list[int], User, str], int]] = {
    "reassign": _reassign,
    "tag": _tag,
    "untag": _untag,
    "zone": _set("zone"),
    "segment": _set("segment"),
    "status": _set("status"),
    "delete": _delete,
}


# -- in the background ----------------------------------------------------------------


def queue_job(action: Action, selection: Selection, user: User, ip: str, total: int = 0) -> BulkJob:
    return BulkJob.create(
        user=user, action=action.kind, value=action.value, label=action.label[:200],
        selection=json.dumps(selection.as_json()), ip=ip, total=total,
    )  # fmt: skip


def run_job(job_id: int) -> BulkJob | None:
    """Run a queued mass action to its end, recording progress after each batch.

    The job is claimed by moving it from queued to running in one statement, so
    a job delivered twice runs once. The user's scope is read now, not when the
    job was queued: someone moved or deactivated meanwhile changes nothing more.
    """
    claimed = (
        BulkJob.update(status="running")
        .where(BulkJob.id == job_id, BulkJob.status == "queued")
        .execute()
    )
    if not claimed:
        return BulkJob.get_or_none(BulkJob.id == job_id)
    job = BulkJob.get_by_id(job_id)
    user = User.get_by_id(job.user_id)

    def progress(done: int, total: int) -> None:
        BulkJob.update(processed=done, total=total).where(BulkJob.id == job_id).execute()

    try:
        if not user.is_active:
            raise PermissionError("the user who asked for it is no longer active")
        action = Action(job.action, job.value, job.label)
        selection = Selection.from_json(json.loads(job.selection))
        scope = Scope.for_user(user)
        outcome = apply(action, selection, scope, actor=user, ip=job.ip, progress=progress)
        BulkJob.update(
            status="done", outcome=json.dumps(outcome.as_json()), finished_at=utcnow()
        ).where(BulkJob.id == job_id).execute()
    except Exception as exc:
        logger.exception("mass action %s failed", job_id)
        BulkJob.update(status="failed", error=str(exc)[:500], finished_at=utcnow()).where(
            BulkJob.id == job_id
        ).execute()
    return BulkJob.get_by_id(job_id)
