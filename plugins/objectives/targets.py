"""Setting, changing, splitting and deleting objectives; each change is audited.

Forms arrive as text; `read_form` turns them into values or messages keyed by
field, so every message shows next to its field. Writes happen in one
transaction with their audit entries (`objectives.objective.created`, …).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

import peewee as pw

from plugins.objectives.access import Access
from plugins.objectives.models import Objective
from plugins.objectives.periods import Period
from plugins.objectives.standing import split_even
from portal.core import audit, clients
from portal.core.fields import FieldError, parse_decimal
from portal.core.models import User
from portal.core.reports import COUNT, Sources
from portal.database import db, utcnow
from portal.i18n import N_, current_language, format_number
from portal.i18n import gettext as _
from portal.text import parse_id


@dataclass(frozen=True)
class Values:
    user_id: int | None
    profile_id: int | None
    period: Period
    metric: str
    target: Decimal
    # The objective this one is a share of, once split.
    parent_id: int | None = None

    def audited(self, who: str) -> dict[str, object]:
        entry: dict[str, object] = {
            "who": who,
            "period": self.period.token,
            "metric": self.metric,
            # SQLite reads 2000.00 back as 2000: the audit shows cents either way.
            "target": self.target.quantize(Decimal("0.01")),
        }
        if self.parent_id is not None:
            entry["parent"] = self.parent_id
        return entry


def parse_amount(text: str, unit: str) -> Decimal | str:
    """An amount of zero or more, or the message explaining why the text is not one.

    The core reads it (`portal.core.clients.parse_amount`), so objectives
    take amounts as the client form does and stay within what every
    database stores to the cent.
    """
    try:
        value = clients.parse_amount(text)
    except FieldError as error:
        return error.translated()
    if unit == COUNT and value != value.to_integral_value():
        return _("This measure counts things: write a whole number.")
    return value


# A share may be zero (it removes one's objective), a target may not: the
# core's "zero or more" is wrong for it, so the target field has its own.
TARGET_RANGE = N_("The target must be greater than zero and below 100 billion.")


def parse_target(text: str, unit: str) -> Decimal | str:
    """A target above zero, or the message explaining why the text is not one."""
    value = parse_amount(text, unit)
    if isinstance(value, Decimal):
        return value if value > 0 else _(TARGET_RANGE)
    if _out_of_range(text):
        return _(TARGET_RANGE)
    return value


def _out_of_range(text: str) -> bool:
    """A number the target's range refuses, as against one badly written."""
    try:
        number = parse_decimal(text, current_language.get(), exponent=False)
    except FieldError:
        return False
    return not 0 < number < clients.AMOUNT_LIMIT


def offered(today: date) -> range:
    """The years whose periods the form offers: last year, this one and next."""
    return range(today.year - 1, today.year + 2)


FIRST_YEAR = 2000


def accepted(period: Period, today: date) -> bool:
    """From 2000 (history) to the end of next year, as the form offers at most."""
    return FIRST_YEAR <= period.start.year <= today.year + 1


def read_form(
    raw: dict[str, str],
    access: Access,
    sources: Sources,
    today: date,
    kept: Period | None = None,
) -> Values | dict[str, str]:
    """The values of an objective form, or the messages for its fields.

    The period is one the form offers, or `kept` (the one an objective
    being changed already has).
    """
    errors: dict[str, str] = {}
    user_id = profile_id = None
    kind, _sep, key = raw.get("who", "").partition(":")
    number = parse_id(key) or 0
    if kind == "user" and access.may_set_user(number):
        user_id = number
    elif kind == "profile" and access.may_set_profile(number):
        profile_id = number
    else:
        errors["who"] = _("Choose a person or a profile of your team.")
    period = Period.parse(raw.get("period", ""))
    # The form offers three years; an earlier one may still be recorded for
    # history (a posted form outlives New Year), never one past next year.
    if period is not None and period != kept and not accepted(period, today):
        period = None
    if period is None:
        errors["period"] = _("Choose one of the months, quarters or years offered.")
    measure = sources.measure(raw.get("metric", ""))
    if measure is None:
        errors["metric"] = _("Choose what the objective measures.")
    target = parse_target(raw.get("target", ""), measure.unit if measure else "")
    if isinstance(target, str):
        errors["target"] = target
    if errors:
        return errors
    assert period is not None and measure is not None and isinstance(target, Decimal)
    return Values(user_id, profile_id, period, measure.key, target)


def _same(values: Values, exclude: int | None = None) -> Objective | None:
    query = Objective.select().where(
        (Objective.period == values.period.kind)
        & (Objective.starts_on == values.period.start)
        & (Objective.metric == values.metric)
        & (
            (Objective.user == values.user_id)
            if values.user_id is not None
            else (Objective.profile == values.profile_id)
        )
    )
    if exclude is not None:
        query = query.where(Objective.id != exclude)
    return query.first()


DUPLICATE = N_("There is already an objective for them with this measure in this period.")


def create(values: Values, who: str, actor: User, ip: str) -> Objective | dict[str, str]:
    with db.atomic():
        if _same(values) is not None:
            return {"metric": _(DUPLICATE)}
        objective = Objective.create(
            user=values.user_id,
            profile=values.profile_id,
            period=values.period.kind,
            starts_on=values.period.start,
            metric=values.metric,
            target=values.target,
            parent=values.parent_id,
            created_by=actor,
        )
        audit.record(
            "objectives.objective.created",
            actor=actor,
            target=objective,
            label=label(who, values.period, values.metric),
            after=values.audited(who),
            ip=ip,
        )
    return objective


def current(objective: Objective) -> Values:
    return Values(
        objective.user_id,
        objective.profile_id,
        Period(objective.period, objective.starts_on),
        objective.metric,
        objective.target,
        objective.parent_id,
    )


def change(
    objective: Objective, values: Values, who: str, was: str, actor: User, ip: str
) -> Objective | dict[str, str]:
    if values.parent_id is None:
        # The form does not carry the link: a changed share stays a share.
        values = replace(values, parent_id=objective.parent_id)
    with db.atomic():
        if _same(values, exclude=objective.id) is not None:
            return {"metric": _(DUPLICATE)}
        before, after = audit.changes(current(objective).audited(was), values.audited(who))
        if not after:
            return objective
        objective.user = values.user_id
        objective.profile = values.profile_id
        objective.period = values.period.kind
        objective.starts_on = values.period.start
        objective.metric = values.metric
        objective.target = values.target
        objective.parent = values.parent_id
        objective.updated_at = utcnow()
        objective.save()
        audit.record(
            "objectives.objective.changed",
            actor=actor,
            target=objective,
            label=label(who, values.period, values.metric),
            before=before,
            after=after,
            ip=ip,
        )
    return objective


def delete(objective: Objective, who: str, actor: User, ip: str) -> None:
    values = current(objective)
    with db.atomic():
        audit.record(
            "objectives.objective.deleted",
            actor=actor,
            target=objective,
            label=label(who, values.period, values.metric),
            before=values.audited(who),
            ip=ip,
        )
        objective.delete_instance()


def label(who: str, period: Period, metric: str) -> str:
    # Stored once with keys, not words: the audit page words it in each
    # reader's language (`auditing._objective` reads this shape back).
    return f"{who} · {period.token} · {metric}"


# -- splitting ---------------------------------------------------------------------


def even_shares(objective: Objective, people: list[int], unit: str) -> dict[int, Decimal]:
    """Even shares to the cent, or in whole things for a count."""
    step = Decimal(1) if unit == COUNT else Decimal("0.01")
    return dict(zip(people, split_even(objective.target, len(people), step), strict=True))


def read_shares(
    raw: dict[str, str], objective: Objective, people: list[int], unit: str
) -> dict[int, Decimal] | dict[str, str]:
    """Shares typed by hand, checked one by one and then against the whole.

    Errors are keyed `share-<id>` for a field, and `shares` for the sum.
    """
    if not people:
        return {"shares": _("Nobody is directly below to share it with.")}
    if raw.get("mode") == "even":
        return even_shares(objective, people, unit)
    errors: dict[str, str] = {}
    shares: dict[int, Decimal] = {}
    for person in people:
        text = raw.get(f"share-{person}", "").strip() or "0"
        value = parse_amount(text, unit)
        if isinstance(value, str):
            errors[f"share-{person}"] = value
        else:
            shares[person] = value
    if errors:
        return errors
    total = sum(shares.values(), Decimal(0))
    if total != objective.target:
        return {
            "shares": _(
                "The shares add up to %(total)s, but the objective is %(target)s: "
                "they must add up to it exactly.",
                total=format_number(total),
                target=format_number(objective.target),
            )
        }
    return shares


def _existing(objective: Objective, people: list[int], visible: pw.Expression) -> list[Objective]:
    """The objectives these people already have for the measure and period of `objective`."""
    if not people:
        return []
    return list(
        Objective.select()
        .where(
            Objective.user.in_(sorted(people))
            & (Objective.period == objective.period)
            & (Objective.starts_on == objective.starts_on)
            & (Objective.metric == objective.metric)
            & visible
        )
        .order_by(Objective.id)
    )


def replacing(objective: Objective, people: list[int], visible: pw.Expression) -> list[Objective]:
    """What splitting `objective` among `people` changes or removes, so asks about first.

    A person's own objective for the same measure and period, or their share
    of another whole; their earlier shares of `objective` itself are left
    out, as splitting it again is how those are re-set. `visible` is the
    viewer's condition (`Access.condition`): what they may not see is never
    listed, nor touched by `split`.
    """
    return [o for o in _existing(objective, people, visible) if o.parent_id != objective.id]


@dataclass(frozen=True)
class Unconfirmed:
    """A split left unwritten: it replaces objectives the user has not confirmed replacing."""

    replacing: list[Objective]


def split(
    objective: Objective,
    shares: dict[int, Decimal],
    names: dict[int, str],
    actor: User,
    ip: str,
    *,
    visible: pw.Expression,
    confirmed: Collection[int] = (),
) -> list[Objective] | Unconfirmed:
    """Give each person their share as an objective of their own, linked to the whole.

    A person who already has an objective for the same measure and period gets
    it changed; a share of zero removes theirs. Unless it is a share of this
    same whole, its id must be among `confirmed` (the ids the page listed),
    or nothing is written and `Unconfirmed` says what the split would replace.
    """
    period = Period(objective.period, objective.starts_on)
    written: list[Objective] = []
    with db.atomic():
        # Read inside the transaction: an objective set since the page was shown
        # is asked about too.
        found = _existing(objective, list(shares), visible)
        others = [o for o in found if o.parent_id != objective.id]
        if any(o.id not in confirmed for o in others):
            return Unconfirmed(others)
        existing = {row.user_id: row for row in found}
        for person, share in shares.items():
            values = Values(person, None, period, objective.metric, share, objective.id)
            held = existing.get(person)
            if held is not None and share == 0:
                delete(held, names[person], actor, ip)
            elif held is not None:
                change(held, values, names[person], names[person], actor, ip)
                written.append(held)
            elif share > 0:
                created = create(values, names[person], actor, ip)
                assert isinstance(created, Objective)
                written.append(created)
    return written


def drift(objectives: list[Objective]) -> dict[int, Decimal]:
    """What the shares of each split objective add up to, where not its target.

    Shares can be changed one by one after a split, and the whole re-set:
    the pages flag the mismatch rather than let it pass unseen. One query.
    """
    targets = {o.id: o.target for o in objectives}
    if not targets:
        return {}
    sums = (
        Objective.select(Objective.parent, pw.fn.SUM(Objective.target))
        .where(Objective.parent.in_(sorted(targets)))
        .group_by(Objective.parent)
        .tuples()
    )
    found = {parent: Decimal(str(total or 0)).quantize(Decimal("0.01")) for parent, total in sums}
    return {p: total for p, total in found.items() if total != targets[p]}
