"""Funnel figures of a pipeline, per person and rolled up the profile tree.

The cohort is the opportunities of the pipeline created in the period, among
those the viewer's scope shows. Figures are sums first (`Tally`), so a team's
are its people's added up, and ratios last:

- an opportunity *reached* an open stage when its history entered that stage
  or a later one, or it was won (a deal created at Proposal reached
  Qualification too); conversion from a stage to the next is reached(next) /
  reached(stage), and from the last open stage to Won is won / reached(last);
- days in a stage average the stays that ended (the opportunity moved on);
  an opportunity still there does not count yet;
- the win rate is won / (won + lost); the average deal size, the won amount
  over the number won, rounded half-up to the cent.

A person's team is everyone their own scope covers (themselves and everyone
below them in the tree), within what the viewer sees.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from portal.core.models import Opportunity, Pipeline, Stage, StageChange, User
from portal.core.pipelines import label, stages_of
from portal.core.visibility import Scope

PERIODS = (30, 90, 365)
_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")
_DAY_SECONDS = Decimal(86_400)


@dataclass
class Tally:
    """Counts and sums that add up across people."""

    count: int = 0
    won: int = 0
    lost: int = 0
    won_amount: Decimal = Decimal("0.00")
    reached: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    stay_seconds: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    stays: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def __iadd__(self, other: Tally) -> Tally:
        self.count += other.count
        self.won += other.won
        self.lost += other.lost
        self.won_amount += other.won_amount
        for mine, theirs in (
            (self.reached, other.reached),
            (self.stay_seconds, other.stay_seconds),
            (self.stays, other.stays),
        ):
            for key, value in theirs.items():
                mine[key] += value
        return self

    @property
    def win_rate(self) -> Decimal | None:
        closed = self.won + self.lost
        return _ratio(self.won, closed)

    @property
    def average_deal(self) -> Decimal | None:
        if not self.won:
            return None
        return (self.won_amount / self.won).quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class StageFigures:
    stage: Stage
    name: str
    reached: int
    # Percent of those that reached this stage who reached the next (or won).
    conversion: Decimal | None
    average_days: Decimal | None


@dataclass
class Row:
    """One person: their own opportunities, and their team's when they have one."""

    user: User
    own: Tally
    team: Tally | None


def _ratio(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / whole).quantize(_TENTH, rounding=ROUND_HALF_UP)


def tallies(
    scope: Scope, pipeline: Pipeline, since: datetime | None
) -> tuple[dict[int, Tally], list[Stage]]:
    """Each owner's tally over the cohort (two queries), and the pipeline's stages."""
    stages = stages_of(pipeline)
    open_order = {s.id: i for i, s in enumerate(s for s in stages if s.kind == "open")}
    cohort = scope.opportunities(
        Opportunity.select(Opportunity.id).where(Opportunity.pipeline == pipeline.id)
    )
    if since is not None:
        cohort = cohort.where(Opportunity.created_at >= since)
    columns = (
        Opportunity.id,
        Opportunity.owner,
        Opportunity.status,
        Opportunity.amount,
        Opportunity.stage,
    )
    # The cohort itself brings the columns; as a subquery it also picks the history.
    rows = list(cohort.select(*columns).tuples())
    history: dict[int, list[tuple[datetime, int, int]]] = defaultdict(list)
    changes = (
        StageChange.select(
            StageChange.opportunity, StageChange.at, StageChange.id, StageChange.to_stage
        )  # fmt: skip
        .where(StageChange.opportunity.in_(cohort))
        .tuples()
    )
    for opportunity, at, key, to_stage in changes:
        history[opportunity].append((at, key, to_stage))

    by_owner: dict[int, Tally] = defaultdict(Tally)
    last_open = len(open_order) - 1
    for key, owner, status, amount, stage in rows:
        tally = by_owner[owner]
        tally.count += 1
        if status == "won":
            tally.won += 1
            tally.won_amount += amount
        elif status == "lost":
            tally.lost += 1
        entries = sorted(history.get(key, ()))
        furthest = last_open if status == "won" else -1
        for _at, _id, entered in entries:
            furthest = max(furthest, open_order.get(entered, -1))
        furthest = max(furthest, open_order.get(stage, -1))
        for stage_id, index in open_order.items():
            if index <= furthest:
                tally.reached[stage_id] += 1
        for (at, _id, entered), (left_at, _next, _to) in zip(entries, entries[1:], strict=False):
            if entered in open_order:
                tally.stay_seconds[entered] += int((left_at - at).total_seconds())
                tally.stays[entered] += 1
    return by_owner, stages


def stage_figures(tally: Tally, stages: list[Stage]) -> list[StageFigures]:
    """Reach, conversion to the next open stage (the last: to won) and days, per open stage."""
    open_stages = [stage for stage in stages if stage.kind == "open"]
    figures = []
    for index, stage in enumerate(open_stages):
        reached = tally.reached.get(stage.id, 0)
        if index + 1 < len(open_stages):
            onward = tally.reached.get(open_stages[index + 1].id, 0)
        else:
            onward = tally.won
        stays = tally.stays.get(stage.id, 0)
        days = None
        if stays:
            seconds = Decimal(tally.stay_seconds[stage.id]) / stays
            days = (seconds / _DAY_SECONDS).quantize(_TENTH, rounding=ROUND_HALF_UP)
        figures.append(StageFigures(stage, label(stage), reached, _ratio(onward, reached), days))
    return figures


def rows_for(scope: Scope, by_owner: dict[int, Tally]) -> tuple[list[Row], Tally]:
    """A row per visible person with opportunities of their own or in their team.

    The total is everything the viewer sees in the cohort.
    """
    people = list(
        scope.users().select(User.id, User.name, User.profile).order_by(User.name, User.id)
    )
    profile_of = {person.id: person.profile_id for person in people}
    owners = set(by_owner)
    # Owners no longer active (or outside the list) still count in teams and total.
    missing = owners - set(profile_of)
    if missing:
        for key, profile in User.select(User.id, User.profile).where(User.id.in_(missing)).tuples():
            profile_of[key] = profile
    total = Tally()
    for tally in by_owner.values():
        total += tally
    rows = []
    for person in people:
        own = by_owner.get(person.id, Tally())
        theirs = Scope(person, scope.tree)
        team_owners = [owner for owner in owners if theirs.covers(owner, profile_of[owner])]
        team = None
        if any(owner != person.id for owner in team_owners):
            team = Tally()
            for owner in team_owners:
                team += by_owner[owner]
        if own.count or team is not None:
            rows.append(Row(person, own, team))
    return rows, total
