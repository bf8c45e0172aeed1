"""Roll-up and splitting, checked against a deliberately naive reference.

The reference climbs from each person's profile to the top, one parent at a
time, asking whether it passes the objective's profile; it shares no code
with `plugins.objectives.standing`, which walks the tree downwards.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from plugins.objectives.models import Objective
from plugins.objectives.periods import MONTH, Period
from plugins.objectives.standing import AHEAD_OF_PACE, Figures, Standing, Team, split_even, stand
from portal.core.reports import DailyTotal, Measure
from portal.core.visibility import ProfileTree

MEASURE = "opportunities.won_value"
PERIOD = Period(MONTH, date(2025, 3, 1))


@st.composite
def companies(draw: st.DrawFn) -> SimpleNamespace:
    """Random trees (each profile's parent comes before it), people and figures."""
    size = draw(st.integers(1, 8))
    parents = [None] + [
        draw(st.one_of(st.none(), st.integers(0, index - 1))) for index in range(1, size)
    ]
    people = draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=12))
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(people) - 1),
                st.integers(-5, 35),
                st.integers(0, 100_000),
            ),
            max_size=40,
        )
    )
    target = draw(st.one_of(st.tuples(st.just("user"), st.integers(0, len(people) - 1)),
                            st.tuples(st.just("profile"), st.integers(0, size - 1))))  # fmt: skip
    return SimpleNamespace(parents=parents, people=people, rows=rows, target=target)


def reference_total(company: SimpleNamespace) -> Decimal:
    kind, index = company.target

    def above_or_at(profile: int, top: int) -> bool:
        current: int | None = profile
        while current is not None:
            if current == top:
                return True
            current = company.parents[current]
        return False

    def strictly_below(profile: int, top: int) -> bool:
        return profile != top and above_or_at(profile, top)

    total = Decimal(0)
    for person, offset, cents in company.rows:
        day = PERIOD.start + timedelta(days=offset)
        if not PERIOD.contains(day):
            continue
        profile = company.people[person]
        if kind == "user":
            counted = person == index or strictly_below(profile, company.people[index])
        else:
            counted = above_or_at(profile, index)
        if counted:
            total += Decimal(cents) / 100
    return total


@given(company=companies())
def test_roll_up_matches_the_reference(company: SimpleNamespace) -> None:
    # Profile ids and user ids start at 1, as in the database.
    heads = [sum(1 for p in company.people if p == index) for index in range(len(company.parents))]
    tree = ProfileTree(
        (index + 1, None if parent is None else parent + 1, "hierarchical", False, heads[index])
        for index, parent in enumerate(company.parents)
    )
    team = Team(
        tree,
        [(n + 1, f"P{n}", profile + 1, True) for n, profile in enumerate(company.people)],
    )
    figures = Figures(
        DailyTotal(MEASURE, person + 1, PERIOD.start + timedelta(days=offset), Decimal(cents) / 100)
        for person, offset, cents in company.rows
    )
    kind, index = company.target
    objective = SimpleNamespace(
        id=1,
        user_id=index + 1 if kind == "user" else None,
        profile_id=index + 1 if kind == "profile" else None,
        period=PERIOD.kind,
        starts_on=PERIOD.start,
        metric=MEASURE,
        target=Decimal("1000.00"),
    )
    standing = stand(objective, "Who", SimpleNamespace(unit="money"), team, figures, PERIOD.end)
    assert standing.actual == reference_total(company)


@given(
    total=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e9"), places=2),
    parts=st.integers(1, 60),
)
def test_even_split_adds_up_exactly_to_the_cent(total: Decimal, parts: int) -> None:
    shares = split_even(total, parts)
    assert len(shares) == parts
    assert sum(shares, Decimal(0)) == total
    assert max(shares) - min(shares) <= Decimal("0.01")
    assert all(share == share.quantize(Decimal("0.01")) for share in shares)


def test_even_split_gives_the_leftover_cents_to_the_first() -> None:
    assert split_even(Decimal("100.00"), 3) == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]


def test_ahead_of_pace_starts_at_the_documented_margin_over_the_even_pace() -> None:
    """By 10 March an even pace has done 10/31 of a month's 3,100: 1,000."""

    def standing(actual: str) -> Standing:
        objective = Objective(period=MONTH, starts_on=PERIOD.start, target=Decimal("3100.00"))
        measure = Measure(MEASURE, "Won", "money")
        today = date(2025, 3, 10)
        return Standing(
            objective, "Ana", measure, PERIOD, today, Decimal(actual), Decimal(0), False
        )

    assert AHEAD_OF_PACE == Decimal("1.10")
    assert standing("1100.00").ahead and not standing("1100.00").on_pace
    assert standing("1099.99").on_pace and not standing("1099.99").ahead
    assert not standing("999.99").on_pace and not standing("999.99").ahead
    done = standing("3100.00")
    assert done.reached and not done.ahead and not done.on_pace


def test_a_standing_counts_the_period_only_up_to_today() -> None:
    """Whatever is dated after today, within the period or not, is not done yet."""
    tree = ProfileTree([(1, None, "hierarchical", False, 1), (2, 1, "hierarchical", False, 1)])
    team = Team(tree, [(1, "Boss", 1, True), (2, "Ana", 2, True)])
    figures = Figures(
        DailyTotal(MEASURE, person, day, Decimal(value))
        for person, day, value in [
            (1, date(2025, 3, 2), "10"),
            (2, date(2025, 3, 20), "100"),
            (2, date(2025, 3, 21), "1000"),
            (1, date(2025, 3, 31), "5"),
        ]
    )
    objective = SimpleNamespace(
        id=1,
        user_id=1,
        profile_id=None,
        period=PERIOD.kind,
        starts_on=PERIOD.start,
        metric=MEASURE,
        target=Decimal("2000.00"),
    )

    def on(today: date) -> Standing:
        unit = SimpleNamespace(unit="money")
        return stand(objective, "Boss", unit, team, figures, today, daily=True)

    now = on(date(2025, 3, 20))
    assert (now.actual, now.own, now.team_part) == (Decimal(110), Decimal(10), Decimal(100))
    assert now.gap == Decimal(1890) and now.percent == Decimal("5.5")
    assert max(now.daily) == date(2025, 3, 20)
    assert on(date(2025, 4, 1)).actual == Decimal(1115)
    assert on(date(2025, 2, 28)).actual == Decimal(0)
