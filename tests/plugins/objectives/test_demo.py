"""`cartera demo` with the objectives plugin: who may use them, and targets to read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from plugins.objectives.models import Objective
from plugins.objectives.periods import MONTH, Period
from portal.config import Settings
from portal.core.demo import DemoAccounts, build_demo
from portal.core.figures import WON_VALUE
from portal.core.models import CORE_MODELS, User
from portal.core.permissions import Grants
from portal.database import db, open_database
from portal.plugins import PluginManager, build_manager

TODAY = date(2026, 3, 2)
SMALL = 120


@pytest.fixture
def plugins(tmp_path: Path) -> PluginManager:
    return build_manager(
        Settings(data_dir=tmp_path, database_url="sqlite://"), load_installed=False
    )


def _build(url: str, plugins: PluginManager, seed: int = 2026) -> DemoAccounts:
    open_database(url)
    db.create_tables([*CORE_MODELS, Objective])
    return build_demo(seed=seed, clients=SMALL, today=TODAY, plugins=plugins)


@pytest.fixture
def demo(database_url: str, plugins: PluginManager) -> Iterator[DemoAccounts]:
    yield _build(database_url, plugins)
    db.close()


def _rows() -> list[tuple[object, ...]]:
    """Every objective, people named by email, its parent by its person."""
    rows = []
    for objective in Objective.select().order_by(Objective.id):
        parent = objective.parent.user.email if objective.parent_id else ""
        rows.append(
            (
                objective.user.email,
                objective.period,
                objective.starts_on,
                objective.metric,
                objective.target,
                parent,
            )
        )
    return rows


def _holds(email: str) -> Grants:
    return Grants.of(User.get(User.email == email))


def test_populate_demo_grants_objectives_to_all_but_assistants(demo: DemoAccounts) -> None:
    sales, head, manager = _holds(demo.salesperson), _holds(demo.sales_head), _holds(demo.manager)

    assert sales.has("menu.objectives") and not sales.has("objectives.manage")
    assert head.has("objectives.manage") and manager.has("objectives.manage")
    assert _holds(demo.back_office).has("menu.objectives")
    assert not _holds(demo.technician).has("menu.objectives")


def test_populate_demo_sets_current_and_past_objectives_split_down_the_team(
    demo: DemoAccounts,
) -> None:
    pablo = User.get(User.email == demo.salesperson)
    elena = User.get(User.email == demo.sales_head)
    month = Period.containing(MONTH, TODAY)
    mine = Objective.select().where(
        (Objective.user == pablo) & (Objective.metric == WON_VALUE) & (Objective.period == MONTH)
    )
    head = Objective.get(
        (Objective.user == elena)
        & (Objective.metric == WON_VALUE)
        & (Objective.starts_on == month.start)
    )
    shares = list(head.shares)

    starts = sorted(objective.starts_on for objective in mine)
    assert starts == [month.previous().previous().start, month.previous().start, month.start]
    assert len(shares) == 3  # Elena's three salespeople
    assert sum((share.target for share in shares), Decimal(0)) == head.target
    assert pablo.id in {share.user_id for share in shares}
    assert head.parent.user.email == demo.manager  # Elena's share of Lucía's
    assert not Objective.select().where(Objective.user == User.get(email=demo.technician)).exists()
    assert {row[3] for row in _rows()} >= {WON_VALUE, "activities.visits", "activities.calls"}


def test_populate_demo_same_seed_gives_the_same_objectives(plugins: PluginManager) -> None:
    built = []
    for seed in (5, 5, 6):
        _build("sqlite:///:memory:", plugins, seed)
        built.append(_rows())
        db.close()

    assert built[0] == built[1]
    assert built[0] != built[2]


def test_demo_without_plugins_leaves_objectives_out(database_url: str) -> None:
    open_database(database_url)
    db.create_tables([*CORE_MODELS, Objective])
    accounts = build_demo(clients=SMALL, today=TODAY)

    assert not Objective.select().exists()
    assert not _holds(accounts.salesperson).has("menu.objectives")
    db.close()
