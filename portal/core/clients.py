"""Creating, editing and deleting clients, with validation and optimistic locking."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from portal import events
from portal.config import Settings
from portal.core import audit, fields, portfolio, restrictions
from portal.core.models import (
    CLIENT_KINDS,
    CLIENT_STATUSES,
    FISCAL_ID_TYPES,
    SEGMENTS,
    Client,
    Contact,
    User,
    Zone,
)
from portal.core.permissions import Grants
from portal.core.visibility import Scope
from portal.database import db, utcnow
from portal.i18n import current_language
from portal.i18n import gettext as _
from portal.text import clean, is_digits, parse_id

TEXT_LIMITS = {
    "name": 200,
    "zone": 100,
    "address": 1000,
    "city": 100,
    "postal_code": 20,
    "province": 100,
    "notes": 10_000,
}
EDITABLE = (
    "name", "kind", "status", "is_supplier", "segment", "zone", "owner",
    "fiscal_id_type", "fiscal_id", "email", "phone", "mobile", "address", "city",
    "postal_code", "province", "country", "website", "notes", "latitude",
    "longitude", "visible_to_all", "discount", "annual_revenue", "employees",
    "marketing_opt_out",
)  # fmt: skip


@dataclass
class ClientForm:
    """Posted text turned into field values, or a message per field."""

    raw: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def validate(
    raw: dict[str, str],
    scope: Scope,
    settings: Settings,
    grants: Grants,
    current: Client | None = None,
) -> ClientForm:
    """Check a posted client form; `current` is the client being edited, if any.

    Fields the profile may not change are not offered; when one is absent its
    current value stands, and when one is sent anyway it is refused unless it
    leaves the value as it was.
    """
    kept = form_from_client(current) if current is not None else {}
    for name in restrictions.locked_fields(grants):
        if name not in raw:
            raw = {**raw, name: kept.get(name, "")}
    form = ClientForm(raw=raw)
    values, errors = form.values, form.errors
    for name, limit in TEXT_LIMITS.items():
        values[name] = clean(raw.get(name, ""))
        if len(values[name]) > limit:
            errors[name] = _("At most %(n)s characters.", n=limit)
    if not values["name"]:
        errors["name"] = _("The name is required.")

    for name, allowed in (
        ("kind", CLIENT_KINDS),
        ("status", CLIENT_STATUSES),
        ("segment", ("", *SEGMENTS)),
    ):
        values[name] = raw.get(name, "")
        if values[name] not in allowed:
            errors[name] = _("Choose one of the options.")
    values["is_supplier"] = raw.get("is_supplier") == "on"
    values["visible_to_all"] = raw.get("visible_to_all") == "on"
    values["marketing_opt_out"] = raw.get("marketing_opt_out") == "on"

    id_type = raw.get("fiscal_id_type", "")
    if id_type not in ("", *FISCAL_ID_TYPES):
        errors["fiscal_id_type"] = _("Choose one of the options.")
    else:
        normalise_id = lambda v: fields.normalise_fiscal_id(v, id_type or None)  # noqa: E731
        _convert(form, "fiscal_id", normalise_id, empty=("", ""))
        if "fiscal_id" in values:
            values["fiscal_id_type"], values["fiscal_id"] = values["fiscal_id"]
    region = settings.phone_region
    _convert(form, "email", fields.normalise_email)
    _convert(form, "phone", lambda v: fields.normalise_phone(v, region))
    _convert(form, "mobile", lambda v: fields.normalise_phone(v, region))
    _convert(form, "website", fields.normalise_website)
    _convert(form, "country", fields.normalise_country, empty=settings.phone_region)
    _coordinate(form, "latitude", 90)
    _coordinate(form, "longitude", 180)
    _percentage(form, "discount")
    _convert(form, "annual_revenue", parse_amount, empty=None)
    _convert(form, "employees", _headcount, empty=None)
    zones = portfolio.zones()
    _zone(form, current, zones)
    if not errors:
        portfolio.place(values, zones, portfolio.segment_rule())

    owner_id = parse_id(raw.get("owner", ""))
    owner = None
    if owner_id is not None:
        owner = scope.may_own().where(User.id == owner_id).first()
    if owner is None and current is not None and owner_id == current.owner_id:
        # Keeping the owner is always allowed, even one who has since left.
        owner = User.get_by_id(current.owner_id)
    if owner is None:
        errors["owner"] = _("Choose an owner among the people you can see.")
    values["owner"] = owner
    for name, message in restrictions.client_refusals(values, grants, current).items():
        errors.setdefault(name, message)
    return form


def convert(
    raw: dict[str, str],
    values: dict[str, Any],
    errors: dict[str, str],
    name: str,
    normalise: Any,
    empty: Any = "",
) -> None:
    """Store the normalised `raw[name]` in `values`, or its message in `errors`."""
    text = clean(raw.get(name, ""))
    if not text:
        values[name] = empty
        return
    try:
        values[name] = normalise(text)
    except fields.FieldError as error:
        errors[name] = error.translated()


def _convert(form: ClientForm, name: str, normalise: Any, empty: Any = "") -> None:
    convert(form.raw, form.values, form.errors, name, normalise, empty)


def _coordinate(form: ClientForm, name: str, bound: int) -> None:
    text = clean(form.raw.get(name, "")).replace(",", ".")
    form.values[name] = None
    if not text:
        return
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or abs(number) > bound:
        form.errors[name] = _("A number between -%(n)s and %(n)s.", n=bound)
    else:
        form.values[name] = number.quantize(Decimal("0.000001"))


def _percentage(form: ClientForm, name: str) -> None:
    text = clean(form.raw.get(name, "")).replace(",", ".").removesuffix("%").strip()
    form.values[name] = Decimal(0)
    if not text:
        return
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or not 0 <= number <= 100:
        form.errors[name] = _("A percentage between 0 and 100.")
    else:
        form.values[name] = number.quantize(Decimal("0.01"))


# Amounts stop below 100 billion (10^11), which no small company's deal or
# client revenue reaches: a larger figure is a typing slip.
AMOUNT_LIMIT = fields.AMOUNT_LIMIT


def parse_amount(text: str) -> Decimal:
    """A non-negative amount typed in the user's language (`fields.parse_amount`)."""
    return fields.parse_amount(text, current_language.get())


def _headcount(text: str) -> int:
    digits = text.replace(".", "").replace(",", "").replace(" ", "")
    if not is_digits(digits) or len(digits) > 9:
        raise fields.FieldError("A whole number of people.")
    return int(digits)


def _zone(form: ClientForm, current: Client | None, zones: list[Zone]) -> None:
    """With zones configured, the zone is one of them (or kept as it was)."""
    chosen = form.values["zone"]
    names = {zone.name for zone in zones}
    if chosen and names and chosen not in names and (current is None or chosen != current.zone):
        form.errors["zone"] = _(
            "Choose one of the zones, or leave it empty to place it by postal code."
        )


def create_client(form: ClientForm, *, actor: User | None = None) -> Client:
    client = Client(**{name: form.values[name] for name in EDITABLE})
    client.reindex()
    with db.atomic():
        client.save()
        events.emit("client_created", client_id=client.id, actor_id=actor.id if actor else None)
    return client


def update_client(
    client: Client, form: ClientForm, version: int, *, actor: User | None = None, ip: str = ""
) -> bool:
    """Save the edit unless someone else saved first; False means a conflict.

    A new owner is written to the audit log in the same transaction.
    """
    previous_owner = client.owner_id
    for name in EDITABLE:
        setattr(client, name, form.values[name])
    client.reindex()
    changes = {name: getattr(client, name) for name in (*EDITABLE, "search_text", "sort_name")}
    changes["owner"] = client.owner.id
    with db.atomic():
        updated = (
            Client.update(**changes, version=Client.version + 1, updated_at=utcnow())
            .where(Client.id == client.id, Client.version == version)
            .execute()
        )
        if updated == 1 and client.owner.id != previous_owner:
            events.emit(
                "client_reassigned",
                client_ids=[client.id],
                owner_id=client.owner.id,
                actor_id=actor.id if actor else None,
            )
            before = User.get_by_id(previous_owner)
            audit.record(
                "clients.owner.changed",
                actor=actor,
                target=client,
                before={"owner_id": before.id, "owner_name": before.name},
                after={"owner_id": client.owner.id, "owner_name": client.owner.name},
                ip=ip,
            )
    return updated == 1


# What the audit log keeps of a deleted client.
DELETION_RECORD = (
    "name", "kind", "status", "is_supplier", "segment", "zone", "fiscal_id_type",
    "fiscal_id", "email", "phone", "city", "country", "visible_to_all",
)  # fmt: skip


def delete_client(client: Client, *, actor: User | None = None, ip: str = "") -> None:
    with db.atomic():
        owner = User.get_by_id(client.owner_id)
        before = {name: getattr(client, name) for name in DELETION_RECORD}
        before.update(owner_id=owner.id, owner_name=owner.name, contacts=client.contacts.count())
        audit.record("clients.deleted", actor=actor, target=client, before=before, ip=ip)
        Client.delete().where(Client.id == client.id).execute()


def delete_contact(contact: Contact, *, actor: User | None = None, ip: str = "") -> None:
    with db.atomic():
        client = Client.get_by_id(contact.client_id)
        before = {name: getattr(contact, name) for name in ("name", "position", "email", "phone")}
        before.update(client_id=client.id, client_name=client.name)
        audit.record("contacts.deleted", actor=actor, target=contact, before=before, ip=ip)
        Contact.delete().where(Contact.id == contact.id).execute()


def form_from_client(client: Client) -> dict[str, str]:
    """A client's values as the edit form shows them."""
    raw: dict[str, str] = {}
    for name in EDITABLE:
        value = getattr(client, name if name != "owner" else "owner_id")
        if isinstance(value, bool):
            raw[name] = "on" if value else ""
        else:
            raw[name] = "" if value is None else str(value)
    return raw


def empty_form(owner: User | None, country: str) -> dict[str, str]:
    owner_id = str(owner.id) if owner else ""
    return {"kind": "company", "status": "lead", "country": country, "owner": owner_id}
