"""Report sources: the core's figures per person and day, within the viewer's scope."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import peewee as pw
import pytest

from portal.config import Settings
from portal.core import figures, reports
from portal.core.models import Activity, Client, Opportunity, Pipeline, Profile, Stage, Task, User
from portal.core.reports import DailyTotal, Measure, ReportSource, Sources, daily_totals
from portal.core.visibility import Scope
from portal.database import open_database
from portal.hookspecs import hookimpl
from portal.migrations import migrate
from tests.conftest import client_with_plugin

ZONE = "America/Mexico_City"
START, END = date(2026, 3, 1), date(2026, 3, 31)
KEYS = (
    figures.WON_VALUE,
    figures.WON_COUNT,
    figures.NEW_CUSTOMERS,
    figures.CALLS,
    figures.VISITS,
    figures.MEETINGS,
)


@pytest.fixture
def database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[pw.Database]:
    database = open_database(database_url)
    migrate(database)
    # Six or seven hours behind UTC: evening activity counts on the day before.
    monkeypatch.setattr(reports, "_zone", ZONE)
    yield database
    database.close()


@pytest.fixture
def org(database: pw.Database) -> SimpleNamespace:
    """A CMO over two managers, each over two salespeople, and random records."""
    cmo = Profile.create(name="CMO")
    north = Profile.create(name="North", parent=cmo)
    south = Profile.create(name="South", parent=cmo)
    north_sales = Profile.create(name="North sales", parent=north)
    south_sales = Profile.create(name="South sales", parent=south)
    o = SimpleNamespace()

    def user(name: str, profile: Profile) -> User:
        return User.create(email=f"{name}@example.com", name=name, profile=profile)

    o.cmo, o.north, o.south = user("cmo", cmo), user("north", north), user("south", south)
    o.ana, o.bea = user("ana", north_sales), user("bea", north_sales)
    o.carl, o.dan = user("carl", south_sales), user("dan", south_sales)
    people = [o.cmo, o.north, o.south, o.ana, o.bea, o.carl, o.dan]
    pipeline = Pipeline.create(name="Sales")
    stage = Stage.create(pipeline=pipeline, name="Won", position=1, probability=100, kind="won")
    rng = random.Random(7)
    for number in range(60):
        owner = rng.choice(people)
        client = Client.create(name=f"Client {number}", owner=owner, status="customer")
        for _ in range(rng.randint(0, 3)):
            Opportunity.create(
                client=client,
                owner=rng.choice(people),
                title="Deal",
                amount=Decimal(rng.randint(1, 99999)) / 100,
                status=rng.choice(("won", "won", "open", "lost")),
                pipeline=pipeline,
                stage=stage,
                closed_on=START + timedelta(days=rng.randint(-20, 40)),
            )
        for _ in range(rng.randint(0, 4)):
            # Times near midnight, so UTC and local days differ.
            moment = datetime(2026, 3, 1) + timedelta(
                days=rng.randint(-3, 33),
                hours=rng.choice((0, 3, 5, 6, 7, 12, 22, 23)),
                minutes=rng.choice((0, 30)),
            )
            Activity.create(
                client=client,
                author=rng.choice(people),
                kind=rng.choice(("call", "visit", "email")),
                happened_at=moment,
            )
            Task.create(
                kind=rng.choice(("meeting", "call")),
                title="Meet",
                client=client,
                assignee=rng.choice(people),
                status=rng.choice(("done", "open")),
                completed_at=moment,
            )
    o.people = people
    return o


def naive(team: set[int]) -> dict[tuple[str, int, date], Decimal]:
    """The figures from the written rules, one record at a time in Python."""
    zone = ZoneInfo(reports._zone)

    def local(moment: datetime) -> date:
        return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).date()

    totals: dict[tuple[str, int, date], Decimal] = defaultdict(Decimal)
    first_won: dict[int, date] = {}
    for deal in Opportunity.select():
        if deal.status != "won":
            continue
        first_won[deal.client_id] = min(
            deal.closed_on, first_won.get(deal.client_id, deal.closed_on)
        )
        if deal.owner_id in team and START <= deal.closed_on <= END:
            totals[(figures.WON_VALUE, deal.owner_id, deal.closed_on)] += deal.amount
            totals[(figures.WON_COUNT, deal.owner_id, deal.closed_on)] += 1
    for client in Client.select():
        day = first_won.get(client.id)
        if day and client.owner_id in team and START <= day <= END:
            totals[(figures.NEW_CUSTOMERS, client.owner_id, day)] += 1
    for activity in Activity.select():
        day = local(activity.happened_at)
        kind = {"call": figures.CALLS, "visit": figures.VISITS}.get(activity.kind)
        if kind and activity.author_id in team and START <= day <= END:
            totals[(kind, activity.author_id, day)] += 1
    for task in Task.select():
        day = local(task.completed_at)
        held = task.kind == "meeting" and task.status == "done"
        if held and task.assignee_id in team and START <= day <= END:
            totals[(figures.MEETINGS, task.assignee_id, day)] += 1
    return dict(totals)


def product(user: User) -> dict[tuple[str, int, date], Decimal]:
    scope = Scope.for_user(User.get_by_id(user.id))
    rows = daily_totals(figures.SOURCES, scope, START, END, KEYS)
    keys = [(row.measure, row.user_id, row.day) for row in rows]
    assert len(keys) == len(set(keys)), "a person and day answered twice"
    return {key: row.value for key, row in zip(keys, rows, strict=True)}


def test_totals_match_a_naive_count_for_the_whole_company(org: SimpleNamespace) -> None:
    expected = naive({person.id for person in org.people})
    assert product(org.cmo) == expected
    assert any(key[0] == figures.VISITS for key in expected)
    assert any(key[0] == figures.NEW_CUSTOMERS for key in expected)


def test_days_follow_summer_time_in_the_portals_zone(
    org: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Madrid moves from UTC+1 to UTC+2 on 29 March 2026: 22:30 UTC is then tomorrow."""
    monkeypatch.setattr(reports, "_zone", "Europe/Madrid")
    assert product(org.cmo) == naive({person.id for person in org.people})
    since, until = reports.utc_span(START, END)
    assert reports.offsets("Europe/Madrid", since, until) == [
        (datetime(2026, 3, 29, 1, 0), 60),
        (until, 120),
    ]


def test_a_manager_never_counts_another_teams_records(org: SimpleNamespace) -> None:
    north_team = {org.north.id, org.ana.id, org.bea.id}
    found = product(org.north)
    assert found == naive(north_team)
    assert {key[1] for key in found} <= north_team
    # A salesperson sees only their own figures, not their peer's.
    assert product(org.ana) == naive({org.ana.id})


def test_a_persons_work_counts_the_same_whoever_sees_them(org: SimpleNamespace) -> None:
    """Ana's call and meeting stay hers after the client moves to the South team."""
    client = Client.create(name="Moved", owner=org.ana)
    moment = datetime(2026, 3, 10, 18, 0)
    Activity.create(client=client, author=org.ana, kind="call", happened_at=moment)
    Task.create(
        kind="meeting",
        title="Meet",
        client=client,
        assignee=org.ana,
        status="done",
        completed_at=moment,
    )
    day = date(2026, 3, 10)
    keys = [(figures.CALLS, org.ana.id, day), (figures.MEETINGS, org.ana.id, day)]
    before = {viewer: product(viewer) for viewer in (org.ana, org.north, org.cmo)}
    client.owner = org.carl
    client.save()
    for viewer, found in before.items():
        after = product(viewer)
        # North no longer sees the client, yet counts Ana's work as the CMO does.
        assert [after.get(key) for key in keys] == [found.get(key) for key in keys], viewer.name
        assert all(after.get(key) for key in keys)
    assert product(org.north) == naive({org.north.id, org.ana.id, org.bea.id})
    # South sees the client now, never Ana: her call is not South's to count.
    south = product(org.south)
    assert all(key[1] in {org.south.id, org.carl.id, org.dan.id} for key in south)
    assert south == naive({org.south.id, org.carl.id, org.dan.id})


def test_each_source_answers_in_one_query(org: SimpleNamespace) -> None:
    from tests.conftest import count_queries

    scope = Scope.for_user(User.get_by_id(org.north.id))
    scope.owner_rule()  # the scope's own look-up of people, once per request
    with count_queries() as seen:
        daily_totals(figures.SOURCES, scope, START, END, KEYS)
    assert len(seen) == len(figures.SOURCES)


def test_only_sources_asked_for_run(org: SimpleNamespace) -> None:
    from tests.conftest import count_queries

    scope = Scope.for_user(User.get_by_id(org.cmo.id))
    scope.owner_rule()
    with count_queries() as seen:
        rows = daily_totals(figures.SOURCES, scope, START, END, [figures.WON_COUNT])
    assert len(seen) == 1
    assert {row.measure for row in rows} == {figures.WON_COUNT}


def test_a_measure_declared_twice_fails_at_start_up() -> None:
    twice = ReportSource("twice", "Twice", (Measure(figures.CALLS, "Calls"),), lambda *a: [])
    with pytest.raises(ValueError, match="declared twice"):
        Sources([*figures.SOURCES, twice])


class InvoicedPlugin:
    """A plugin adding a measure, as the billing plugin adds the invoiced amount."""

    @staticmethod
    def invoiced(scope: Scope, start: date, end: date, keys: tuple[str, ...]) -> list[DailyTotal]:
        return [DailyTotal("test.invoiced", scope.user.id, start, Decimal("12.50"))]

    @hookimpl
    def register_report_sources(self) -> list[ReportSource]:
        measure = Measure("test.invoiced", "Invoiced amount", reports.MONEY)
        return [ReportSource("test-invoices", "Invoices", (measure,), self.invoiced)]


def test_register_report_sources_adds_a_measure_to_the_app(settings: Settings) -> None:
    with client_with_plugin(settings, InvoicedPlugin(), "invoices") as http:
        sources = http.app.state.report_sources
        assert sources.measure("test.invoiced").unit == reports.MONEY
        assert sources.measure(figures.WON_VALUE) is not None
        assert [m.key for m in sources.measures()].count("test.invoiced") == 1
