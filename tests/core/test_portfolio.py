"""Zones and segments: rules that place clients, their administration, and the form."""

from __future__ import annotations

from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from portal.core import portfolio
from portal.core.models import AuditEntry, Client, Zone
from tests.conftest import grant, log_in, make_profile, make_user, post_form
from tests.core.test_client_pages import Team, add_client, field_error, team, valid_form

__all__ = ["team"]
pytestmark = pytest.mark.usefixtures("fast_passwords")


def zones(*specs: tuple[str, str, str]) -> list[Zone]:
    return [
        Zone.create(name=name, postal_prefixes=prefixes, countries=countries, position=i)
        for i, (name, prefixes, countries) in enumerate(specs)
    ]


def test_longest_postal_prefix_wins_then_the_country(team: Team) -> None:
    known = zones(
        ("Centro", "28 45 19", "ES"),
        ("Madrid capital", "280", "ES"),
        ("México", "", "MX"),
        ("Guadalajara MX", "44", "MX"),
    )
    assert portfolio.zone_for("28013", "ES", known) == "Madrid capital"
    assert portfolio.zone_for("28400", "ES", known) == "Centro"
    assert portfolio.zone_for("45001", "ES", known) == "Centro"
    assert portfolio.zone_for("44100", "MX", known) == "Guadalajara MX"
    assert portfolio.zone_for("06600", "MX", known) == "México"
    # Spanish prefixes do not apply to a Mexican postal code, nor the reverse.
    assert portfolio.zone_for("28013", "MX", known) == "México"
    # No Spanish prefix matches: the first zone listing Spain.
    assert portfolio.zone_for("44100", "ES", known) == "Centro"
    assert portfolio.zone_for("44100", "AR", known) == ""


def test_segment_rule_by_revenue() -> None:
    rule = portfolio.SegmentRule("annual_revenue", Decimal(1_000_000), Decimal(100_000))
    assert rule.segment_for({"annual_revenue": Decimal(1_000_000)}) == "large"
    assert rule.segment_for({"annual_revenue": Decimal("999999.99")}) == "medium"
    assert rule.segment_for({"annual_revenue": Decimal(5)}) == "small"
    assert rule.segment_for({"annual_revenue": None}) is None
    assert portfolio.SegmentRule().segment_for({"annual_revenue": Decimal(5)}) is None


def test_new_client_is_placed_by_the_rules(http: TestClient, team: Team) -> None:
    zones(("Centro", "28", "ES"))
    rule = portfolio.SegmentRule("employees", Decimal(250), Decimal(50))
    portfolio.save_rule(rule, actor=team.boss, ip="")

    answer = post_form(
        http,
        "/clients/new",
        valid_form(team.ana, postal_code="28013", employees="1.200", segment="small"),
    )
    assert answer.status_code == 303
    client = Client.get()
    assert (client.zone, client.segment, client.employees) == ("Centro", "large", 1200)


def test_a_zone_chosen_by_hand_stays_and_unknown_ones_are_refused(
    http: TestClient, team: Team
) -> None:
    zones(("Centro", "28", "ES"), ("Norte", "48", "ES"))
    page = http.get("/clients/new").text
    assert '<option value="Norte">' in page

    refused = post_form(http, "/clients/new", valid_form(team.ana, zone="Atlántida"))
    assert refused.status_code == 400
    assert "Choose one of the zones" in field_error(refused.text, "zone")
    assert Client.select().count() == 0

    kept = post_form(http, "/clients/new", valid_form(team.ana, zone="Norte", postal_code="28001"))
    assert kept.status_code == 303
    assert Client.get().zone == "Norte"


def test_without_a_rule_the_segment_is_the_users_choice(http: TestClient, team: Team) -> None:
    answer = post_form(
        http, "/clients/new", valid_form(team.ana, annual_revenue="2.500.000,50", segment="small")
    )
    assert answer.status_code == 303
    client = Client.get()
    assert (client.segment, client.annual_revenue) == ("small", Decimal("2500000.50"))


def test_bad_sizes_are_refused_at_the_field(http: TestClient, team: Team) -> None:
    answer = post_form(
        http, "/clients/new", valid_form(team.ana, annual_revenue="mucho", employees="-3")
    )
    assert answer.status_code == 400
    assert field_error(answer.text, "annual_revenue")
    assert field_error(answer.text, "employees") == "A whole number of people."
    assert Client.select().count() == 0


@pytest.fixture
def admin(http: TestClient) -> None:
    top = make_profile("Dirección", kind="structural")
    make_user("admin@example.com", top, is_admin=True, language="en")
    log_in(http, "admin@example.com")


@pytest.mark.usefixtures("admin")
def test_zone_admin_creates_renames_and_deletes(http: TestClient) -> None:
    created = post_form(
        http,
        "/admin/zones/new",
        {"name": "Centro", "postal_prefixes": "28, 45 28", "countries": "es", "position": "1"},
    )
    assert created.status_code == 303
    zone = Zone.get()
    assert (zone.postal_prefixes, zone.countries) == ("28 45", "ES")
    owner = make_user("ana@example.com", make_profile("Ventas"))
    client = add_client(owner, "Uno", zone="Centro")

    renamed = post_form(
        http, f"/admin/zones/{zone.id}", {"name": "Meseta", "postal_prefixes": "28 45"}
    )
    assert renamed.status_code == 303
    reloaded = Client.get_by_id(client.id)
    assert reloaded.zone == "Meseta" and reloaded.version == client.version + 1

    question = http.get(f"/admin/zones/{zone.id}/delete")
    assert "1 client will be left without a zone" in question.text
    assert Zone.select().count() == 1
    deleted = post_form(http, f"/admin/zones/{zone.id}/delete")
    assert deleted.status_code == 303
    assert Zone.select().count() == 0 and Client.get_by_id(client.id).zone == ""
    actions = [e.action for e in AuditEntry.select().order_by(AuditEntry.id)]
    assert actions == ["zones.created", "zones.updated", "zones.deleted"]


@pytest.mark.usefixtures("admin")
def test_bad_zones_and_rules_are_refused_at_the_field(http: TestClient) -> None:
    Zone.create(name="Centro")
    answer = post_form(
        http,
        "/admin/zones/new",
        {"name": "centro", "postal_prefixes": "28 4-5", "countries": "España"},
    )
    assert answer.status_code == 400
    assert field_error(answer.text, "name") == "Another zone already has this name."
    assert "4-5" in field_error(answer.text, "postal_prefixes")
    assert "España" in field_error(answer.text, "countries")

    rule = post_form(
        http,
        "/admin/portfolio/segments",
        {"basis": "annual_revenue", "large": "100000", "medium": "1.000.000"},
    )
    assert rule.status_code == 400
    assert field_error(rule.text, "medium") == "Must be below the threshold for large accounts."
    assert portfolio.segment_rule() == portfolio.SegmentRule()


@pytest.mark.usefixtures("admin")
def test_existing_clients_are_placed_only_after_confirmation(http: TestClient) -> None:
    zones(("Centro", "28", "ES"), ("Madrid capital", "280", "ES"))
    owner = make_user("ana@example.com", make_profile("Ventas"))
    capital = add_client(owner, "Uno", postal_code="28013", country="ES", employees=300)
    province = add_client(owner, "Dos", postal_code="28400", country="ES", employees=60)
    chosen = add_client(owner, "Tres", postal_code="28013", zone="Norte", employees=3)
    unknown = add_client(owner, "Cuatro", segment="large", country="AR")

    saved = post_form(
        http, "/admin/portfolio/segments", {"basis": "employees", "large": "250", "medium": "50"}
    )
    assert saved.headers["location"] == "/admin/portfolio/reapply"
    question = http.get("/admin/portfolio/reapply").text
    assert "2 clients without a zone would get one" in question
    assert "3 clients would change segment" in question
    assert Client.get_by_id(capital.id).zone == ""

    done = post_form(http, "/admin/portfolio/reapply")
    assert done.status_code == 200
    placed = {c.id: (c.zone, c.segment) for c in Client.select()}
    assert placed == {
        capital.id: ("Madrid capital", "large"),
        province.id: ("Centro", "medium"),
        chosen.id: ("Norte", "small"),
        unknown.id: ("", "large"),
    }
    assert AuditEntry.select().where(AuditEntry.action == "portfolio.reapplied").count() == 1


def test_portfolio_admin_needs_its_permission(http: TestClient) -> None:
    seller = make_profile("Ventas")
    make_user("ana@example.com", seller, language="en")
    log_in(http, "ana@example.com")
    assert http.get("/admin/portfolio").status_code == 403
    assert post_form(http, "/admin/zones/new", {"name": "X"}).status_code == 403
    assert Zone.select().count() == 0

    grant(seller, "menu.admin", "menu.admin.portfolio")
    assert http.get("/admin/portfolio").status_code == 200


@pytest.mark.usefixtures("admin")
def test_a_zone_position_that_is_not_a_whole_number_is_explained(http: TestClient) -> None:
    for typed in ("²", "--5", "-²"):
        answer = post_form(
            http, "/admin/zones/new",
            {"name": "Centro", "postal_prefixes": "28", "countries": "es", "position": typed},
        )  # fmt: skip
        assert answer.status_code == 400, typed
        assert "A whole number." in answer.text
    assert Zone.select().count() == 0
