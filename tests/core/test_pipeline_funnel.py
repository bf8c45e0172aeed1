"""Funnel figures against a small example worked out by hand, and their roll-up."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from portal.core import funnel
from portal.core.models import Client, Opportunity, Pipeline, Stage, StageChange, User
from portal.core.visibility import Scope
from tests.conftest import grant, log_in, make_profile, make_user

pytestmark = pytest.mark.usefixtures("fast_passwords")

DAY = 86_400


def stage(name: str) -> Stage:
    return Stage.get(Stage.name == name)


def deal(owner: User, path: list[tuple[str, int]], amount: str = "1000.00") -> Opportunity:
    """An opportunity that entered each stage of `path` on the given day of 2026-01."""
    client = Client.create(name="Cliente", sort_name="cliente", owner=owner)
    last = stage(path[-1][0])
    row = Opportunity.create(
        client=client, owner=owner, title="Pedido", amount=Decimal(amount),
        pipeline=last.pipeline_id, stage=last, status=last.kind,
        created_at=datetime(2026, 1, path[0][1], 9),
    )  # fmt: skip
    previous = None
    for name, day in path:
        StageChange.create(
            opportunity=row, from_stage=previous, to_stage=stage(name),
            at=datetime(2026, 1, day, 9),
        )  # fmt: skip
        previous = stage(name)
    return row


@pytest.fixture
def world(app: object) -> SimpleNamespace:
    head = make_profile("Jefatura")
    sales = make_profile("Comercial", head)
    peer = make_profile("Otra jefatura")
    for profile in (head, sales, peer):
        grant(profile, "menu.opportunities", "menu.opportunities.funnel")
    w = SimpleNamespace(
        head=make_user("head@example.com", head),
        ana=make_user("ana@example.com", sales),
        bea=make_user("bea@example.com", sales),
        peer=make_user("peer@example.com", peer),
    )
    # Ana: won after Qualification 2 days → Proposal 4 days → Won; lost after 1 day in
    # Qualification; one still in Qualification (skipped nothing).
    deal(w.ana, [("Qualification", 1), ("Proposal", 3), ("Won", 7)], "3000.00")
    deal(w.ana, [("Qualification", 1), ("Lost", 2)])
    deal(w.ana, [("Qualification", 5)])
    # Bea: created straight at Negotiation, won 6 days later.
    deal(w.bea, [("Negotiation", 2), ("Won", 8)], "1000.01")
    # The head's own deal, lost from Needs analysis after 3 days in it.
    deal(w.head, [("Qualification", 1), ("Needs analysis", 2), ("Lost", 5)])
    # Someone else's team: never counted by these people.
    deal(w.peer, [("Qualification", 1), ("Won", 2)], "99999.00")
    return w


def figures_of(tally: funnel.Tally) -> dict[str, tuple]:
    default = Pipeline.get(Pipeline.is_default == True)  # noqa: E712
    stages = list(Stage.select().where(Stage.pipeline == default).order_by(Stage.position))
    return {
        f.stage.name: (f.reached, f.conversion, f.average_days)
        for f in funnel.stage_figures(tally, stages)
    }


def test_a_salesperson_figures_match_the_hand_count(world: SimpleNamespace) -> None:
    default = Pipeline.get(Pipeline.is_default == True)  # noqa: E712
    by_owner, _stages = funnel.tallies(Scope.for_user(world.ana), default, None)

    assert set(by_owner) == {world.ana.id}
    ana = by_owner[world.ana.id]
    assert (ana.count, ana.won, ana.lost) == (3, 1, 1)
    assert ana.win_rate == Decimal("50.0")
    assert ana.average_deal == Decimal("3000.00")
    # Reached: all three got to Qualification; only the won one went further, and
    # being won it reached every open stage. Days: Qualification stays of 2 and 1
    # days (the third is still there), Proposal 4 days.
    assert figures_of(ana) == {
        "Qualification": (3, Decimal("33.3"), Decimal("1.5")),
        "Needs analysis": (1, Decimal("100.0"), None),
        "Proposal": (1, Decimal("100.0"), Decimal("4.0")),
        "Negotiation": (1, Decimal("100.0"), None),
    }


def test_the_manager_figures_roll_up_the_team_and_leave_the_peer_out(
    world: SimpleNamespace,
) -> None:
    default = Pipeline.get(Pipeline.is_default == True)  # noqa: E712
    scope = Scope.for_user(world.head)
    by_owner, _stages = funnel.tallies(scope, default, None)
    rows, total = funnel.rows_for(scope, by_owner)

    assert world.peer.id not in by_owner
    by_user = {row.user.id: row for row in rows}
    assert set(by_user) == {world.head.id, world.ana.id, world.bea.id}
    head = by_user[world.head.id]
    assert head.team is not None
    assert by_user[world.ana.id].team is None
    # The head's team is everyone here: 5 deals, 2 won, 2 lost.
    for tally in (head.team, total):
        assert (tally.count, tally.won, tally.lost) == (5, 2, 2)
        assert tally.win_rate == Decimal("50.0")
        # (3000.00 + 1000.01) / 2 = 2000.005 → 2000.01, half-up.
        assert tally.average_deal == Decimal("2000.01")
    assert figures_of(head.team)["Qualification"] == (5, Decimal("60.0"), Decimal("1.3"))
    assert (head.own.count, head.own.lost) == (1, 1)


def test_the_funnel_page_shows_the_scope_only(http: TestClient, world: SimpleNamespace) -> None:
    log_in(http, "head@example.com")

    page = http.get("/opportunities/funnel?days=").text
    alone = http.get(f"/opportunities/funnel?days=&user={world.ana.id}&team=0").text

    assert "Peer" not in page
    # The column names people, not the client kind "Particular" that "Person" means.
    assert '<th scope="col">Quién</th>' in page and "Particular" not in page
    assert "99.999" not in page and "99,999" not in page
    assert 'class="win-rate">50' in page
    assert "Ana" in alone and 'class="average-deal">3.000,00' in alone
    # A period that leaves out January 2026 (the deals' creation) leaves nothing.
    recent = http.get("/opportunities/funnel?days=30").text
    assert "No opportunities in this period." in recent or "No hay" in recent
