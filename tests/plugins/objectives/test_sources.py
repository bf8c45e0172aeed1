"""A measure a plugin declares becomes an objective's metric like the core's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from plugins.objectives.models import Objective
from portal.config import Settings
from portal.core.reports import MONEY, DailyTotal, Measure, ReportSource
from portal.core.visibility import Scope
from portal.hookspecs import hookimpl
from tests.conftest import client_with_plugin, log_in, post_form


class Invoices:
    """Stands for the billing plugin: 250 invoiced by each person in scope on 3 March."""

    asked: list[tuple[date, date, tuple[str, ...]]]

    def __init__(self) -> None:
        self.asked = []

    def totals(
        self, scope: Scope, start: date, end: date, keys: tuple[str, ...]
    ) -> list[DailyTotal]:
        self.asked.append((start, end, keys))
        people = [row.id for row in scope.users()]
        return [DailyTotal("billing.invoiced", p, date(2025, 3, 3), Decimal(250)) for p in people]

    @hookimpl
    def register_report_sources(self) -> list[ReportSource]:
        measure = Measure("billing.invoiced", "Invoiced amount", MONEY)
        return [ReportSource("invoices", "Invoices", (measure,), self.totals)]


@pytest.fixture
def invoices() -> Invoices:
    return Invoices()


@pytest.fixture
def web(settings: Settings, fast_passwords: None, invoices: Invoices) -> Iterator[TestClient]:
    with client_with_plugin(settings, invoices, "invoices") as client:
        yield client


def test_register_report_sources_measure_becomes_an_objective_metric(
    web: TestClient, company: SimpleNamespace, invoices: Invoices
) -> None:
    log_in(web, "north@example.com")
    assert 'value="billing.invoiced"' in web.get("/objectives/new").text

    answer = post_form(
        web,
        "/objectives/new",
        {
            "who": f"user:{company.ana.id}",
            "period": "2025-03",
            "metric": "billing.invoiced",
            "target": "1000",
        },
    )
    assert answer.status_code == 303
    assert Objective.get().metric == "billing.invoiced"

    page = web.get("/objectives?period=2025-03").text
    assert "Invoiced amount" in page and "25%" in page
    assert invoices.asked[-1] == (date(2025, 3, 1), date(2025, 3, 31), ("billing.invoiced",))
