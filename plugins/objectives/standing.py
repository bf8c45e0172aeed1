"""Roll-up and attainment: who an objective counts, and how far along it is.

A person's objective counts what they and everyone whose profile lies below
theirs achieve; a profile's objective counts its holders together and everyone
below the profile. The tree is the one the visibility scope walks, so the
people an objective counts are always people its viewer may see.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from plugins.objectives.models import Objective
from plugins.objectives.periods import Period
from portal.core.reports import DailyTotal, Measure
from portal.core.visibility import ProfileTree

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
# Ahead of pace from 10 % over the even pace: a day's deal more than the
# pace is still "on pace", not worth a word of its own.
AHEAD_OF_PACE = Decimal("1.10")


class Team:
    """People by profile, and the tree above them; built once per request."""

    def __init__(self, tree: ProfileTree, people: Iterable[tuple[int, str, int, bool]]) -> None:
        self.tree = tree
        self.name: dict[int, str] = {}
        self.profile_of: dict[int, int] = {}
        self.holders: dict[int, list[int]] = defaultdict(list)
        self.active: set[int] = set()
        for user_id, name, profile_id, is_active in people:
            self.name[user_id] = name
            self.profile_of[user_id] = profile_id
            self.holders[profile_id].append(user_id)
            if is_active:
                self.active.add(user_id)
        self._below: dict[int, frozenset[int]] = {}

    def people_below(self, profile_id: int) -> frozenset[int]:
        """Users whose profile lies strictly below `profile_id`."""
        found = self._below.get(profile_id)
        if found is None:
            profiles = self.tree.below(profile_id)
            found = frozenset(u for p in profiles for u in self.holders.get(p, ()))
            self._below[profile_id] = found
        return found

    def members(self, objective: Objective) -> frozenset[int]:
        """Whose figures the objective adds up."""
        if objective.user_id is not None:
            profile = self.profile_of.get(objective.user_id)
            below = self.people_below(profile) if profile is not None else frozenset()
            return below | {objective.user_id}
        return self.people_below(objective.profile_id) | set(
            self.holders.get(objective.profile_id, ())
        )

    def directly_below(self, objective: Objective) -> list[int]:
        """Whom a split shares the objective among: active people one step down.

        For a person, the holders of the profiles right under theirs; for a
        profile, its own holders, who carry its objective together.
        """
        if objective.user_id is not None:
            profile = self.profile_of.get(objective.user_id)
            profiles = self.tree.children.get(profile, ()) if profile is not None else ()
        else:
            profiles = (objective.profile_id,)
        found = [u for p in profiles for u in self.holders.get(p, ()) if u in self.active]
        return sorted(found, key=lambda u: (self.name[u].casefold(), u))

    def has_people_below(self, objective: Objective) -> bool:
        return len(self.members(objective)) > 1


class Figures:
    """Daily totals per measure and person, added up over any group of people."""

    def __init__(self, rows: Iterable[DailyTotal]) -> None:
        self.days: dict[tuple[str, int], dict[date, Decimal]] = defaultdict(dict)
        for row in rows:
            days = self.days[(row.measure, row.user_id)]
            days[row.day] = days.get(row.day, Decimal(0)) + row.value

    def by_day(
        self, measure: str, people: Iterable[int], period: Period, until: date | None = None
    ) -> dict[date, Decimal]:
        """Each day's sum over `people` within `period`, up to `until` when given."""
        found: dict[date, Decimal] = defaultdict(Decimal)
        start, end = period.start, period.end
        if until is not None:
            end = min(end, until)
        empty: dict[date, Decimal] = {}
        for person in people:
            for day, value in self.days.get((measure, person), empty).items():
                if start <= day <= end:
                    found[day] += value
        return dict(found)

    def total(
        self, measure: str, people: Iterable[int], period: Period, until: date | None = None
    ) -> Decimal:
        return sum(self.by_day(measure, people, period, until).values(), Decimal(0))


@dataclass
class Standing:
    """Where one objective stands on `today`: `actual` and `own` count up to today."""

    objective: Objective
    who: str
    measure: Measure
    period: Period
    today: date
    actual: Decimal
    own: Decimal  # the part credited to the person alone (0 for a profile)
    rolled_up: bool  # counts people below as well
    daily: dict[date, Decimal] = field(default_factory=dict)

    @property
    def target(self) -> Decimal:
        return self.objective.target

    @property
    def percent(self) -> Decimal:
        return percent(self.actual, self.target)

    @property
    def gap(self) -> Decimal:
        """What is still missing; nothing once the target is reached."""
        return max(self.target - self.actual, Decimal(0))

    @property
    def team_part(self) -> Decimal:
        return self.actual - self.own

    @property
    def days_left(self) -> int:
        return self.period.days_left(self.today)

    @property
    def expected(self) -> Decimal:
        """Where an even pace would be by the end of today."""
        elapsed = self.period.days - self.period.days_left(self.today)
        if self.period.contains(self.today):
            elapsed += 1
        return self.target * elapsed / self.period.days

    @property
    def reached(self) -> bool:
        return self.target > 0 and self.actual >= self.target

    @property
    def exceeded(self) -> bool:
        return self.target > 0 and self.actual > self.target

    @property
    def started(self) -> bool:
        return self.today >= self.period.start

    @property
    def ahead(self) -> bool:
        """At least `AHEAD_OF_PACE` times the even pace, short of the target."""
        return self.actual >= self.expected * AHEAD_OF_PACE and not self.reached

    @property
    def on_pace(self) -> bool:
        """At or past the even pace but neither `ahead` nor `reached`."""
        return self.expected <= self.actual and not self.ahead and not self.reached


@dataclass
class Ranking:
    """The team's standings on one measure over one period, best attained first."""

    measure: Measure
    period: Period
    standings: list[Standing]


def rank(standings: Iterable[Standing], measure_order: Sequence[str]) -> list[Ranking]:
    """One ranking per measure and period: months, then quarters, then years.

    Percentages of calls in a quarter and of euros in a month tell nothing of
    each other, so a ranking never mixes measures or periods.
    """
    groups: dict[tuple[str, Period], list[Standing]] = defaultdict(list)
    for standing in standings:
        groups[(standing.measure.key, standing.period)].append(standing)
    position = {key: index for index, key in enumerate(measure_order)}

    def order(key: tuple[str, Period]) -> tuple:
        metric, period = key
        return (period.months, period.start, position.get(metric, len(position)), metric)

    return [
        Ranking(
            measure=groups[key][0].measure,
            period=key[1],
            standings=sorted(
                groups[key], key=lambda s: (-s.percent, s.who.casefold(), s.objective.id)
            ),
        )
        for key in sorted(groups, key=order)
    ]


def percent(actual: Decimal, target: Decimal) -> Decimal:
    if target <= 0:
        return Decimal(0)
    return (actual * 100 / target).quantize(TENTH, rounding=ROUND_HALF_UP)


def split_even(total: Decimal, parts: int, unit: Decimal = CENT) -> list[Decimal]:
    """`total` in `parts` shares of whole `unit`s that add up to it exactly.

    The units left over go one each to the first shares: cents for money,
    whole things (`unit=Decimal(1)`) for a count.
    """
    if parts <= 0:
        return []
    units = int((total / unit).to_integral_value(rounding=ROUND_DOWN))
    base, rest = divmod(units, parts)
    shares = [Decimal(base + (1 if index < rest else 0)) * unit for index in range(parts)]
    # Whatever lay below the unit (a target is stored in whole units, so nothing).
    shares[0] += total - sum(shares, Decimal(0))
    return [share.quantize(CENT) for share in shares]


def stand(
    objective: Objective,
    who: str,
    measure: Measure,
    team: Team,
    figures: Figures,
    today: date,
    *,
    daily: bool = False,
) -> Standing:
    period = Period(objective.period, objective.starts_on)
    members = team.members(objective)
    # A deal dated after today (a won opportunity closing on the 1st, say)
    # is not done yet: the figures, the pace and the chart's line all stop at
    # today, so a past period counts whole and a future one counts nothing.
    by_day = figures.by_day(objective.metric, members, period, until=today)
    own = Decimal(0)
    if objective.user_id is not None:
        own = figures.total(objective.metric, (objective.user_id,), period, until=today)
    return Standing(
        objective=objective,
        who=who,
        measure=measure,
        period=period,
        today=today,
        actual=sum(by_day.values(), Decimal(0)),
        own=own,
        rolled_up=len(members) > 1,
        daily=by_day if daily else {},
    )
