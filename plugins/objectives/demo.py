"""Objectives for `cartera demo`: who may see and set them, and a few months of targets.

Drawn from the demo's seed in a fixed order, so one seed and day give the same
rows. Targets are made bottom-up: a salesperson's is drawn, a manager's is the
sum of the people reporting to them, and each share points to the objective
it was split from, as a split on the page would leave it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date
from decimal import Decimal

from plugins.objectives.access import MANAGE, MENU
from plugins.objectives.models import Objective
from plugins.objectives.periods import MONTH, QUARTER, Period
from portal.core.figures import CALLS, VISITS, WON_VALUE
from portal.core.models import Profile, User
from portal.core.permissions import read_grants, write_grants
from portal.database import utcnow

# measure -> (period kind, lowest, highest) of a salesperson's target.
_TARGETS = {
    WON_VALUE: (MONTH, 8_000, 30_000),
    VISITS: (MONTH, 12, 30),
    CALLS: (QUARTER, 90, 200),
}
# This period and the two before it, so the pages show a history.
_PERIODS_BACK = 3
# A random offset of its own, so the core's demo rows never change with it.
_SEED_OFFSET = 20


def populate(seed: int, today: date) -> None:
    profiles = list(Profile.select().order_by(Profile.id))
    teams = _grant(profiles)
    users = list(
        User.select()
        .where(User.is_active & User.profile.in_([p.id for p in profiles if p.id in teams]))
        .order_by(User.id)
    )
    reports: dict[int, list[User]] = defaultdict(list)
    by_profile = {profile.id: profile for profile in profiles}
    for user in users:
        parent = by_profile[user.profile_id].parent_id
        for boss in users:
            if boss.profile_id == parent:
                reports[boss.id].append(user)
    tops = [user for user in users if by_profile[user.profile_id].parent_id not in teams]
    setter = User.select().where(User.is_admin).order_by(User.id).first()
    rng = random.Random(seed + _SEED_OFFSET)
    rows: list[tuple[User, Period, str, Decimal, User | None]] = []
    for metric, (kind, low, high) in _TARGETS.items():
        period = Period.containing(kind, today)
        for _step in range(_PERIODS_BACK):
            for top in tops:
                _draw(top, None, period, metric, (low, high), reports, rng, rows)
            period = period.previous()
    _insert(rows, setter)


def _grant(profiles: list[Profile]) -> set[int]:
    """Everyone but assistants reads objectives; who has a team sets them.

    Returns the hierarchical profiles whose holders get objectives.
    """
    leads = {p.parent_id for p in profiles if p.parent_id is not None and not p.is_assistant}
    teams = set()
    for profile in profiles:
        if profile.is_assistant:
            continue
        held = read_grants(profile)
        held[MENU] = ""
        if profile.id in leads:
            held[MANAGE] = ""
        write_grants(profile, held)
        profile.save()
        if profile.kind == "hierarchical":
            teams.add(profile.id)
    return teams


def _draw(
    person: User,
    parent: User | None,
    period: Period,
    metric: str,
    bounds: tuple[int, int],
    reports: dict[int, list[User]],
    rng: random.Random,
    rows: list,
) -> Decimal:
    """Append `person`'s objective and their team's; answer its target."""
    index = len(rows)
    rows.append(None)  # the manager's row goes first, its target known at the end
    team = reports.get(person.id, [])
    if team:
        target = sum(
            (_draw(member, person, period, metric, bounds, reports, rng, rows) for member in team),
            Decimal(0),
        )
    else:
        low, high = bounds
        step = 1000 if metric == WON_VALUE else 1
        target = Decimal(rng.randrange(low, high + 1, step))
    rows[index] = (person, period, metric, target, parent)
    return target


def _insert(rows: list, setter: User | None) -> None:
    now = utcnow()
    made: dict[tuple[int, Period, str], int] = {}
    for person, period, metric, target, parent in rows:
        above = made.get((parent.id, period, metric)) if parent is not None else None
        objective = Objective.create(
            user=person,
            period=period.kind,
            starts_on=period.start,
            metric=metric,
            target=target,
            parent=above,
            created_by=setter,
            created_at=now,
            updated_at=now,
        )
        made[(person.id, period, metric)] = objective.id
