"""Merging two clients into one: the user picks each surviving value, the rest moves.

Every row of every model the portal knows (the core's and those plugins
register) that points to the merged-away client through a foreign key is
repointed to the survivor, in the transaction that deletes the merged-away
client, so nothing is left behind and no half-merged state is ever seen.
Contacts with the same email become one contact. Where a unique index would
be broken by a repointed row, the survivor already holds that row (a tag
both clients had) and the merged-away copy is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import peewee as pw
import pluggy

from portal import events
from portal.core import audit, consent, portfolio, restrictions
from portal.core.clients import DELETION_RECORD, TEXT_LIMITS
from portal.core.models import Client, ClientMerge, ConsentRecord, Contact, User, Zone
from portal.core.permissions import Grants
from portal.core.visibility import Scope
from portal.database import db, utcnow
from portal.i18n import N_
from portal.i18n import gettext as _
from portal.plugins import known_models
from portal.text import clean

SURVIVOR, OTHER, BOTH = "survivor", "other", "both"


@dataclass(frozen=True)
class MergeField:
    """One choice on the merge page: a field, or fields that only make sense together."""

    key: str
    label: str  # a msgid, translated where it is shown
    columns: tuple[str, ...]

    def of(self, client: Client) -> tuple:
        return tuple(getattr(client, _attribute(column)) for column in self.columns)


def _attribute(column: str) -> str:
    return "owner_id" if column == "owner" else column


FIELDS = (
    MergeField("name", N_("Name"), ("name",)),
    MergeField("kind", N_("Kind"), ("kind",)),
    MergeField("status", N_("Status"), ("status",)),
    MergeField("is_supplier", N_("Supplier"), ("is_supplier",)),
    MergeField("segment", N_("Segment"), ("segment",)),
    MergeField("zone", N_("Zone"), ("zone",)),
    MergeField("owner", N_("Owner"), ("owner",)),
    MergeField("fiscal_id", N_("Tax ID"), ("fiscal_id_type", "fiscal_id")),
    MergeField("email", N_("Email"), ("email",)),
    MergeField("phone", N_("Phone"), ("phone",)),
    MergeField("mobile", N_("Mobile"), ("mobile",)),
    MergeField("address", N_("Address"), ("address",)),
    MergeField("postal_code", N_("Postal code"), ("postal_code",)),
    MergeField("city", N_("City"), ("city",)),
    MergeField("province", N_("Province / state"), ("province",)),
    MergeField("country", N_("Country"), ("country",)),
    MergeField("website", N_("Website"), ("website",)),
    MergeField("coordinates", N_("Coordinates"), ("latitude", "longitude")),
    MergeField("annual_revenue", N_("Annual revenue"), ("annual_revenue",)),
    MergeField("employees", N_("Employees"), ("employees",)),
    MergeField("registered_on", N_("Registered on"), ("registered_on",)),
    MergeField("external_id", N_("External ID"), ("external_id",)),
    MergeField("discount", N_("Discount"), ("discount",)),
    MergeField("visible_to_all", N_("Visible to all users"), ("visible_to_all",)),
    MergeField("notes", N_("Notes"), ("notes",)),
)
_KEY_OF_COLUMN = {column: f.key for f in FIELDS for column in f.columns}
# Notes can be kept from both sides; any other field is one side's.
_BOTH_ALLOWED = {"notes"}


def differing(survivor: Client, other: Client) -> list[MergeField]:
    return [f for f in FIELDS if f.of(survivor) != f.of(other)]


def _blank(values: tuple) -> bool:
    return all(value in (None, "") for value in values)


def joined_notes(first: str, second: str) -> str:
    return clean(f"{first}\n\n{second}")


class Conflict(Exception):
    """Either client was changed by someone else since the merge page was read."""


@dataclass
class Plan:
    """Which side each differing field keeps, and why a choice is refused."""

    survivor: Client
    other: Client
    picks: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    # The administrator's placing rules, read once: the merged client follows them.
    zones: list[Zone] = field(default_factory=list)
    rule: portfolio.SegmentRule = field(default_factory=portfolio.SegmentRule)

    @property
    def ok(self) -> bool:
        return not self.errors

    def values(self) -> dict[str, Any]:
        """The survivor's values after the merge, by column."""
        values: dict[str, Any] = {}
        for merge_field in FIELDS:
            pick = self.picks.get(merge_field.key, SURVIVOR)
            source = self.other if pick == OTHER else self.survivor
            values.update(zip(merge_field.columns, merge_field.of(source), strict=True))
        if self.picks.get("notes") == BOTH:
            values["notes"] = joined_notes(self.survivor.notes, self.other.notes)
        # As when the client is saved from its form: an empty zone is found from
        # the address, and a segment rule decides from the revenue or staff kept.
        portfolio.place(values, self.zones, self.rule)
        # Either side asking for no marketing is enough: the same business asked.
        values["marketing_opt_out"] = (
            self.survivor.marketing_opt_out or self.other.marketing_opt_out
        )
        return values

    def by_rules(self) -> dict[str, str]:
        """Zone and segment as the placing rules set them, where they differ from the pick."""
        values = self.values()
        placed = {}
        for key in ("zone", "segment"):
            source = self.other if self.picks.get(key) == OTHER else self.survivor
            if values[key] != getattr(source, key):
                placed[key] = values[key]
        return placed

    def changed(self) -> dict[str, Any]:
        """The columns whose value the merge changes on the survivor."""
        return {
            column: value
            for column, value in self.values().items()
            if getattr(self.survivor, _attribute(column)) != value
        }


def plan(
    survivor: Client,
    other: Client,
    grants: Grants,
    scope: Scope,
    raw: dict[str, str] | None = None,
) -> Plan:
    """The user's choices from a posted form, or the ones offered first when `raw` is None.

    Offered first: the survivor's value, unless it is blank and the other one
    is not and the user may set it. A posted choice the user's profile may not
    make is refused at its field, as the edit form would refuse it.
    """
    picks: dict[str, str] = {}
    errors: dict[str, str] = {}
    for merge_field in differing(survivor, other):
        key = merge_field.key
        if raw is None:
            gap = _blank(merge_field.of(survivor)) and not _blank(merge_field.of(other))
            picks[key] = OTHER if gap else SURVIVOR
            continue
        pick = raw.get(f"pick_{key}", SURVIVOR)
        if pick not in (SURVIVOR, OTHER) and not (pick == BOTH and key in _BOTH_ALLOWED):
            errors[key] = _("Choose one of the options.")
            pick = SURVIVOR
        picks[key] = pick
    if survivor.erased_at or other.erased_at:
        # Merging would bring personal data back into, or next to, an erased record.
        errors["erased"] = _("A client whose personal data was erased cannot be merged.")
    result = Plan(survivor, other, picks, errors, portfolio.zones(), portfolio.segment_rule())
    refused = _refusals(result, grants, scope)
    if raw is None:
        # An offer the user may not make falls back to what the survivor has.
        for key in refused:
            result.picks[key] = SURVIVOR
    else:
        for key, message in refused.items():
            errors.setdefault(key, message)
    return result


def _refusals(merge_plan: Plan, grants: Grants, scope: Scope) -> dict[str, str]:
    values = merge_plan.values()
    survivor = merge_plan.survivor
    refused = {
        _KEY_OF_COLUMN.get(column, column): message
        for column, message in restrictions.client_refusals(values, grants, survivor).items()
    }
    if values["owner"] != survivor.owner_id:
        allowed = scope.may_own().where(User.id == values["owner"]).exists()
        if not allowed:
            refused["owner"] = _("Choose an owner among the people you can see.")
    limit = TEXT_LIMITS["notes"]
    if len(values["notes"]) > limit:
        refused["notes"] = _("Together the notes are longer than %(n)s characters.", n=limit)
    return refused


# ------------------------------------------------------------ what moves


def references(models: tuple[type[pw.Model], ...], target: type[pw.Model]) -> list:
    """Every foreign key to `target` among `models`."""
    return [
        ref
        for model in models
        for ref in model._meta.refs
        if ref.rel_model is target and model is not target
    ]


def _unique_partners(ref: pw.ForeignKeyField) -> list[list[pw.Field]]:
    """For each unique index holding `ref`, the other columns in it."""
    meta = ref.model._meta
    groups: list[list[pw.Field]] = []
    if ref.primary_key or ref.unique:
        groups.append([])
    if isinstance(meta.primary_key, pw.CompositeKey) and ref.name in meta.primary_key.field_names:
        groups.append([meta.fields[n] for n in meta.primary_key.field_names if n != ref.name])
    for index in meta.fields_to_index():
        columns = index._expressions
        if index._unique and ref in columns and all(isinstance(c, pw.Field) for c in columns):
            groups.append([column for column in columns if column is not ref])
    return groups


def _clashing(ref: pw.ForeignKeyField, partners: list[pw.Field], old: int, new: int) -> Any:
    """Rows of `old` that the same row of `new` already stands for."""
    twin = ref.model.alias()
    same = [getattr(twin, ref.name) == new]
    same += [getattr(twin, partner.name) == partner for partner in partners]
    return (ref == old) & pw.fn.EXISTS(twin.select(pw.SQL("1")).where(*same))


def _repoint(ref: pw.ForeignKeyField, old: int, new: int) -> None:
    for partners in _unique_partners(ref):
        ref.model.delete().where(_clashing(ref, partners, old, new)).execute()
    ref.model.update({ref: new}).where(ref == old).execute()


def _emails(contact: Contact) -> list[str]:
    found = (contact.email.strip().casefold(), contact.email_alt.strip().casefold())
    return [email for email in found if email]


def contact_pairs(survivor_id: int, other_id: int) -> list[tuple[int, Contact]]:
    """(kept contact id, contact merged into it) for every email both clients hold."""
    kept: dict[str, int] = {}
    for contact in Contact.select().where(Contact.client == survivor_id).order_by(Contact.id):
        for email in _emails(contact):
            kept.setdefault(email, contact.id)
    pairs = []
    for contact in Contact.select().where(Contact.client == other_id).order_by(Contact.id):
        match = next((kept[email] for email in _emails(contact) if email in kept), None)
        if match is not None:
            pairs.append((match, contact))
    return pairs


@dataclass(frozen=True)
class Moving:
    """Rows of one table that go to the survivor; `joined` of them meet a twin there."""

    table: str
    label: str  # a msgid for the core's tables, the table name for a plugin's
    rows: int
    joined: int


# Tables the merge page always lists, and what it calls them.
_TABLE_LABELS = {
    "contact": N_("Contacts"),
    "activity": N_("Activities"),
    "opportunity": N_("Opportunities"),
    "client_tag": N_("Tags"),
    "consent_record": N_("Consent records"),
    "client_merge": N_("Clients merged into it before"),
}
_ALWAYS_LISTED = ("contact", "activity", "opportunity", "client_tag")


def summary(models: tuple[type[pw.Model], ...], survivor_id: int, other_id: int) -> list[Moving]:
    """What the merge moves, table by table: the core's first, then plugins' with rows."""
    found: dict[str, Moving] = {}
    for ref in references(models, Client):
        table = ref.model._meta.table_name
        rows = ref.model.select().where(ref == other_id).count()
        if table == "contact":
            joined = len(contact_pairs(survivor_id, other_id))
        else:
            joined = 0
            for partners in _unique_partners(ref):
                clashes = ref.model.select().where(_clashing(ref, partners, other_id, survivor_id))
                joined = max(joined, clashes.count())
        previous = found.get(table)
        if previous is not None:  # a second foreign key to clients in one table
            rows, joined = rows + previous.rows, joined + previous.joined
        found[table] = Moving(table, _TABLE_LABELS.get(table, table), rows, joined)
    listed = [found[t] for t in _ALWAYS_LISTED if t in found]
    return listed + [m for t, m in found.items() if t not in _ALWAYS_LISTED and m.rows]


# ------------------------------------------------------------ the merge


def merge(
    merge_plan: Plan,
    plugins: pluggy.PluginManager,
    *,
    survivor_version: int,
    other_version: int,
    actor: User | None,
    ip: str = "",
) -> list[Moving]:
    """Merge the other client into the survivor; what moved, or `Conflict`.

    Both clients must still be at the versions the user saw: otherwise nothing
    changes. Plugins hear `client_merged` once the merge is committed, so call
    this outside any transaction of your own.
    """
    if not merge_plan.ok:
        raise ValueError(f"refused choices: {sorted(merge_plan.errors)}")
    survivor, other = merge_plan.survivor, merge_plan.other
    models = known_models(plugins)
    changes = merge_plan.changed()
    before = {column: getattr(survivor, _attribute(column)) for column in changes}
    with db.atomic():
        moved = summary(models, survivor.id, other.id)
        _update_survivor(survivor, changes, survivor_version)
        # Taking the other client's version now makes a concurrent edit of it fail.
        held = (
            Client.update(version=Client.version + 1)
            .where(Client.id == other.id, Client.version == other_version)
            .execute()
        )
        if held != 1:
            raise Conflict
        for kept_id, gone in contact_pairs(survivor.id, other.id):
            _merge_contact(kept_id, gone, models, survivor, actor, ip)
        for ref in references(models, Client):
            _repoint(ref, other.id, survivor.id)
        # SQLite may hand a deleted id out again; an old redirect for it is void.
        ClientMerge.delete().where(ClientMerge.merged_id == other.id).execute()
        Client.delete().where(Client.id == other.id).execute()
        ClientMerge.create(merged_id=other.id, survivor=survivor.id, actor=actor)
        if changes.get("marketing_opt_out"):
            ConsentRecord.create(
                client=survivor.id, email=survivor.email, state="withdrawn", method="merge",
                evidence=_evidence(survivor.id, other.id), actor=actor, ip=ip[:45],
            )  # fmt: skip
        audit.record(
            "clients.merged",
            actor=actor,
            target=survivor,
            before={**before, "merged_client": _snapshot(other)},
            after={
                **changes,
                "survivor_id": survivor.id,
                "merged_id": other.id,
                "picked": {key: pick for key, pick in merge_plan.picks.items() if pick != SURVIVOR},
                "moved": {m.table: m.rows for m in moved if m.rows},
            },
            ip=ip,
        )
        events.emit(
            "client_merged",
            survivor_id=survivor.id,
            merged_id=other.id,
            actor_id=actor.id if actor is not None else None,
        )
    return moved


def _update_survivor(survivor: Client, changes: dict[str, Any], version: int) -> None:
    for column, value in changes.items():
        setattr(survivor, _attribute(column), value)
    survivor.reindex()
    updated = (
        Client.update(
            **changes,
            search_text=survivor.search_text,
            sort_name=survivor.sort_name,
            version=Client.version + 1,
            updated_at=utcnow(),
        )
        .where(Client.id == survivor.id, Client.version == version)
        .execute()
    )
    if updated != 1:
        raise Conflict
    survivor.version = version + 1


def _snapshot(client: Client) -> dict[str, Any]:
    owner = User.get_by_id(client.owner_id)
    values = {name: getattr(client, name) for name in DELETION_RECORD}
    values.update(id=client.id, owner_id=owner.id, owner_name=owner.name)
    return values


def _evidence(survivor_id: int, other_id: int) -> str:
    return f"client {other_id} merged into client {survivor_id}"


def _combined_consent(first: Contact, second: Contact) -> str:
    """A withdrawal on either side wins, even over a later consent on the other.

    The two records are the same person written down twice; which one is newer
    cannot be trusted, and mailing someone who said no cannot be undone.
    """
    states = {first.marketing_consent, second.marketing_consent}
    return next((state for state in ("withdrawn", "given") if state in states), "")


def _merge_contact(
    kept_id: int,
    gone: Contact,
    models: tuple[type[pw.Model], ...],
    survivor: Client,
    actor: User | None,
    ip: str,
) -> None:
    """Fold `gone` into the survivor's contact with the same email."""
    kept = Contact.get_by_id(kept_id)
    changes: dict[str, Any] = {}
    for name in ("position", "phone", "mobile", "language"):
        if not getattr(kept, name) and getattr(gone, name):
            changes[name] = getattr(gone, name)
    held = set(_emails(kept))
    extra = [
        email for email in (gone.email, gone.email_alt) if email and email.casefold() not in held
    ]
    if extra and not kept.email_alt:
        changes["email_alt"] = extra[0]
    if gone.notes and gone.notes != kept.notes:
        changes["notes"] = joined_notes(kept.notes, gone.notes) if kept.notes else gone.notes
    if changes:
        Contact.update(**changes, updated_at=utcnow()).where(Contact.id == kept.id).execute()

    for ref in references(models, Contact):
        _repoint(ref, gone.id, kept.id)
    Contact.delete().where(Contact.id == gone.id).execute()
    state = _combined_consent(kept, gone)
    if state != kept.marketing_consent:
        # The earlier evidence of both sides now hangs off `kept`; this says why it changed.
        evidence = _evidence(survivor.id, gone.client_id)
        consent.record(kept, state, "merge", evidence=evidence, actor=actor, ip=ip[:45])
