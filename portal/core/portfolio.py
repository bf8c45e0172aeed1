"""Zones and segments: the administrator's rules that place a client in a portfolio.

A zone is picked from the client's postal code (the longest matching prefix of
a zone listing the client's country, or no country at all) or, failing that,
from the country alone. A segment follows the size rule when one is set and the
client's revenue or staff is known; otherwise it stays as the user chose.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import reduce
from typing import Any

import peewee as pw

from portal.core import audit, catalogue
from portal.core.models import Client, Setting, User, Zone
from portal.database import db, utcnow
from portal.i18n import N_
from portal.i18n import gettext as _
from portal.text import clean, is_digits

SEGMENT_RULE_KEY = "clients.segment_rule"
SEGMENT_BASES = {
    "": N_("Chosen by hand on each client"),
    "annual_revenue": N_("By annual revenue"),
    "employees": N_("By number of employees"),
}
_PREFIX = re.compile(r"^[0-9A-Za-z]{1,10}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True)
class SegmentRule:
    """Large from `large` up, medium from `medium` up, small below; "" = manual."""

    basis: str = ""
    large: Decimal | None = None
    medium: Decimal | None = None

    def segment_for(self, values: dict[str, Any]) -> str | None:
        """The segment the rule gives these client values; None leaves it alone."""
        if not self.basis or self.large is None or self.medium is None:
            return None
        size = values.get(self.basis)
        if size is None or size == "":
            return None
        if size >= self.large:
            return "large"
        return "medium" if size >= self.medium else "small"


def segment_rule() -> SegmentRule:
    row = Setting.get_or_none(Setting.key == SEGMENT_RULE_KEY)
    if row is None:
        return SegmentRule()
    stored = json.loads(row.value) or {}
    return SegmentRule(
        stored.get("basis", ""),
        *(Decimal(stored[k]) if stored.get(k) is not None else None for k in ("large", "medium")),
    )


def zones() -> list[Zone]:
    return list(Zone.select().order_by(Zone.position, Zone.name))


def _words(text: str) -> list[str]:
    return [word for word in re.split(r"[\s,;]+", text) if word]


def zone_for(postal_code: str, country: str, known: Iterable[Zone]) -> str:
    """The name of the zone a client at this postal code and country belongs to."""
    code = postal_code.replace(" ", "").upper()
    best, best_length, by_country = "", 0, ""
    for zone in known:
        countries = _words(zone.countries)
        if countries and country not in countries:
            continue
        for prefix in _words(zone.postal_prefixes):
            if code.startswith(prefix.upper()) and len(prefix) > best_length:
                best, best_length = zone.name, len(prefix)
        if countries and not by_country:
            by_country = zone.name
    return best or by_country


def place(values: dict[str, Any], known: Iterable[Zone], rule: SegmentRule) -> None:
    """Fill the zone when left empty, and the segment when the rule decides it."""
    if not values.get("zone"):
        values["zone"] = zone_for(values.get("postal_code", ""), values.get("country", ""), known)
    segment = rule.segment_for(values)
    if segment is not None:
        values["segment"] = segment


# -- administration -------------------------------------------------------------


def validate_zone(raw: dict[str, str], zone: Zone | None) -> tuple[dict, dict[str, str]]:
    """Cleaned zone values and a message per wrong field."""
    errors: dict[str, str] = {}
    name = clean(raw.get("name", ""))
    prefixes = _words(clean(raw.get("postal_prefixes", "")))
    typed_countries = _words(clean(raw.get("countries", "")))
    countries = [c.upper() for c in typed_countries]
    if not name:
        errors["name"] = _("The name is required.")
    elif len(name) > 100:
        errors["name"] = _("At most %(n)s characters.", n=100)
    else:
        same = Zone.select().where(pw.fn.LOWER(Zone.name) == name.lower())
        if zone is not None:
            same = same.where(Zone.id != zone.id)
        if same.exists():
            errors["name"] = _("Another zone already has this name.")
    wrong = [p for p in prefixes if not _PREFIX.match(p)]
    if wrong:
        errors["postal_prefixes"] = _(
            "Letters and digits only, separated by spaces: %(wrong)s", wrong=", ".join(wrong)
        )
    wrong = [c for c in typed_countries if not _COUNTRY.match(c.upper())]
    if wrong:
        errors["countries"] = _(
            "Two-letter country codes (ES, MX, CL…), separated by spaces: %(wrong)s",
            wrong=", ".join(wrong),
        )
    position = raw.get("position", "").strip() or "0"
    if not is_digits(position.removeprefix("-")) or abs(int(position)) > 10_000:
        errors["position"] = _("A whole number.")
    values = {
        "name": name,
        "postal_prefixes": " ".join(dict.fromkeys(prefixes)),
        "countries": " ".join(dict.fromkeys(countries)),
        "position": int(position) if "position" not in errors else 0,
    }
    return values, errors


def save_zone(zone: Zone | None, values: dict, *, actor: User, ip: str) -> Zone:
    """Create or change a zone; a new name is carried to the clients of the old one."""
    with db.atomic():
        catalogue.changed()
        if zone is None:
            zone = Zone.create(**values)
            audit.record("zones.created", actor=actor, target=zone, after=values,
                         label=zone.name, ip=ip)  # fmt: skip
            return zone
        before = {name: getattr(zone, name) for name in values}
        Zone.update(**values).where(Zone.id == zone.id).execute()
        moved = 0
        if values["name"] != zone.name:
            moved = _set_zone(Client.zone == zone.name, values["name"])
        old, new = audit.changes(before, values)
        if moved:
            new["clients_renamed"] = moved
        audit.record("zones.updated", actor=actor, target=zone, before=old, after=new,
                     label=values["name"], ip=ip)  # fmt: skip
        return Zone.get_by_id(zone.id)


def _set_zone(condition: pw.Expression, name: str) -> int:
    """Give matching clients the zone `name`; each edit in progress then conflicts."""
    query = Client.update(zone=name, version=Client.version + 1, updated_at=utcnow()).where(
        condition
    )
    return query.execute()


def delete_zone(zone: Zone, *, actor: User, ip: str) -> int:
    """Remove the zone and clear it from its clients; how many were cleared."""
    with db.atomic():
        cleared = _set_zone(Client.zone == zone.name, "")
        audit.record("zones.deleted", actor=actor, target=zone,
                     before={"name": zone.name, "clients": cleared}, label=zone.name,
                     ip=ip)  # fmt: skip
        zone.delete_instance()
        catalogue.changed()
    return cleared


def clients_in(zone: Zone) -> int:
    return Client.select().where(Client.zone == zone.name).count()


def validate_rule(raw: dict[str, str]) -> tuple[SegmentRule, dict[str, str]]:
    errors: dict[str, str] = {}
    basis = raw.get("basis", "")
    if basis not in SEGMENT_BASES:
        return SegmentRule(), {"basis": _("Choose one of the options.")}
    if not basis:
        return SegmentRule(), errors
    bounds: dict[str, Decimal] = {}
    for name in ("large", "medium"):
        text = clean(raw.get(name, "")).replace(" ", "")
        # Both "1.000.000" and "1,000,000" are a million; a decimal part makes no sense here.
        digits = text.replace(".", "").replace(",", "")
        try:
            value = Decimal(digits)
        except InvalidOperation:
            value = Decimal(-1)
        if not is_digits(digits) or value < 0 or len(digits) > 15:
            errors[name] = _("A whole number, zero or more.")
        else:
            bounds[name] = value
    if not errors and bounds["medium"] >= bounds["large"]:
        errors["medium"] = _("Must be below the threshold for large accounts.")
    if errors:
        return SegmentRule(basis), errors
    return SegmentRule(basis, bounds["large"], bounds["medium"]), errors


def save_rule(rule: SegmentRule, *, actor: User, ip: str) -> None:
    before = segment_rule()
    stored = {
        "basis": rule.basis,
        "large": str(rule.large) if rule.large is not None else None,
        "medium": str(rule.medium) if rule.medium is not None else None,
    }
    with db.atomic():
        Setting.insert(key=SEGMENT_RULE_KEY, value=json.dumps(stored)).on_conflict(
            conflict_target=[Setting.key], update={Setting.value: json.dumps(stored)}
        ).execute()
        audit.record(
            "segments.rule.changed", actor=actor,
            before={"basis": before.basis, "large": _text(before.large),
                    "medium": _text(before.medium)},
            after=stored, label=SEGMENT_RULE_KEY, ip=ip,
        )  # fmt: skip


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Reapplied:
    zones: int
    segments: int


def pending_changes(rule: SegmentRule, known: list[Zone]) -> Reapplied:
    """How many existing clients applying the rules now would change."""
    zone_steps = [condition for condition, _name in _zone_steps(known)]
    segment_steps = [condition for condition, _segment in _segment_steps(rule)]
    return Reapplied(
        zones=Client.select().where(reduce(operator.or_, zone_steps)).count() if zone_steps else 0,
        # The segment conditions never overlap.
        segments=sum(Client.select().where(c).count() for c in segment_steps),
    )


def reapply(rule: SegmentRule, known: list[Zone], *, actor: User, ip: str) -> Reapplied:
    """Place every existing client by the rules, in one transaction, audited."""
    with db.atomic():
        zoned = 0
        for condition, name in _zone_steps(known):
            zoned += _set_zone(condition, name)
        segmented = 0
        for condition, segment in _segment_steps(rule):
            segmented += (
                Client.update(segment=segment, version=Client.version + 1, updated_at=utcnow())
                .where(condition)
                .execute()
            )
        audit.record("portfolio.reapplied", actor=actor,
                     after={"zones": zoned, "segments": segmented}, ip=ip)  # fmt: skip
    return Reapplied(zoned, segmented)


def _zone_steps(known: list[Zone]) -> list[tuple[pw.Expression, str]]:
    """(condition, zone) pairs for clients without a zone, longest prefix first.

    Each step only touches clients still without a zone, so a longer prefix
    applied earlier is never overwritten by a shorter one.
    """
    steps = []
    prefixed = [(prefix.upper(), zone) for zone in known for prefix in _words(zone.postal_prefixes)]
    for prefix, zone in sorted(prefixed, key=lambda item: -len(item[0])):
        condition = (Client.zone == "") & Client.postal_code.startswith(prefix)
        countries = _words(zone.countries)
        if countries:
            condition &= Client.country.in_(countries)
        steps.append((condition, zone.name))
    seen: set[str] = set()
    for zone in known:
        for country in _words(zone.countries):
            if country not in seen:
                seen.add(country)
                steps.append(((Client.zone == "") & (Client.country == country), zone.name))
    return steps


def _segment_steps(rule: SegmentRule) -> list[tuple[pw.Expression, str]]:
    if rule.segment_for({rule.basis: Decimal(0)}) is None:
        return []
    size = getattr(Client, rule.basis)
    known = size.is_null(False)
    return [
        (known & (size >= rule.large) & (Client.segment != "large"), "large"),
        (
            known & (size >= rule.medium) & (size < rule.large) & (Client.segment != "medium"),
            "medium",
        ),
        (known & (size < rule.medium) & (Client.segment != "small"), "small"),
    ]
