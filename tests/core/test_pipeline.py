"""Opportunities along a pipeline: stages, moving cards, totals, the client's lifecycle."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from portal.core import board, pipelines, purchases
from portal.core.models import (
    AuditEntry,
    Client,
    Opportunity,
    Pipeline,
    Stage,
    StageChange,
    User,
)
from portal.core.visibility import Scope
from portal.i18n import current_language, translations
from tests.conftest import count_queries, grant, log_in, make_profile, make_user, post_form, token

pytestmark = pytest.mark.usefixtures("fast_passwords")


def stage(name: str) -> Stage:
    default = Pipeline.get(Pipeline.is_default == True)  # noqa: E712
    return Stage.get(Stage.pipeline == default, Stage.name == name)


def new_client(owner: User, name: str = "Ferretería Núñez", status: str = "lead") -> Client:
    client = Client(name=name, owner=owner, status=status)
    client.reindex()
    client.save()
    return client


def new_opportunity(client: Client, owner: User, at: str = "Qualification", **extra) -> Opportunity:
    where = stage(at)
    values = {"title": "Pedido", "amount": Decimal("1000.00"), "probability": where.probability}
    values.update(extra)
    row = Opportunity.create(
        client=client, owner=owner, pipeline=where.pipeline_id, stage=where,
        status=where.kind, **values,
    )  # fmt: skip
    StageChange.create(opportunity=row, to_stage=where)
    return row


@pytest.fixture
def team(app: object) -> SimpleNamespace:
    """A manager over two salespeople, and a peer manager's salesperson."""
    head = make_profile("Jefatura")
    sales = make_profile("Comercial", head)
    other_head = make_profile("Jefatura Sur")
    other = make_profile("Comercial Sur", other_head)
    for profile in (head, sales, other_head, other):
        grant(profile, "menu.opportunities", "menu.opportunities.funnel", "opportunities.edit")
    return SimpleNamespace(
        head=make_user("head@example.com", head),
        ana=make_user("ana@example.com", sales),
        bea=make_user("bea@example.com", sales),
        carl=make_user("carl@example.com", other),
    )


def test_the_default_pipeline_has_its_stages_in_order(app: object) -> None:
    default = Pipeline.get(Pipeline.is_default == True)  # noqa: E712
    names = [(s.name, s.kind, s.probability) for s in pipelines.stages_of(default)]

    assert names == [
        ("Qualification", "open", 10),
        ("Needs analysis", "open", 25),
        ("Proposal", "open", 50),
        ("Negotiation", "open", 75),
        ("Won", "won", 100),
        ("Lost", "lost", 0),
    ]
    # Every default name is a catalogue msgid.
    assert {default.name, *(n for n, _k, _p in names)} <= set(pipelines.DEFAULT_NAMES)


def test_an_opportunity_without_a_stage_goes_where_its_status_says(team: SimpleNamespace) -> None:
    client = new_client(team.ana)
    won = Opportunity.create(client=client, owner=team.ana, title="Old sale", status="won")

    assert won.stage_id == stage("Won").id


def test_a_card_moves_with_a_plain_post_and_comes_back_303(
    http: TestClient, team: SimpleNamespace
) -> None:
    client = new_client(team.ana)
    deal = new_opportunity(client, team.ana)
    log_in(http, "ana@example.com")

    answer = post_form(http, f"/opportunities/{deal.id}/move", {"stage": stage("Proposal").id})

    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/opportunities?pipeline=")
    moved = Opportunity.get_by_id(deal.id)
    assert (moved.stage_id, moved.status, moved.probability) == (stage("Proposal").id, "open", 50)
    history = list(StageChange.select().where(StageChange.opportunity == deal.id))
    assert [(h.from_stage_id, h.to_stage_id) for h in history][-1] == (
        stage("Qualification").id,
        stage("Proposal").id,
    )
    entry = AuditEntry.get(AuditEntry.action == "opportunity.stage_changed")
    assert json.loads(entry.after)["stage"] == "Proposal"


def test_an_htmx_move_answers_the_two_columns_out_of_band(
    http: TestClient, team: SimpleNamespace
) -> None:
    client = new_client(team.ana)
    deal = new_opportunity(client, team.ana)
    log_in(http, "ana@example.com")
    csrf = token(http, "/opportunities")

    answer = http.post(
        f"/opportunities/{deal.id}/move",
        data={"stage": stage("Negotiation").id},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )

    assert answer.status_code == 200
    swapped = re.findall(
        r'<section class="column" id="stage-(\d+)"[^>]*hx-swap-oob="true"', answer.text
    )
    assert sorted(map(int, swapped)) == sorted([stage("Qualification").id, stage("Negotiation").id])
    assert "<html" not in answer.text
    assert Opportunity.get_by_id(deal.id).stage_id == stage("Negotiation").id


def test_a_move_without_the_csrf_token_is_refused(http: TestClient, team: SimpleNamespace) -> None:
    deal = new_opportunity(new_client(team.ana), team.ana)
    log_in(http, "ana@example.com")

    answer = http.post(
        f"/opportunities/{deal.id}/move",
        data={"stage": stage("Won").id},
        headers={"HX-Request": "true"},
        follow_redirects=False,
    )

    assert answer.status_code == 403
    assert Opportunity.get_by_id(deal.id).stage_id == stage("Qualification").id


def picked(html: str, deal: Opportunity) -> int:
    """The stage selected in the card's own move form."""
    select = html.split(f'<select id="move-{deal.id}"', 1)[1].split("</select>", 1)[0]
    return int(re.search(r'<option value="(\d+)" selected>', select).group(1))


def test_moving_to_lost_needs_a_reason_said_at_the_card(
    http: TestClient, team: SimpleNamespace
) -> None:
    deal = new_opportunity(new_client(team.ana), team.ana)
    log_in(http, "ana@example.com")

    refused = post_form(http, f"/opportunities/{deal.id}/move", {"stage": stage("Lost").id})
    assert refused.status_code == 400
    assert f'id="move-error-{deal.id}"' in refused.text
    assert "Di por qué se perdió." in refused.text
    assert Opportunity.get_by_id(deal.id).status == "open"
    # The card still shows Lost chosen, with its reason open: only the reason is missing.
    assert picked(refused.text, deal) == stage("Lost").id
    assert '<details class="lost-reason" open>' in refused.text
    dragged = http.post(
        f"/opportunities/{deal.id}/move",
        data={"stage": stage("Lost").id},
        headers={"HX-Request": "true", "X-CSRF-Token": token(http, "/opportunities")},
    )
    assert dragged.status_code == 400
    assert picked(dragged.text, deal) == stage("Lost").id

    moved = post_form(
        http,
        f"/opportunities/{deal.id}/move",
        {"stage": stage("Lost").id, "lost_reason": "Precio"},
    )
    assert moved.status_code == 303
    lost = Opportunity.get_by_id(deal.id)
    assert (lost.status, lost.lost_reason, lost.probability) == ("lost", "Precio", 0)
    assert lost.closed_on is not None


def test_the_form_wants_a_reason_for_a_lost_stage(http: TestClient, team: SimpleNamespace) -> None:
    client = new_client(team.ana)
    log_in(http, "ana@example.com")
    form = {"title": "Reforma", "amount": "1.500,00", "stage": stage("Lost").id,
            "owner": team.ana.id}  # fmt: skip

    answer = post_form(http, f"/clients/{client.id}/opportunities/new", form)

    assert answer.status_code == 400
    assert '<p class="error" id="e-lost_reason">Di por qué se perdió.</p>' in answer.text
    assert Opportunity.select().count() == 0


def test_titles_and_names_are_kept_on_one_line(http: TestClient, team: SimpleNamespace) -> None:
    admin = make_user("admin@example.com", make_profile("Sistemas"), is_admin=True)
    client = new_client(team.ana)
    log_in(http, "ana@example.com")
    form = {"title": "  Reforma\r\n\tcocina  ", "amount": "100", "stage": stage("Proposal").id,
            "owner": team.ana.id}  # fmt: skip

    assert post_form(http, f"/clients/{client.id}/opportunities/new", form).status_code == 303
    assert Opportunity.get(Opportunity.client == client.id).title == "Reforma cocina"

    log_in(http, admin.email)
    default = Pipeline.get(Pipeline.is_default == True)  # noqa: E712
    post_form(http, "/admin/pipelines", {"name": "Obra\r\nnueva"})
    post_form(http, f"/admin/pipelines/{default.id}/stages",
              {"name": "Visita\ntécnica", "probability": "20", "kind": "open"})  # fmt: skip
    assert Pipeline.get_or_none(Pipeline.name == "Obra nueva") is not None
    assert Stage.get_or_none(Stage.name == "Visita técnica") is not None


@pytest.mark.parametrize(
    "amount", ["1e10", "1E+3", "NaN", "Infinity", "-Infinity", "100.000.000.000", "-5"]
)
def test_an_amount_in_exponent_notation_not_finite_or_out_of_range_is_refused(
    http: TestClient, team: SimpleNamespace, amount: str
) -> None:
    client = new_client(team.ana)
    log_in(http, "ana@example.com")
    form = {"title": "Reforma", "amount": amount, "stage": stage("Proposal").id,
            "owner": team.ana.id}  # fmt: skip

    answer = post_form(http, f"/clients/{client.id}/opportunities/new", form)

    assert answer.status_code == 400
    assert 'id="e-amount"' in answer.text
    assert Opportunity.select().count() == 0


def test_new_opportunity_makes_a_lead_a_prospect_and_a_first_win_a_customer(
    http: TestClient, team: SimpleNamespace
) -> None:
    client = new_client(team.ana, status="lead")
    log_in(http, "ana@example.com")
    form = {"title": "Reforma", "amount": "2500.50", "stage": stage("Proposal").id,
            "owner": team.ana.id, "expected_close": "2030-05-01"}  # fmt: skip

    answer = post_form(http, f"/clients/{client.id}/opportunities/new", form)
    assert answer.status_code == 303
    deal = Opportunity.get(Opportunity.client == client.id)
    assert (deal.amount, deal.probability, deal.expected_close) == (
        Decimal("2500.50"), 50, date(2030, 5, 1),
    )  # fmt: skip
    assert Client.get_by_id(client.id).status == "prospect"

    post_form(http, f"/opportunities/{deal.id}/move", {"stage": stage("Won").id})
    after = Client.get_by_id(client.id)
    assert after.status == "customer"
    assert after.version == client.version + 2
    changes = [
        (json.loads(e.before)["status"], json.loads(e.after)["status"])
        for e in AuditEntry.select().where(AuditEntry.action == "clients.status.changed")
    ]
    assert changes == [("lead", "prospect"), ("prospect", "customer")]
    # The won deal is the client's purchase now.
    sales = purchases.client_sales(client.id)
    assert [(sale.amount, sale.opportunity_id) for sale in sales] == [(Decimal("2500.50"), deal.id)]


def test_only_the_first_win_moves_the_client_up(team: SimpleNamespace) -> None:
    client = new_client(team.ana, status="prospect")
    new_opportunity(client, team.ana, "Won")
    later = new_opportunity(client, team.ana)

    pipelines.change_stage(later, stage("Won"), actor=team.ana)

    # Someone had set it back to prospect by hand; a second win is not the first.
    assert Client.get_by_id(client.id).status == "prospect"


def test_column_totals_are_decimal_and_weighted_by_probability(team: SimpleNamespace) -> None:
    client = new_client(team.ana)
    for amount, probability in (("0.10", 33), ("0.20", 33), ("1000.05", 10)):
        new_opportunity(
            client, team.ana, "Proposal", amount=Decimal(amount), probability=probability
        )
    default = Pipeline.get(Pipeline.is_default == True)  # noqa: E712

    columns = board.columns(Scope.for_user(team.ana), default, date.today())

    proposal = next(c for c in columns if c.stage.name == "Proposal")
    assert (proposal.count, proposal.total) == (3, Decimal("1000.35"))
    # (0.10 × 33 + 0.20 × 33 + 1000.05 × 10) / 100 = 100.104 → 100.10, rounded once.
    assert proposal.weighted == Decimal("100.10")
    assert isinstance(proposal.weighted, Decimal)


def test_the_board_shows_totals_in_the_user_language(
    http: TestClient, team: SimpleNamespace
) -> None:
    User.update(language="es").where(User.id == team.ana.id).execute()
    new_opportunity(new_client(team.ana), team.ana, "Negotiation", amount=Decimal("1234.50"))
    log_in(http, "ana@example.com")

    page = http.get("/opportunities").text

    assert '<html lang="es">' in page
    assert "1.234,50\xa0€" in page
    assert "925,88\xa0€" in page  # 1234.50 × 75 %
    token_ = current_language.set("es")
    try:
        spanish = translations("es").gettext("Negotiation")
    finally:
        current_language.reset(token_)
    assert f">{spanish}</h2>" in page


def test_the_board_runs_the_same_queries_for_one_card_or_many(
    http: TestClient, team: SimpleNamespace
) -> None:
    log_in(http, "head@example.com")
    client = new_client(team.ana)
    new_opportunity(client, team.ana)
    http.get("/opportunities")
    with count_queries() as few:
        http.get("/opportunities")
    for n in range(12):
        new_opportunity(client, team.bea if n % 2 else team.ana, "Proposal")
    with count_queries() as many:
        page = http.get("/opportunities").text

    assert page.count('class="deal"') == 13
    assert len(many) == len(few)


def test_peers_opportunities_answer_404_for_every_verb(
    http: TestClient, team: SimpleNamespace
) -> None:
    theirs = new_opportunity(new_client(team.carl, "Cliente Sur"), team.carl)
    log_in(http, "ana@example.com")
    csrf = token(http, "/opportunities")
    before = list(Opportunity.select().dicts())

    attempts = [
        ("GET", f"/opportunities/{theirs.id}/edit", None),
        ("POST", f"/opportunities/{theirs.id}/edit", {"title": "Mine", "csrf_token": csrf}),
        ("POST", f"/opportunities/{theirs.id}/move",
         {"stage": stage("Won").id, "csrf_token": csrf}),
        ("GET", f"/opportunities/{theirs.id}/delete", None),
        ("POST", f"/opportunities/{theirs.id}/delete", {"csrf_token": csrf}),
    ]  # fmt: skip
    for method, url, form in attempts:
        answer = http.request(method, url, data=form, follow_redirects=False)
        assert answer.status_code == 404, (method, url)
    assert list(Opportunity.select().dicts()) == before
    assert f"/opportunities/{theirs.id}/" not in http.get("/opportunities").text


def test_the_manager_sees_and_moves_the_team_but_not_the_peer_team(
    http: TestClient, team: SimpleNamespace
) -> None:
    mine = new_opportunity(new_client(team.ana), team.ana)
    peer = new_opportunity(new_client(team.carl, "Cliente Sur"), team.carl)
    log_in(http, "head@example.com")

    page = http.get("/opportunities").text
    assert f'id="opportunity-{mine.id}"' in page
    assert f'id="opportunity-{peer.id}"' not in page
    answer = post_form(http, f"/opportunities/{mine.id}/move", {"stage": stage("Proposal").id})
    assert answer.status_code == 303


def test_edit_delete_and_conflict(http: TestClient, team: SimpleNamespace) -> None:
    client = new_client(team.ana)
    deal = new_opportunity(client, team.ana)
    log_in(http, "ana@example.com")
    page = http.get(f"/opportunities/{deal.id}/edit").text
    version = re.search(r'name="updated" value="([^"]+)"', page).group(1)
    form = {"title": "Pedido grande", "amount": "9000", "stage": stage("Proposal").id,
            "owner": team.ana.id, "updated": version, "probability": "10"}  # fmt: skip

    assert post_form(http, f"/opportunities/{deal.id}/edit", form).status_code == 303
    edited = Opportunity.get_by_id(deal.id)
    assert (edited.title, edited.amount) == ("Pedido grande", Decimal("9000.00"))
    # A new stage through the form is a move like any other, with the stage's probability.
    assert (edited.stage_id, edited.probability) == (stage("Proposal").id, 50)
    assert AuditEntry.select().where(AuditEntry.action == "opportunity.stage_changed").count() == 1
    # The same version again: someone saved in between.
    stale = post_form(http, f"/opportunities/{deal.id}/edit", {**form, "title": "Otro"})
    assert stale.status_code == 409
    assert Opportunity.get_by_id(deal.id).title == "Pedido grande"

    assert post_form(http, f"/opportunities/{deal.id}/delete").status_code == 303
    assert Opportunity.get_or_none(Opportunity.id == deal.id) is None


def test_stages_are_configured_and_a_held_stage_is_not_deleted(
    http: TestClient, team: SimpleNamespace
) -> None:
    admin = make_user("admin@example.com", make_profile("Sistemas"), is_admin=True, language="en")
    new_opportunity(new_client(team.ana), team.ana, "Proposal")
    log_in(http, admin.email)
    default = Pipeline.get(Pipeline.is_default == True)  # noqa: E712

    added = post_form(
        http,
        f"/admin/pipelines/{default.id}/stages",
        {"name": "Demostración", "probability": "60", "kind": "open"},
    )
    assert added.status_code == 303
    demo = Stage.get(Stage.name == "Demostración")
    assert (demo.probability, demo.translatable) == (60, False)
    post_form(http, f"/admin/stages/{demo.id}/move", {"direction": "up"})
    names = [s.name for s in pipelines.stages_of(default)]
    assert names[-3:] == ["Won", "Demostración", "Lost"]

    refused = post_form(http, f"/admin/stages/{stage('Proposal').id}/delete")
    assert refused.status_code == 400
    assert "This stage still holds opportunities: move them first." in refused.text
    assert Stage.get_or_none(Stage.name == "Proposal") is not None
    bad = post_form(http, f"/admin/stages/{demo.id}", {"name": "X", "probability": "120"})
    assert bad.status_code == 400
    assert post_form(http, f"/admin/stages/{demo.id}/delete").status_code == 303
    assert Stage.get_or_none(Stage.id == demo.id) is None

    renamed = post_form(http, f"/admin/stages/{stage('Won').id}", {
        "name": "Firmado", "probability": "100", "kind": "won"})  # fmt: skip
    assert renamed.status_code == 303
    assert Stage.get(Stage.name == "Firmado").translatable is False

    created = post_form(http, "/admin/pipelines", {"name": "Licitaciones"})
    assert created.status_code == 303
    tenders = Pipeline.get(Pipeline.name == "Licitaciones")
    assert len(pipelines.stages_of(tenders)) == 5
    assert post_form(http, f"/admin/pipelines/{tenders.id}", {"name": ""}).status_code == 400
    assert (
        post_form(http, f"/admin/pipelines/{tenders.id}", {"name": "Concursos"}).status_code == 303
    )
    assert Pipeline.get_by_id(tenders.id).name == "Concursos"
    # Its board opens, with the stages of that pipeline only.
    page = http.get(f"/opportunities?pipeline={tenders.id}").text
    assert page.count('<section class="column"') == 5


def test_a_name_already_taken_is_refused_whatever_its_case_and_accents(
    http: TestClient, team: SimpleNamespace
) -> None:
    admin = make_user("admin@example.com", make_profile("Sistemas"), is_admin=True, language="en")
    log_in(http, admin.email)
    default = Pipeline.get(Pipeline.is_default == True)  # noqa: E712
    taken = "Another one already has this name: choose a different one."
    path = f"/admin/pipelines/{default.id}/stages"
    demo = {"probability": "60", "kind": "open"}

    assert post_form(http, path, {"name": "Demostración", **demo}).status_code == 303
    for name in ("DEMOSTRACION", "proposal"):
        again = post_form(http, path, {"name": name, **demo})
        assert again.status_code == 400 and taken in again.text
    assert len(pipelines.stages_of(default)) == 7
    # A rename onto a sibling's name is refused; onto its own, in other case, it is not.
    negotiation = stage("Negotiation")
    clash = post_form(http, f"/admin/stages/{negotiation.id}", {"name": "Demostracion", **demo})
    assert clash.status_code == 400 and taken in clash.text
    assert Stage.get_by_id(negotiation.id).name == "Negotiation"
    own = post_form(http, f"/admin/stages/{negotiation.id}", {"name": "NEGOTIATION", **demo})
    assert own.status_code == 303

    # Pipelines: a second "Sales", or "Licitaciones" twice, is refused too.
    assert post_form(http, "/admin/pipelines", {"name": "Licitaciones"}).status_code == 303
    for name in ("sales", "LICITACIONES"):
        refused = post_form(http, "/admin/pipelines", {"name": name})
        assert refused.status_code == 400 and taken in refused.text
    assert Pipeline.select().count() == 2
    tenders = Pipeline.get(Pipeline.name == "Licitaciones")
    renamed = post_form(http, f"/admin/pipelines/{tenders.id}", {"name": "Sáles"})
    assert renamed.status_code == 400 and taken in renamed.text
    # Another pipeline may have a stage of the same name as this one's.
    answer = post_form(
        http, f"/admin/pipelines/{tenders.id}/stages", {"name": "Demostración", **demo}
    )
    assert answer.status_code == 303 and len(pipelines.stages_of(tenders)) == 6


def test_pipelines_page_needs_its_key(http: TestClient, team: SimpleNamespace) -> None:
    log_in(http, "ana@example.com")

    assert http.get("/admin/pipelines").status_code == 403


def test_migration_0012_places_existing_opportunities(database_url: str) -> None:
    from portal.core.models import Profile, SchemaMigration
    from portal.database import db as proxy
    from portal.database import open_database
    from portal.migrations import core_migrations, migrate

    database = open_database(database_url)
    earlier = [name for name, _apply in core_migrations() if name < "core.0012"]
    # The schema as it was before 0012, with opportunities in free-text stages.
    database.create_tables([SchemaMigration])
    for name, apply in core_migrations():
        if name in earlier:
            with database.atomic():
                apply(database)
                SchemaMigration.create(name=name)
    profile = Profile.create(name="Ventas", grants='{"menu.clients":""}')
    owner = User.create(email="a@example.com", name="A", profile=profile)
    client = Client.create(name="C", owner=owner)
    for status, old_stage in (("open", "proposal"), ("open", "???"), ("won", ""), ("lost", "")):
        database.execute_sql(
            "INSERT INTO opportunity (client_id, owner_id, title, amount, status, stage, "
            "probability, source, lost_reason, created_at, updated_at) "
            "VALUES (%s, %s, 'T', 10, %s, %s, 0, '', '', '2025-02-01', '2025-02-01')".replace(
                "%s", database.param
            ),
            (client.id, owner.id, status, old_stage),
        )

    migrate(database)

    placed = [
        Stage.get_by_id(row.stage_id).name for row in Opportunity.select().order_by(Opportunity.id)
    ]
    assert placed == ["Proposal", "Qualification", "Won", "Lost"]
    assert StageChange.select().count() == 4
    assert '"menu.opportunities":""' in Profile.get_by_id(profile.id).grants
    proxy.close()


def test_a_leavers_open_deals_go_to_the_successor_and_closed_ones_stay(
    team: SimpleNamespace,
) -> None:
    from portal.core import leavers

    client = new_client(team.ana)
    still_open = new_opportunity(client, team.ana, "Proposal")
    won = new_opportunity(client, team.ana, "Won")

    leavers.deactivate(team.ana, team.bea, actor=team.head)

    assert Opportunity.get_by_id(still_open.id).owner_id == team.bea.id
    assert Opportunity.get_by_id(won.id).owner_id == team.ana.id


def test_from_the_board_a_new_opportunity_finds_its_client_and_comes_back(
    http: TestClient, team: SimpleNamespace
) -> None:
    mine = new_client(team.ana, "Óptica Núñez")
    new_client(team.carl, "Óptica del Sur")
    log_in(http, "ana@example.com")
    board_url = "/opportunities?pipeline=1"

    found = http.get("/opportunities/new", params={"q": "optica", "next": board_url}).text
    links = re.findall(r'href="(/clients/\d+/opportunities/new[^"]*)"', found)
    assert len(links) == 1 and links[0].startswith(f"/clients/{mine.id}/")

    form = {"title": "Gafas", "stage": stage("Qualification").id, "owner": team.ana.id,
            "next": board_url}  # fmt: skip
    answer = post_form(http, f"/clients/{mine.id}/opportunities/new", form)
    assert (answer.status_code, answer.headers["location"]) == (303, board_url)
    deal = Opportunity.get(Opportunity.title == "Gafas")
    gone = http.post(
        f"/opportunities/{deal.id}/delete",
        params={"next": board_url},
        data={"csrf_token": token(http)},
        follow_redirects=False,
    )
    assert (gone.status_code, gone.headers["location"]) == (303, board_url)
    # A "next" to another site is not followed.
    other = post_form(http, f"/clients/{mine.id}/opportunities/new",
                      {**form, "next": "https://example.org/"})  # fmt: skip
    assert other.headers["location"] == f"/clients/{mine.id}#opportunities"


def test_an_empty_pipeline_is_deleted_after_confirmation_and_a_used_one_is_not(
    http: TestClient, team: SimpleNamespace
) -> None:
    admin = make_user("admin@example.com", make_profile("Sistemas"), is_admin=True, language="en")
    log_in(http, admin.email)
    assert post_form(http, "/admin/pipelines", {"name": "Licitaciones"}).status_code == 303
    assert post_form(http, "/admin/pipelines", {"name": "Renovaciones"}).status_code == 303
    tenders = Pipeline.get(Pipeline.name == "Licitaciones")
    renewals = Pipeline.get(Pipeline.name == "Renovaciones")
    held = pipelines.stages_of(renewals)[0]
    Opportunity.create(
        client=new_client(team.ana), owner=team.ana, title="Renovación", pipeline=renewals,
        stage=held, status=held.kind,
    )  # fmt: skip

    # Asking first: the page names what goes, and nothing is gone yet.
    asked = http.get(f"/admin/pipelines/{tenders.id}/delete")
    assert asked.status_code == 200
    assert "Delete the pipeline Licitaciones?" in asked.text
    assert "5 stages go with it:" in asked.text
    assert Pipeline.get_or_none(Pipeline.id == tenders.id) is not None

    gone = post_form(http, f"/admin/pipelines/{tenders.id}/delete")
    assert gone.status_code == 303
    assert Pipeline.get_or_none(Pipeline.id == tenders.id) is None
    assert not Stage.select().where(Stage.pipeline == tenders.id).exists()
    entry = AuditEntry.get(AuditEntry.action == "pipelines.deleted")
    # As stored: a new pipeline's default stage names stay msgids, whoever deleted it.
    assert json.loads(entry.before) == {
        "name": "Licitaciones",
        "stages": [s[0] for s in pipelines.NEW_PIPELINE_STAGES],
    }

    # One that holds an opportunity, and the default one, stay, with the reason.
    reason = "Only a pipeline without opportunities can be deleted; this one holds 1."
    page = http.get(f"/admin/pipelines/{renewals.id}/delete")
    assert reason in page.text and "Yes, delete" not in page.text
    assert "The pipeline Renovaciones cannot be deleted" in page.text
    refused = post_form(http, f"/admin/pipelines/{renewals.id}/delete")
    assert refused.status_code == 400 and reason in refused.text
    default = Pipeline.get(Pipeline.is_default == True)  # noqa: E712
    refused = post_form(http, f"/admin/pipelines/{default.id}/delete")
    assert "The default pipeline cannot be deleted." in refused.text
    assert Pipeline.select().count() == 2
    assert len(pipelines.stages_of(renewals)) == 5
    assert f"/admin/pipelines/{default.id}/delete" not in http.get("/admin/pipelines").text


def test_only_pipeline_administrators_delete_pipelines(
    http: TestClient, team: SimpleNamespace
) -> None:
    admin = make_user("admin@example.com", make_profile("Sistemas"), is_admin=True, language="en")
    log_in(http, admin.email)
    post_form(http, "/admin/pipelines", {"name": "Licitaciones"})
    tenders = Pipeline.get(Pipeline.name == "Licitaciones")
    log_in(http, team.head.email)

    assert http.get(f"/admin/pipelines/{tenders.id}/delete").status_code in (403, 404)
    assert post_form(http, f"/admin/pipelines/{tenders.id}/delete").status_code in (403, 404)
    assert Pipeline.get_or_none(Pipeline.id == tenders.id) is not None


def test_a_probability_in_other_unicode_digits_is_explained_not_a_server_error(
    http: TestClient, team: SimpleNamespace
) -> None:
    admin = make_user("admin@example.com", make_profile("Sistemas"), is_admin=True, language="en")
    log_in(http, admin.email)
    default = Pipeline.get(Pipeline.is_default == True)  # noqa: E712
    proposal = stage("Proposal")

    for typed in ("²", "①5", "٥٠"):
        added = post_form(
            http, f"/admin/pipelines/{default.id}/stages",
            {"name": "Demostración", "probability": typed, "kind": "open"},
        )  # fmt: skip
        assert added.status_code == 400, typed
        assert "A whole percentage between 0 and 100." in added.text
        changed = post_form(
            http, f"/admin/stages/{proposal.id}",
            {"name": "Proposal", "probability": typed, "kind": "open"},
        )  # fmt: skip
        assert changed.status_code == 400, typed
    assert Stage.get_by_id(proposal.id).probability == 50
    assert Stage.get_or_none(Stage.name == "Demostración") is None
