"""The purchases panel on the client page: figures, languages, plugins, visibility."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from portal.config import Settings
from portal.core.lifecycle import Sale
from portal.core.models import Client, Opportunity, User
from portal.core.routes import client_parts
from portal.hookspecs import hookimpl
from portal.i18n import current_zone, local_today
from tests.conftest import client_with_plugin, count_queries, log_in, make_profile, make_user

pytestmark = pytest.mark.usefixtures("fast_passwords")

TODAY = date(2026, 3, 2)


@dataclass
class InvoicesLike:
    """A stand-in for billing: an invoice settling an opportunity, and a credit note."""

    settles: int | None = None
    calls: list[tuple[int, int]] = field(default_factory=list)

    @hookimpl
    def client_sales(self, client_id: int, user: User) -> list[Sale]:
        self.calls.append((client_id, user.id))
        return [
            Sale(date(2026, 2, 10), Decimal("1210.00"), "Invoice F-2026/0007",
                 url="/invoices/7", opportunity_id=self.settles),
            Sale(date(2026, 2, 20), Decimal("-110.00"), "Credit note R-2026/0001"),
        ]  # fmt: skip


@pytest.fixture
def invoices() -> InvoicesLike:
    return InvoicesLike()


@pytest.fixture
def http(settings: Settings, invoices: InvoicesLike) -> Iterator[TestClient]:
    """The app with the invoice plugin registered beside the core."""
    with client_with_plugin(settings, invoices, "invoices-like") as client:
        yield client


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_parts, "local_today", lambda: TODAY)


@dataclass
class Team:
    ana: User
    luis: User  # another team: sees none of Ana's clients


def _team(language: str) -> Team:
    top = make_profile("Dirección")
    north = make_profile("Norte", parent=top)
    south = make_profile("Sur", parent=top)
    return Team(
        ana=make_user("ana@example.com", north, language=language),
        luis=make_user("luis@example.com", south, language=language),
    )


def _client(owner: User, name: str = "Ñandú Soluciones SL") -> Client:
    client = Client(owner=owner, name=name)
    client.reindex()
    client.save()
    return client


def _opportunity(client: Client, amount: str, closed_on: date | None, **extra: object) -> int:
    values = {"status": "won", "title": "Renovación anual", **extra}
    row = Opportunity.create(
        client=client, owner=client.owner_id, amount=Decimal(amount), closed_on=closed_on, **values
    )
    return row.id


def _history(client: Client) -> list[int]:
    """Three won opportunities, plus some that are no purchase."""
    won = [
        _opportunity(client, "500", date(2024, 3, 1)),
        _opportunity(client, "900", date(2025, 1, 15)),
        _opportunity(client, "650", date(2026, 1, 20)),
    ]
    _opportunity(client, "7000", None, status="open", expected_close=date(2026, 6, 1))
    _opportunity(client, "3000", date(2025, 5, 5), status="lost", lost_reason="Precio")
    _opportunity(client, "80", None)  # won, but nobody said when
    return won


def _text(page: str) -> str:
    return html.unescape(page)


# 500 + 900 + 650 = 2,050 over three buying days 345 days apart on average;
# yearly 2,050 × 365.25 / 731 = 1,024.30; lifetime 2,050 + 3 × 1,024.30.
@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("es", ["1 mar 2024", "20 ene 2026", "683,33\xa0€", "345 días", "650,00\xa0€",
                "900,00\xa0€", "(-27,8 %)", "5.122,90\xa0€", "41 días",
                "2.050,00\xa0€", "1.024,30\xa0€"]),
        ("en", ["1 Mar 2024", "20 Jan 2026", "€683.33", "345 days", "€650.00",
                "€900.00", "(-27.8 %)", "€5,122.90", "2 years", "Purchases",
                "Won opportunity: Renovación anual", "(41 days ago)",
                "Revenue so far plus 3 more years", "at least 90 days",
                "€2,050.00 so far + 3 × €1,024.30 a year."]),
    ],
)  # fmt: skip
def test_the_panel_shows_the_figures_in_the_users_language(
    http: TestClient, invoices: InvoicesLike, language: str, shown: list[str]
) -> None:
    team = _team(language)
    client = _client(team.ana)
    _history(client)
    # The core's opportunities alone here.
    http.app.state.plugins.unregister(name="invoices-like")  # type: ignore[attr-defined]
    log_in(http, "ana@example.com")

    page = _text(http.get(f"/clients/{client.id}").text)

    panel = page[page.index('<section id="lifecycle">') :]
    assert [text for text in shown if text not in panel] == []
    # Open, lost and undated opportunities are no purchase.
    assert panel.count("Renovación anual") == 3


def test_a_client_without_purchases_says_so(http: TestClient) -> None:
    team = _team("en")
    client = _client(team.ana)
    _opportunity(client, "7000", None, status="open")
    http.app.state.plugins.unregister(name="invoices-like")  # type: ignore[attr-defined]
    log_in(http, "ana@example.com")

    page = _text(http.get(f"/clients/{client.id}").text)

    assert "No purchases yet." in page
    assert "Estimated lifetime value" not in page


def test_client_sales_of_plugins_are_added_and_replace_the_opportunity_they_settle(
    http: TestClient, invoices: InvoicesLike
) -> None:
    team = _team("en")
    client = _client(team.ana)
    won = _history(client)
    invoices.settles = won[-1]  # the invoice for the 650 of 20 January
    log_in(http, "ana@example.com")

    page = _text(http.get(f"/clients/{client.id}").text)

    assert invoices.calls == [(client.id, team.ana.id)]
    # 500 + 900 + 1,210 - 110: three purchases, the credit note is none.
    assert "€2,500.00 so far" in page
    assert "<dt>Number of purchases</dt><dd>3</dd>" in page
    assert '<a href="/invoices/7">Invoice F-2026/0007</a>' in page
    assert "Credit note R-2026/0001" in page and "-€110.00" in page
    # The opportunities panel above lists the deal; the purchases leave it out.
    assert "20 Jan 2026" not in page[page.index('<section id="lifecycle">') :]
    assert "may be incomplete" not in page


class Broken:
    @hookimpl
    def client_sales(self, client_id: int) -> list[Sale]:
        raise RuntimeError("the invoice store is down")


def test_a_failing_plugin_leaves_the_page_open_and_says_the_figures_may_be_short(
    http: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    team = _team("en")
    client = _client(team.ana)
    _history(client)
    http.app.state.plugins.register(Broken(), name="broken")  # type: ignore[attr-defined]
    log_in(http, "ana@example.com")

    answer = http.get(f"/clients/{client.id}")

    assert answer.status_code == 200
    page = _text(answer.text)
    assert "these figures may be incomplete" in page
    # The core's three opportunities and the other plugin's invoice and credit note.
    assert "<dt>Number of purchases</dt><dd>4</dd>" in page
    assert any("'broken' failed in client_sales" in r.getMessage() for r in caplog.records)


def test_another_teams_user_gets_404_and_the_plugin_is_never_asked(
    http: TestClient, invoices: InvoicesLike
) -> None:
    team = _team("en")
    client = _client(team.ana)
    _history(client)
    log_in(http, "luis@example.com")

    answer = http.get(f"/clients/{client.id}")

    assert answer.status_code == 404
    assert invoices.calls == []
    for text in ("Purchases", "lifecycle", "€", "Invoice F-2026", "Renovación"):
        assert text not in answer.text


def test_the_page_reads_opportunities_in_one_query_however_many(
    http: TestClient,
) -> None:
    team = _team("en")
    few, many = _client(team.ana, "Pocas Compras SL"), _client(team.ana, "Muchas Compras SL")
    _opportunity(few, "10", date(2026, 1, 1))
    for day in range(1, 29):
        _opportunity(many, "10", date(2025, 2, day))
    log_in(http, "ana@example.com")
    http.get(f"/clients/{few.id}")  # warm caches read once per process

    counts = []
    for client in (few, many):
        with count_queries() as seen:
            assert http.get(f"/clients/{client.id}").status_code == 200
        counts.append(len(seen))
        # One for the purchases, one for the opportunities panel.
        assert len([sql for sql in seen if '"opportunity"' in sql]) == 2
    assert counts[0] == counts[1]


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_today_is_the_users_day(zone: str) -> None:
    reset = current_zone.set(zone)
    try:
        before = datetime.now(ZoneInfo(zone)).date()
        assert local_today() in {before, datetime.now(ZoneInfo(zone)).date()}
    finally:
        current_zone.reset(reset)
