"""Setting, changing, splitting and deleting objectives; each change is audited.

Forms arrive as text; `read_form` turns them into values or messages keyed by
field, so every message shows next to its field. Writes happen in one
transaction with their audit entries (`objectives.objective.created`, …).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from plugins.objectives.access import Access
from plugins.objectives.models import Objective
from plugins.objectives.periods import Period
from plugins.objectives.standing import split_even
from portal.core import audit
from portal.core.models import User
from portal.core.reports import COUNT, Sources
from portal.database import db, utcnow
from portal.i18n import N_, format_number
from portal.i18n import gettext as _

LARGEST = Decimal("1e14")


@dataclass(frozen=True)
class Values:
    user_id: int | None
    profile_id: int | None
    period: Period
    metric: str
    target: Decimal

    def audited(self, who: str) -> dict[str, object]:
        return {
            "who": who,
            "period": self.period.token,
            "metric": self.metric,
            # SQLite reads 2000.00 back as 2000: the audit shows cents either way.
            "target": self.target.quantize(Decimal("0.01")),
        }


def parse_amount(text: str, unit: str) -> Decimal | str:
    """A positive amount, or the message explaining why the text is not one."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if "," in cleaned and "." in cleaned:
        # 1.234,56 or 1,234.56: the last mark is the decimal one.
        thousands = "." if cleaned.rfind(",") > cleaned.rfind(".") else ","
        cleaned = cleaned.replace(thousands, "")
    cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return _("Write a number, such as 12000 or 12000.50.")
    if not value.is_finite() or value >= LARGEST:
        return _("Write a number, such as 12000 or 12000.50.")
    if value != value.quantize(Decimal("0.01")):
        return _("Use at most two decimals.")
    if unit == COUNT and value != value.to_integral_value():
        return _("This measure counts things: write a whole number.")
    return value.quantize(Decimal("0.01"))


def read_form(raw: dict[str, str], access: Access, sources: Sources) -> Values | dict[str, str]:
    """The values of an objective form, or the messages for its fields."""
    errors: dict[str, str] = {}
    user_id = profile_id = None
    kind, _sep, key = raw.get("who", "").partition(":")
    number = int(key) if key.isdigit() else 0
    if kind == "user" and access.may_set_user(number):
        user_id = number
    elif kind == "profile" and access.may_set_profile(number):
        profile_id = number
    else:
        errors["who"] = _("Choose a person or a profile of your team.")
    period = Period.parse(raw.get("period", ""))
    if period is None:
        errors["period"] = _("Choose a month, quarter or year.")
    measure = sources.measure(raw.get("metric", ""))
    if measure is None:
        errors["metric"] = _("Choose what the objective measures.")
    target = parse_amount(raw.get("target", ""), measure.unit if measure else "")
    if isinstance(target, str):
        errors["target"] = target
    elif target <= 0:
        errors["target"] = _("The target must be greater than zero.")
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
    )


def change(
    objective: Objective, values: Values, who: str, was: str, actor: User, ip: str
) -> Objective | dict[str, str]:
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
    return f"{who} · {period.token} · {metric}"


# -- splitting ---------------------------------------------------------------------


def even_shares(objective: Objective, people: list[int]) -> dict[int, Decimal]:
    return dict(zip(people, split_even(objective.target, len(people)), strict=True))


def read_shares(
    raw: dict[str, str], objective: Objective, people: list[int], unit: str
) -> dict[int, Decimal] | dict[str, str]:
    """Shares typed by hand, checked one by one and then against the whole.

    Errors are keyed `share-<id>` for a field, and `shares` for the sum.
    """
    if raw.get("mode") == "even":
        return even_shares(objective, people)
    errors: dict[str, str] = {}
    shares: dict[int, Decimal] = {}
    for person in people:
        text = raw.get(f"share-{person}", "").strip() or "0"
        value = parse_amount(text, unit)
        if isinstance(value, str):
            errors[f"share-{person}"] = value
        elif value < 0:
            errors[f"share-{person}"] = _("A share cannot be negative.")
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


def split(
    objective: Objective,
    shares: dict[int, Decimal],
    names: dict[int, str],
    actor: User,
    ip: str,
) -> list[Objective]:
    """Give each person their share as an objective of their own, linked to the whole.

    A person who already has an objective for the same measure and period gets
    it changed; a share of zero removes theirs.
    """
    period = Period(objective.period, objective.starts_on)
    written: list[Objective] = []
    with db.atomic():
        existing = {
            row.user_id: row
            for row in Objective.select().where(
                Objective.user.in_(list(shares))
                & (Objective.period == objective.period)
                & (Objective.starts_on == objective.starts_on)
                & (Objective.metric == objective.metric)
            )
        }
        for person, share in shares.items():
            values = Values(person, None, period, objective.metric, share)
            found = existing.get(person)
            if found is not None and share == 0:
                delete(found, names[person], actor, ip)
            elif found is not None:
                found.parent = objective
                found.save()
                change(found, values, names[person], names[person], actor, ip)
                written.append(found)
            elif share > 0:
                created = create(values, names[person], actor, ip)
                assert isinstance(created, Objective)
                created.parent = objective
                created.save()
                written.append(created)
    return written
