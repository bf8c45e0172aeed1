"""Benchmark of the objectives page and home widget for a top manager.

Builds the client-list bench's sales company (1,000 users in a hierarchy) with
clients, a year of won opportunities, calls, visits and held meetings, and
objectives for everyone (a month, a quarter, a year), in a fresh SQLite
database (and PostgreSQL with `--postgres`). Then serves `/objectives` and
`/objectives/widget` through the real app in-process for the top manager and
a sales head, and prints server time p50/p99 beside the raw-SQL floor of the
same statements measured in the same run, and the queries per request, which
must not grow with the team. Not a timed test. See bench/README.md.

    .venv/bin/python bench/objectives_dashboard.py [--users N --clients N]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

# Runs from a checkout; the portal package need not be installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import client_list as house  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from plugins.objectives import plugin as objectives_plugin  # noqa: E402
from plugins.objectives.models import Objective  # noqa: E402
from plugins.objectives.periods import MONTH, QUARTER, YEAR, Period  # noqa: E402
from portal.app import create_app  # noqa: E402
from portal.config import Settings  # noqa: E402
from portal.core.models import (  # noqa: E402
    Activity,
    Client,
    Opportunity,
    Pipeline,
    Profile,
    Stage,
    Task,
    User,
)
from portal.database import db, utcnow  # noqa: E402
from portal.migrations import migrate  # noqa: E402
from portal.plugins import build_manager, collect  # noqa: E402

QUERY_TARGET = 12  # session, grants, tree, people, objectives, periods, profiles, 4 sources
GRANTS = '{"menu.clients":"","menu.opportunities":"","menu.objectives":"","objectives.manage":""}'


def build_sales(company: house.Company, args: argparse.Namespace, rng: random.Random) -> dict:
    """A year up to today: won deals, calls and visits, held meetings, objectives."""
    today = date.today()
    first = date(today.year, 1, 1)
    span = (today - first).days + 1
    clients = list(Client.select(Client.id, Client.owner).tuples())
    pipeline = Pipeline.create(name="Ventas")
    stage = Stage.create(pipeline=pipeline, name="Ganada", position=1, probability=100, kind="won")
    now = utcnow()

    def day() -> date:
        return first + timedelta(days=rng.randrange(span))

    def moment() -> datetime:
        return datetime.combine(day(), datetime.min.time()) + timedelta(
            minutes=rng.randrange(7 * 60, 21 * 60)
        )

    deals = []
    for _ in range(args.deals):
        client, owner = rng.choice(clients)
        amount = Decimal(rng.randrange(20_000, 2_000_000)) / 100
        deals.append(
            (client, owner, "Pedido", amount, "won", pipeline.id, stage.id, day(), now, now)
        )
    house.insert_bulk(
        Opportunity,
        (
            Opportunity.client,
            Opportunity.owner,
            Opportunity.title,
            Opportunity.amount,
            Opportunity.status,
            Opportunity.pipeline,
            Opportunity.stage,
            Opportunity.closed_on,
            Opportunity.created_at,
            Opportunity.updated_at,
        ),  # fmt: skip
        deals,
    )
    activities = []
    for _ in range(args.activities):
        client, owner = rng.choice(clients)
        kind = rng.choices(("call", "visit", "email", "note"), cum_weights=(5, 8, 9, 10))[0]
        when = moment()
        activities.append((client, owner, kind, when, "Seguimiento", when))
    house.insert_bulk(
        Activity,
        (
            Activity.client,
            Activity.author,
            Activity.kind,
            Activity.happened_at,
            Activity.subject,
            Activity.created_at,
        ),  # fmt: skip
        activities,
    )
    meetings = []
    for _ in range(args.activities // 10):
        client, owner = rng.choice(clients)
        when = moment()
        meetings.append(("meeting", "Reunión", client, owner, "done", when, when, now, now))
    house.insert_bulk(
        Task,
        (
            Task.kind,
            Task.title,
            Task.client,
            Task.assignee,
            Task.status,
            Task.due_at,
            Task.completed_at,
            Task.created_at,
            Task.updated_at,
        ),  # fmt: skip
        meetings,
    )

    # Everyone: this month's won value and this quarter's calls; managers a year.
    month = Period.containing(MONTH, today)
    quarter = Period.containing(QUARTER, today)
    year = Period.containing(YEAR, today)
    rows = []
    for user_id in [company.cmo, *company.territorial, *company.heads, *company.sellers]:
        size = 1 + len(company.sellers) / max(1, len(company.heads)) * (user_id != company.cmo)
        rows.append((user_id, MONTH, month.start, "opportunities.won_value",
                     Decimal(rng.randrange(5_000, 30_000)) * Decimal(size), now, now))  # fmt: skip
        rows.append((user_id, QUARTER, quarter.start, "activities.calls",
                     Decimal(rng.randrange(100, 400)), now, now))  # fmt: skip
    for user_id in [company.cmo, *company.territorial]:
        rows.append((user_id, YEAR, year.start, "clients.new_customers",
                     Decimal(rng.randrange(50, 500)), now, now))  # fmt: skip
    house.insert_bulk(
        Objective,
        (
            Objective.user,
            Objective.period,
            Objective.starts_on,
            Objective.metric,
            Objective.target,
            Objective.created_at,
            Objective.updated_at,
        ),  # fmt: skip
        rows,
    )
    Profile.update(grants=GRANTS).execute()
    return {"deals": len(deals), "activities": len(activities), "objectives": len(rows)}


def run_on(url: str, engine: str, workdir: Path, args: argparse.Namespace) -> dict:
    settings = Settings(data_dir=workdir / "data", database_url=url, secret_key="bench-secret-key")
    manager = build_manager(settings, load_installed=False)
    if not manager.is_registered(objectives_plugin):
        manager.register(objectives_plugin, name="objectives")
    app = create_app(settings, plugins=manager)
    migrate(db.obj, collect(manager.hook.register_migrations))
    rng = random.Random(args.seed)

    print(f"\n[{engine}] building {args.users:,} users and their year…", flush=True)
    start = time.perf_counter()
    company = house.build_people(args.users, rng)
    house.insert_bulk(Client, house.CLIENT_FIELDS, house.client_rows(args.clients, company, rng))
    volume = build_sales(company, args, rng)
    db.execute_sql("ANALYZE")
    print(f"[{engine}] built in {time.perf_counter() - start:.1f} s: {volume}", flush=True)

    emails = dict(User.select(User.id, User.email).tuples())
    viewers = [("top manager", company.cmo), ("sales head", company.heads[0])]
    cursor = db.connection().cursor()
    results = []
    for role, user_id in viewers:
        print(f"[{engine}] measuring the {role}…", flush=True)
        results.append(measure(app, cursor, role, emails[user_id], args))
    cursor.close()
    db.close()
    return {"engine": engine, "users": args.users, **volume, "viewers": results}


def measure(app: Any, cursor: Any, role: str, email: str, args: argparse.Namespace) -> dict:
    clock = house.ServerClock(app)
    with TestClient(clock, base_url="http://testserver") as client:
        house.log_in(client, email)
        urls = {"page": "/objectives", "widget": "/objectives/widget"}
        queries = {name: house.count_queries(client, url) for name, url in urls.items()}
        in_loop = house.InLoopClient(clock, client.cookies)
        try:
            timings = {
                name: house.time_page(in_loop, clock, cursor, url, args)
                for name, url in urls.items()
            }
        finally:
            in_loop.close()
    return {"role": role, "queries": queries, "timings": timings}


def report(run: dict) -> list[bool]:
    print(
        f"\n== {run['engine']}: {run['users']:,} users, {run['deals']:,} won deals, "
        f"{run['activities']:,} activities, {run['objectives']:,} objectives"
    )
    print(
        f"{'viewer':<12} {'request':<8} {'n':>4} {'p50':>7} {'p99':>7} {'floor50':>7} "
        f"{'floor99':>7} {'ratio':>6} {'queries':>7}"
    )
    checks = []
    for viewer in run["viewers"]:
        for name, timing in viewer["timings"].items():
            queries = viewer["queries"][name]
            ok = queries <= QUERY_TARGET
            checks.append(ok)
            print(
                f"{viewer['role']:<12} {name:<8} {timing['requests']:>4} "
                f"{timing['p50_ms']:7.2f} {timing['p99_ms']:7.2f} "
                f"{timing['floor_p50_ms']:7.2f} {timing['floor_p99_ms']:7.2f} "
                f"{timing['ratio']:5.1f}x {queries:>7} {house.verdict(ok)}"
            )
    print("\nfloor by statement, p50 ms")
    for viewer in run["viewers"]:
        for name, timing in viewer["timings"].items():
            parts = ", ".join(f"{s['what']} {s['p50_ms']:.2f}" for s in timing["statements"])
            print(f"  {viewer['role']} {name}: {parts}")
    return checks


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--deals", type=int, default=30_000, help="won this year")
    parser.add_argument("--activities", type=int, default=150_000, help="this year")
    parser.add_argument("--postgres", metavar="URL", help="also run on PostgreSQL (admin URL)")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per timed page")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--explain", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="cartera-bench-") as folder:
        workdir = Path(folder)
        runs.append(run_on(f"sqlite:///{workdir / 'bench.db'}", "SQLite", workdir, args))
        if args.postgres:
            with house.postgres_database(args.postgres) as url:
                runs.append(run_on(url, "PostgreSQL", workdir, args))
    checks = [ok for run in runs for ok in report(run)]
    print(f"\nqueries per request within {QUERY_TARGET}: {checks.count(True)} PASS, "
          f"{checks.count(False)} MISS")  # fmt: skip
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
