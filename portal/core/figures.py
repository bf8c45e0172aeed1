"""The core's report sources: won deals, new customers, calls, visits, meetings.

`portal.plugins.build_manager` registers this module like any plugin, so
objectives and reports reach the core's figures the way they reach a plugin's
(`register_report_sources`). Every source answers in one grouped query and
counts a record when the viewer's scope covers the person it is credited to
(owner, author, assignee), whether or not the viewer sees the record's client:
a figure measures that person's own work, so everyone who sees the person
reads the same figure, and it never tells anything about someone out of sight.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import peewee as pw

from portal.core.models import Activity, Client, Opportunity, Task
from portal.core.reports import (
    COUNT,
    MONEY,
    DailyTotal,
    Measure,
    ReportSource,
    as_date,
    local_date,
    utc_span,
)
from portal.core.visibility import Scope, owner_condition
from portal.database import db
from portal.hookspecs import hookimpl
from portal.i18n import N_

WON_VALUE = "opportunities.won_value"
WON_COUNT = "opportunities.won_count"
NEW_CUSTOMERS = "clients.new_customers"
CALLS = "activities.calls"
VISITS = "activities.visits"
MEETINGS = "tasks.meetings_held"

_ACTIVITY_MEASURES = {"call": CALLS, "visit": VISITS}


def _credited(scope: Scope, field: pw.Field) -> pw.Expression:
    """The credited person is one the scope covers."""
    return owner_condition(field, *scope.owner_rule())


def _rows(query: pw.SelectQuery) -> list[tuple]:
    # Straight from the driver: tens of thousands of grouped rows for a large
    # team, where peewee's per-row conversion costs more than the query.
    return db.execute(query).fetchall()


def _cents(field: pw.Field) -> pw.Node:
    # SQLite keeps amounts as floating point: a sum of 0.1s drifts. Whole
    # cents add up exactly on both servers.
    return pw.fn.ROUND(field * 100).cast("BIGINT")


def won_opportunities(
    scope: Scope, start: date, end: date, keys: tuple[str, ...]
) -> Iterator[DailyTotal]:
    """Value and number of won opportunities, for their owner, on their closing day."""
    query = (
        scope.opportunities(
            Opportunity.select(
                Opportunity.owner,
                Opportunity.closed_on,
                pw.fn.SUM(_cents(Opportunity.amount)),
                pw.fn.COUNT(Opportunity.id),
            )
        )
        .where((Opportunity.status == "won") & Opportunity.closed_on.between(start, end))
        .group_by(Opportunity.owner, Opportunity.closed_on)
    )
    for owner_id, day, value, count in _rows(query):
        day = as_date(day)
        if WON_VALUE in keys:
            yield DailyTotal(WON_VALUE, owner_id, day, Decimal(value or 0).scaleb(-2))
        if WON_COUNT in keys:
            yield DailyTotal(WON_COUNT, owner_id, day, Decimal(count))


def new_customers(
    scope: Scope, start: date, end: date, keys: tuple[str, ...]
) -> Iterator[DailyTotal]:
    """Clients whose first won opportunity closed that day, for the client's owner."""
    first = (
        Opportunity.select(
            Opportunity.client.alias("client_id"),
            pw.fn.MIN(Opportunity.closed_on).alias("day"),
        )
        .where((Opportunity.status == "won") & Opportunity.closed_on.is_null(False))
        .group_by(Opportunity.client)
        .alias("first_won")
    )
    day = first.c.day
    query = (
        Client.select(Client.owner, day, pw.fn.COUNT(Client.id))
        .join(first, on=(first.c.client_id == Client.id))
        .where(day.between(start, end) & _credited(scope, Client.owner))
        .group_by(Client.owner, day)
    )
    # Owner covered implies the client is seen; `clients()` says it once more
    # so the rule stays the scope's own.
    query = scope.clients(query)
    for owner_id, first_day, count in _rows(query):
        yield DailyTotal(NEW_CUSTOMERS, owner_id, as_date(first_day), Decimal(count))


def activities(scope: Scope, start: date, end: date, keys: tuple[str, ...]) -> Iterator[DailyTotal]:
    """Calls and visits, for their author, on the local day they happened.

    The client is not checked: a call the author made counts for them even
    after its client moved to a team the viewer does not see.
    """
    kinds = [kind for kind, key in _ACTIVITY_MEASURES.items() if key in keys]
    since, until = utc_span(start, end)
    day = local_date(Activity.happened_at, since, until)
    query = (
        Activity.select(Activity.author, Activity.kind, day, pw.fn.COUNT(Activity.id))
        .where(
            Activity.kind.in_(kinds)
            & (Activity.happened_at >= since)
            & (Activity.happened_at < until)
            & _credited(scope, Activity.author)
        )
        .group_by(Activity.author, Activity.kind, day)
    )
    for author_id, kind, when, count in _rows(query):
        yield DailyTotal(_ACTIVITY_MEASURES[kind], author_id, as_date(when), Decimal(count))


def meetings(scope: Scope, start: date, end: date, keys: tuple[str, ...]) -> Iterator[DailyTotal]:
    """Meetings marked done, for their assignee, on the local day they were completed.

    As with activities, the meeting's client is not checked: only its assignee.
    """
    since, until = utc_span(start, end)
    day = local_date(Task.completed_at, since, until)
    query = (
        Task.select(Task.assignee, day, pw.fn.COUNT(Task.id))
        .where(
            (Task.kind == "meeting")
            & (Task.status == "done")
            & (Task.completed_at >= since)
            & (Task.completed_at < until)
            & _credited(scope, Task.assignee)
        )
        .group_by(Task.assignee, day)
    )
    for assignee_id, when, count in _rows(query):
        yield DailyTotal(MEETINGS, assignee_id, as_date(when), Decimal(count))


SOURCES = (
    ReportSource(
        "opportunities",
        N_("Opportunities"),
        (
            Measure(WON_VALUE, N_("Value of won opportunities"), MONEY),
            Measure(WON_COUNT, N_("Won opportunities"), COUNT),
        ),
        won_opportunities,
    ),
    ReportSource(
        "customers",
        N_("Customers"),
        (Measure(NEW_CUSTOMERS, N_("New customers"), COUNT),),
        new_customers,
    ),
    ReportSource(
        "activities",
        N_("Activity"),
        (Measure(CALLS, N_("Calls"), COUNT), Measure(VISITS, N_("Visits"), COUNT)),
        activities,
    ),
    ReportSource(
        "meetings",
        N_("Meetings"),
        (Measure(MEETINGS, N_("Meetings held"), COUNT),),
        meetings,
    ),
)


@hookimpl
def register_report_sources() -> list[ReportSource]:
    return list(SOURCES)
