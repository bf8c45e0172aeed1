"""Fixtures for the objectives plugin: the app with it, and a small sales company."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from portal.core.models import Client, Opportunity, Pipeline, Stage, User
from tests.conftest import grant, make_profile, make_user

# Far enough in the past that "today" never falls in it.
MARCH = date(2025, 3, 1)


@pytest.fixture
def web(http: TestClient, fast_passwords: None) -> TestClient:
    """The app as tests build it: the bundled plugins, this one included, are loaded."""
    assert http.app.state.plugins.get_plugin("objectives") is not None
    return http


@pytest.fixture
def company(web: TestClient) -> SimpleNamespace:
    """CMO over North and South managers, each over salespeople; won deals in March."""
    o = SimpleNamespace()
    cmo = make_profile("CMO")
    north = make_profile("North manager", cmo)
    south = make_profile("South manager", cmo)
    o.north_sales = make_profile("North sales", north)
    o.south_sales = make_profile("South sales", south)
    for profile in (cmo, north, south):
        grant(profile, "menu.objectives", "objectives.manage")
    for profile in (o.north_sales, o.south_sales):
        grant(profile, "menu.objectives")
    o.cmo = make_user("cmo@example.com", cmo, language="en")
    o.north = make_user("north@example.com", north, language="en")
    o.south = make_user("south@example.com", south, language="en")
    o.ana = make_user("ana@example.com", o.north_sales, language="en")
    o.bea = make_user("bea@example.com", o.north_sales, language="en")
    o.carl = make_user("carl@example.com", o.south_sales, language="en")
    o.admin = make_user("admin@example.com", o.south_sales, language="en", is_admin=True)
    pipeline = Pipeline.create(name="Sales")
    stage = Stage.create(pipeline=pipeline, name="Won", position=1, probability=100, kind="won")

    def won(owner: User, amount: str, day: date) -> None:
        client = Client.create(name=f"Client of {owner.name}", owner=owner)
        Opportunity.create(
            client=client,
            owner=owner,
            title="Deal",
            amount=Decimal(amount),
            status="won",
            pipeline=pipeline,
            stage=stage,
            closed_on=day,
        )

    o.won = won
    won(o.ana, "1000.00", date(2025, 3, 3))
    won(o.bea, "500.00", date(2025, 3, 10))
    won(o.north, "200.00", date(2025, 3, 12))
    won(o.carl, "7000.00", date(2025, 3, 5))
    won(o.ana, "99.00", date(2025, 4, 1))  # the month after
    return o
