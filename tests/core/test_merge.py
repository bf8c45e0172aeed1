"""Merging two clients: everything moves, nothing outside the user's scope is touched
or revealed, restrictions and concurrent edits are respected, plugins are told."""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import peewee as pw
import pytest
from starlette.testclient import TestClient

from portal.app import create_app
from portal.config import Settings
from portal.core import merging, portfolio
from portal.core.models import (
    Activity,
    AuditEntry,
    Client,
    ClientMerge,
    ClientTag,
    ConsentRecord,
    Contact,
    Opportunity,
    Tag,
    User,
    Zone,
)
from portal.core.permissions import Grants, read_grants, write_grants
from portal.core.visibility import Scope
from portal.database import BaseModel, db
from portal.hookspecs import hookimpl
from portal.migrations import migrate
from portal.plugins import build_manager
from tests.conftest import CLIENT_KEYS, grant, log_in, make_profile, make_user, post_form
from tests.core.test_client_pages import Team, add_client, field_error, valid_form

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def team(http: TestClient) -> Team:
    """Ana and Luis are peers under the boss; every profile may merge."""
    top = grant(make_profile("Dirección"), *CLIENT_KEYS, "clients.merge", discount="100")
    north = grant(make_profile("Norte", parent=top), *CLIENT_KEYS, "clients.merge", discount="10")
    south = grant(make_profile("Sur", parent=top), *CLIENT_KEYS, "clients.merge", discount="100")
    people = Team(
        boss=make_user("boss@example.com", top, language="en"),
        ana=make_user("ana@example.com", north, language="en"),
        luis=make_user("luis@example.com", south, language="en"),
    )
    log_in(http, "ana@example.com")
    return people


def picks_form(survivor: Client, other: Client, step: str = "merge", **picks: str) -> dict:
    survivor, other = Client.get_by_id(survivor.id), Client.get_by_id(other.id)
    form = {"with": other.id, "version": survivor.version, "other_version": other.version}
    form.update({f"pick_{key}": pick for key, pick in picks.items()})
    return {**form, "step": step}


def everything() -> dict[str, int]:
    """Row counts of every table a merge may touch."""
    tables = (Client, Contact, Activity, Opportunity, ClientTag, ConsentRecord, ClientMerge)
    return {model._meta.table_name: model.select().count() for model in tables}


def versions() -> dict[int, int]:
    return dict(Client.select(Client.id, Client.version).tuples())


# ------------------------------------------------------------ completeness


def test_everything_moves_and_the_counts_add_up(http: TestClient, team: Team) -> None:
    first, second, third = (Tag.create(name=n) for n in ("Uno", "Dos", "Tres"))
    kept = add_client(team.ana, "Acme Ibérica SL", city="Soria")
    gone = add_client(team.ana, "ACME IBERICA", email="info@acme.example", phone="+34975000000")
    elsewhere = add_client(team.luis, "Acme del Sur", city="Cádiz")

    same = Contact.create(client=kept, name="Eva Gil", email="eva@acme.example")
    Contact.create(client=kept, name="Sin correo")
    twin = Contact.create(
        client=gone, name="Eva Gil Ruiz", email=" EVA@acme.example", mobile="+34600000001",
        marketing_consent="withdrawn", consent_at=datetime(2024, 5, 1),
    )  # fmt: skip
    Contact.create(client=gone, name="Pedro", email="pedro@acme.example")
    ConsentRecord.create(contact=twin, client=gone, email=twin.email, state="withdrawn",
                         method="email")  # fmt: skip
    # The same person on a client Ana cannot see stays as it is.
    stranger = Contact.create(client=elsewhere, name="Eva", email="eva@acme.example")
    for client, count in ((kept, 2), (gone, 3), (elsewhere, 1)):
        for n in range(count):
            Activity.create(client=client, author=client.owner, kind="call", subject=f"#{n}")
    for client, count in ((kept, 1), (gone, 2)):
        for n in range(count):
            Opportunity.create(client=client, owner=client.owner, title=f"Venta {n}")
    for client, tags in ((kept, (first, second)), (gone, (second, third)), (elsewhere, (third,))):
        for tag in tags:
            ClientTag.create(client=client, tag=tag)
    earlier = ClientMerge.create(merged_id=999_001, survivor=gone, actor=team.ana)
    before = everything()

    answer = post_form(
        http, f"/clients/{kept.id}/merge", picks_form(kept, gone, email="other", phone="other")
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/clients/{kept.id}?merged=1"
    assert Client.get_or_none(Client.id == gone.id) is None
    after = everything()
    assert after == {
        **before,
        "client": before["client"] - 1,
        "contact": before["contact"] - 1,  # the two Eva Gil are one
        "client_tag": before["client_tag"] - 1,  # Dos was on both
        "consent_record": before["consent_record"] + 1,  # Eva's consent changed
        "client_merge": before["client_merge"] + 1,
    }
    contacts = {c.name: c for c in Contact.select().where(Contact.client == kept.id)}
    assert set(contacts) == {"Eva Gil", "Sin correo", "Pedro"}
    assert Activity.select().where(Activity.client == kept.id).count() == 5
    assert Opportunity.select().where(Opportunity.client == kept.id).count() == 3
    assert {t.tag_id for t in ClientTag.select().where(ClientTag.client == kept.id)} == {
        first.id, second.id, third.id,
    }  # fmt: skip

    eva = Contact.get_by_id(same.id)
    assert (eva.email, eva.mobile, eva.marketing_consent) == (
        "eva@acme.example", "+34600000001", "withdrawn",
    )  # fmt: skip
    assert eva.consent_at is not None and eva.consent_at > datetime(2024, 5, 1)
    history = ConsentRecord.select().where(ConsentRecord.contact == eva.id)
    assert sorted((r.method, r.state) for r in history) == [
        ("email", "withdrawn"), ("merge", "withdrawn"),
    ]  # fmt: skip
    assert ClientMerge.get_by_id(earlier.merged_id).survivor_id == kept.id

    survivor = Client.get_by_id(kept.id)
    assert (survivor.name, survivor.email, survivor.phone) == (
        "Acme Ibérica SL", "info@acme.example", "+34975000000",
    )  # fmt: skip
    assert survivor.version == 2 and "info@acme.example" in survivor.search_text

    untouched = Client.get_by_id(elsewhere.id)
    assert untouched.version == 1
    assert Contact.get_by_id(stranger.id).client_id == elsewhere.id
    assert Activity.select().where(Activity.client == elsewhere.id).count() == 1


def test_the_merge_is_audited_with_both_ids_and_the_choices(http: TestClient, team: Team) -> None:
    kept = add_client(team.ana, "Ferretería Gómez", city="Soria")
    gone = add_client(team.ana, "Ferreteria Gomez SL", city="Almazán", email="f@gomez.example")
    Activity.create(client=gone, author=team.ana, kind="note", subject="Hola")

    post_form(
        http, f"/clients/{kept.id}/merge", picks_form(kept, gone, city="other", email="other")
    )

    entry = AuditEntry.get(AuditEntry.action == "clients.merged")
    before, after = json.loads(entry.before), json.loads(entry.after)
    assert (entry.object_type, entry.object_id, entry.actor_id) == ("client", kept.id, team.ana.id)
    assert (after["survivor_id"], after["merged_id"]) == (kept.id, gone.id)
    assert after["picked"] == {"city": "other", "email": "other"}
    assert (before["city"], after["city"]) == ("Soria", "Almazán")
    assert after["moved"] == {"activity": 1}
    assert before["merged_client"]["name"] == "Ferreteria Gomez SL"
    grant(team.boss.profile, "menu.admin", "menu.admin.audit")
    log_in(http, "boss@example.com")
    page = http.get("/admin/audit").text
    assert "Clients merged" in page


def test_marketing_opt_out_on_either_side_stays(http: TestClient, team: Team) -> None:
    kept = add_client(team.ana, "Bodegas Río")
    gone = add_client(team.ana, "Bodegas Rio", marketing_opt_out=True)

    post_form(http, f"/clients/{kept.id}/merge", picks_form(kept, gone))

    assert Client.get_by_id(kept.id).marketing_opt_out
    record = ConsentRecord.get(ConsentRecord.client == kept.id)
    assert (record.state, record.method, record.contact_id) == ("withdrawn", "merge", None)


def test_a_consent_on_one_side_reaches_the_joined_contact(http: TestClient, team: Team) -> None:
    kept = add_client(team.ana, "Bodegas Río")
    gone = add_client(team.ana, "Bodegas Rio")
    mine = Contact.create(client=kept, name="Luz", email="luz@rio.example")
    Contact.create(client=gone, name="Luz", email="luz@rio.example", marketing_consent="given")

    post_form(http, f"/clients/{kept.id}/merge", picks_form(kept, gone))

    assert Contact.get_by_id(mine.id).marketing_consent == "given"
    assert ConsentRecord.get(ConsentRecord.contact == mine.id).method == "merge"
    assert not Client.get_by_id(kept.id).marketing_opt_out
    assert ConsentRecord.select().where(ConsentRecord.contact.is_null()).count() == 0


def test_notes_of_both_and_the_details_of_a_joined_contact_are_kept(
    http: TestClient, team: Team
) -> None:
    kept = add_client(team.ana, "Bodegas Río", notes="Paga a 60 días.")
    gone = add_client(team.ana, "Bodegas Rio", notes="Cierra en agosto.")
    luz = Contact.create(client=kept, name="Luz", email="luz@rio.example", notes="Jefa")
    Contact.create(
        client=gone, name="Luz Mar", email="LUZ@rio.example", email_alt="luz@casa.example",
        phone="+34975000001", position="Gerente", notes="Prefiere el teléfono",
    )  # fmt: skip

    post_form(http, f"/clients/{kept.id}/merge", picks_form(kept, gone, notes="both"))

    assert Client.get_by_id(kept.id).notes == "Paga a 60 días.\n\nCierra en agosto."
    joined = Contact.get_by_id(luz.id)
    assert (joined.name, joined.email, joined.email_alt) == (
        "Luz", "luz@rio.example", "luz@casa.example",
    )  # fmt: skip
    assert (joined.phone, joined.position) == ("+34975000001", "Gerente")
    assert joined.notes == "Jefa\n\nPrefiere el teléfono"


def test_the_merged_client_follows_the_zone_and_segment_rules(http: TestClient, team: Team) -> None:
    Zone.create(name="Centro", postal_prefixes="28", countries="ES")
    rule = portfolio.SegmentRule("employees", Decimal(250), Decimal(50))
    portfolio.save_rule(rule, actor=team.boss, ip="")
    kept = add_client(team.ana, "Acme", segment="small", employees=10)
    gone = add_client(team.ana, "Acme SL", postal_code="28001", employees=300)

    form = picks_form(kept, gone, step="review", postal_code="other", employees="other")
    review = post_form(http, f"/clients/{kept.id}/merge", form)
    post_form(http, f"/clients/{kept.id}/merge", {**form, "step": "merge"})

    assert "Set by the zone and segment rules" in review.text
    survivor = Client.get_by_id(kept.id)
    assert (survivor.postal_code, survivor.zone, survivor.segment) == ("28001", "Centro", "large")


def test_an_erased_client_is_not_merged(http: TestClient, team: Team) -> None:
    kept = add_client(team.ana, "Acme")
    gone = add_client(team.ana, "Acme SL", kind="person", erased_at=datetime(2025, 1, 1))
    before, before_versions = everything(), versions()

    page = http.get(f"/clients/{kept.id}/merge", params={"with": gone.id})
    refused = post_form(http, f"/clients/{kept.id}/merge", picks_form(kept, gone))
    offered = http.get(f"/clients/{kept.id}/merge", params={"q": "acme"}).text

    assert "personal data was erased cannot be merged" in page.text
    assert "Review the merge" not in page.text
    assert refused.status_code == 400
    assert (everything(), versions()) == (before, before_versions)
    assert f"with={gone.id}" not in offered


# ------------------------------------------------------------ the pages


def test_from_the_client_page_to_the_merged_client(http: TestClient, team: Team) -> None:
    kept = add_client(team.ana, "Talleres García", city="Soria", email="taller@garcia.example")
    gone = add_client(team.ana, "Talleres Garcia SL", city="Soria", phone="+34975111222")
    add_client(team.luis, "Talleres Garcia Sur", city="Cádiz")

    detail = http.get(f"/clients/{kept.id}").text
    assert f'href="/clients/{kept.id}/merge"' in detail and "Merge with another client…" in detail
    picker = http.get(f"/clients/{kept.id}/merge", params={"q": "talleres"}).text
    assert f'href="/clients/{kept.id}/merge?with={gone.id}"' in picker
    assert "Sur" not in picker and f"with={kept.id}" not in picker

    choices = http.get(f"/clients/{kept.id}/merge", params={"with": gone.id}).text
    assert re.search(r'name="pick_name" value="survivor" checked', choices)
    # A field only the other client fills is offered from it.
    assert re.search(r'name="pick_phone" value="other" checked', choices)
    assert 'name="pick_city"' not in choices
    assert "Contacts: 0" in choices

    form = picks_form(kept, gone, step="review", name="other", phone="other", email="survivor")
    review = post_form(http, f"/clients/{kept.id}/merge", form)
    assert review.status_code == 200
    assert "Merge Talleres Garcia SL into Talleres García?" in html.unescape(review.text)
    assert "cannot be undone" in review.text
    assert Client.select().count() == 3

    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', review.text))
    merged = post_form(http, f"/clients/{kept.id}/merge", {**hidden, "step": "merge"})
    assert merged.status_code == 303
    survivor = Client.get_by_id(kept.id)
    assert (survivor.name, survivor.phone, survivor.email) == (
        "Talleres Garcia SL", "+34975111222", "taller@garcia.example",
    )  # fmt: skip
    notice = http.get(merged.headers["location"]).text
    assert "The two clients were merged" in notice


def test_the_autocomplete_offers_only_clients_that_may_be_merged(
    http: TestClient, team: Team
) -> None:
    kept = add_client(team.ana, "Hermanos Pérez")
    mine = add_client(team.ana, "Hermanos Perez SL")
    shared = add_client(team.luis, "Hermanos Pérez Sur", visible_to_all=True)

    plain = http.get("/clients/autocomplete", params={"q": "hermanos"}).text
    offered = http.get("/clients/autocomplete", params={"q": "hermanos", "merge": kept.id}).text
    foreign = http.get("/clients/autocomplete", params={"q": "hermanos", "merge": shared.id})

    assert f'href="/clients/{shared.id}"' in plain
    assert re.findall(r'href="([^"]+)"', offered) == [f"/clients/{kept.id}/merge?with={mine.id}"]
    assert foreign.status_code == 404


def test_the_duplicate_warning_links_to_the_merge(http: TestClient, team: Team) -> None:
    existing = add_client(team.ana, "Acme Ibérica SL", email="info@acme.example")
    edited = add_client(team.ana, "Otra")
    form = valid_form(team.ana, name="Otra", email="info@acme.example", version=1)

    warned = post_form(http, f"/clients/{edited.id}/edit", form)

    assert warned.status_code == 409
    assert f'href="/clients/{edited.id}/merge?with={existing.id}"' in warned.text


# ------------------------------------------------------------ visibility


def test_a_client_outside_the_scope_answers_404_and_nothing_changes(
    http: TestClient, team: Team
) -> None:
    mine = add_client(team.ana, "Acme")
    theirs = add_client(team.luis, "Acme Sur")
    shared = add_client(team.luis, "Acme Compartida", visible_to_all=True)
    Contact.create(client=theirs, name="Secreto", email="s@acme.example")
    before, before_versions = everything(), versions()

    answers = [
        http.get(f"/clients/{mine.id}/merge", params={"with": theirs.id}),
        http.get(f"/clients/{theirs.id}/merge", params={"with": mine.id}),
        http.get(f"/clients/{mine.id}/merge", params={"with": shared.id}),
        http.get(f"/clients/{theirs.id}/merge"),
        post_form(http, f"/clients/{mine.id}/merge", picks_form(mine, theirs)),
        post_form(http, f"/clients/{theirs.id}/merge", picks_form(theirs, mine)),
        post_form(http, f"/clients/{mine.id}/merge", picks_form(mine, shared)),
        post_form(http, f"/clients/{shared.id}/merge", picks_form(shared, mine)),
        post_form(http, f"/clients/{mine.id}/merge", picks_form(mine, mine)),
    ]

    assert [a.status_code for a in answers] == [404] * len(answers)
    assert not any("Acme Sur" in a.text or "Secreto" in a.text for a in answers)
    assert (everything(), versions()) == (before, before_versions)


def test_the_merged_away_address_leads_only_those_who_see_the_survivor(
    http: TestClient, other_http: TestClient, team: Team
) -> None:
    kept = add_client(team.ana, "Acme")
    gone = add_client(team.ana, "Acme SL")
    post_form(http, f"/clients/{kept.id}/merge", picks_form(kept, gone))

    mine = http.get(f"/clients/{gone.id}", follow_redirects=False)
    log_in(other_http, "boss@example.com")
    boss = other_http.get(f"/clients/{gone.id}", follow_redirects=False)
    log_in(other_http, "luis@example.com")
    peer = other_http.get(f"/clients/{gone.id}", follow_redirects=False)
    never = other_http.get("/clients/999999", follow_redirects=False)

    assert (mine.status_code, mine.headers["location"]) == (303, f"/clients/{kept.id}")
    assert (boss.status_code, boss.headers["location"]) == (303, f"/clients/{kept.id}")
    assert peer.status_code == 404 and "location" not in peer.headers
    assert peer.text == never.text


def test_a_second_merge_moves_the_old_address_along(http: TestClient, team: Team) -> None:
    first = add_client(team.ana, "Uno")
    second = add_client(team.ana, "Dos")
    third = add_client(team.ana, "Tres")
    post_form(http, f"/clients/{second.id}/merge", picks_form(second, first))
    post_form(http, f"/clients/{third.id}/merge", picks_form(third, second))

    answer = http.get(f"/clients/{first.id}", follow_redirects=False)

    assert answer.headers["location"] == f"/clients/{third.id}"


def test_merging_needs_its_permission(http: TestClient, team: Team) -> None:
    sales = grant(make_profile("Ventas"), "menu.clients")
    rep = make_user("rep@example.com", sales, language="en")
    log_in(http, "rep@example.com")
    kept, gone = add_client(rep, "Acme"), add_client(rep, "Acme SL")

    detail = http.get(f"/clients/{kept.id}").text
    page = http.get(f"/clients/{kept.id}/merge", params={"with": gone.id})
    posted = post_form(http, f"/clients/{kept.id}/merge", picks_form(kept, gone))
    offered = http.get("/clients/autocomplete", params={"q": "acme", "merge": kept.id}).text

    assert "/merge" not in detail
    assert page.status_code == posted.status_code == 403
    assert "Merge duplicate clients" in page.text
    assert Client.select().count() == 2 and "/merge" not in offered


# ------------------------------------------------------------ restrictions


def test_a_value_the_profile_may_not_set_is_refused_at_its_field(
    http: TestClient, team: Team
) -> None:
    kept = add_client(team.ana, "Acme", discount=Decimal(5))
    gone = add_client(team.ana, "Acme SL", discount=Decimal(30), visible_to_all=True)
    before, before_versions = everything(), versions()

    page = http.get(f"/clients/{kept.id}/merge", params={"with": gone.id}).text
    refused = post_form(http, f"/clients/{kept.id}/merge", picks_form(kept, gone, discount="other"))

    # Offered first: the values Ana may keep (her limit is 10 %).
    assert re.search(r'name="pick_discount" value="survivor" checked', page)
    assert refused.status_code == 400
    assert field_error(refused.text, "discount") == "Your profile may grant up to 10 %."
    assert (everything(), versions()) == (before, before_versions)


def test_a_locked_field_keeps_the_survivors_value(http: TestClient, team: Team) -> None:
    north = team.ana.profile
    held = read_grants(north)
    del held["clients.visible_to_all"]
    write_grants(north, held)
    north.save()
    kept = add_client(team.ana, "Acme")
    gone = add_client(team.ana, "Acme SL", visible_to_all=True)

    page = http.get(f"/clients/{kept.id}/merge", params={"with": gone.id}).text
    refused = post_form(
        http, f"/clients/{kept.id}/merge", picks_form(kept, gone, visible_to_all="other")
    )
    kept_value = post_form(http, f"/clients/{kept.id}/merge", picks_form(kept, gone))

    assert re.search(r'name="pick_visible_to_all" value="other"[^>]*disabled', page)
    assert refused.status_code == 400
    assert field_error(refused.text, "visible_to_all").startswith("Your profile may not")
    assert kept_value.status_code == 303
    assert not Client.get_by_id(kept.id).visible_to_all


def test_an_owner_out_of_reach_is_refused(http: TestClient, team: Team) -> None:
    log_in(http, "boss@example.com")
    kept = add_client(team.ana, "Acme")
    gone = add_client(team.luis, "Acme SL")
    User.update(is_active=False).where(User.id == team.luis.id).execute()

    refused = post_form(http, f"/clients/{kept.id}/merge", picks_form(kept, gone, owner="other"))

    assert refused.status_code == 400
    assert field_error(refused.text, "owner") == "Choose an owner among the people you can see."


# ------------------------------------------------------------ concurrency


def test_an_edit_meanwhile_stops_the_merge(http: TestClient, team: Team) -> None:
    kept = add_client(team.ana, "Acme")
    gone = add_client(team.ana, "Acme SL", email="old@acme.example")
    Contact.create(client=gone, name="Eva")
    form = picks_form(kept, gone, email="other")
    Client.update(email="new@acme.example", version=Client.version + 1).where(
        Client.id == gone.id
    ).execute()
    before, before_versions = everything(), versions()

    answer = post_form(http, f"/clients/{kept.id}/merge", form)

    assert answer.status_code == 409
    assert "Someone changed one of these clients" in answer.text
    assert "new@acme.example" in answer.text
    assert (everything(), versions()) == (before, before_versions)


def test_a_race_after_the_check_changes_nothing(http: TestClient, team: Team) -> None:
    kept = add_client(team.ana, "Acme")
    gone = add_client(team.ana, "Acme SL")
    Contact.create(client=gone, name="Eva")
    scope = Scope.for_user(team.ana)
    grants = Grants.of(User.get_by_id(team.ana.id))
    plan = merging.plan(kept, gone, grants, scope, {"pick_name": "other"})
    before, before_versions = everything(), versions()

    with pytest.raises(merging.Conflict):
        merging.merge(
            plan, http.app.state.plugins,  # type: ignore[attr-defined]
            survivor_version=1, other_version=0, actor=team.ana,
        )  # fmt: skip

    assert (everything(), versions()) == (before, before_versions)
    assert Client.get_by_id(kept.id).name == "Acme"


# ------------------------------------------------------------ plugins


class Visit(BaseModel):
    client = pw.ForeignKeyField(Client, backref="test_visits", on_delete="CASCADE")
    note = pw.CharField(default="")

    class Meta:
        table_name = "test_visit"


class Score(BaseModel):
    """One row per client at most."""

    client = pw.ForeignKeyField(Client, backref="test_score", unique=True, on_delete="CASCADE")
    points = pw.IntegerField(default=0)

    class Meta:
        table_name = "test_score"


class FieldWork:
    def __init__(self) -> None:
        self.heard: list[tuple[int, int, int | None, bool]] = []

    @hookimpl
    def register_models(self) -> list[type]:
        return [Visit, Score]

    @hookimpl
    def client_merged(self, survivor_id: int, merged_id: int, actor_id: int | None) -> None:
        committed = not Client.select().where(Client.id == merged_id).exists()
        self.heard.append((survivor_id, merged_id, actor_id, committed))


class Broken:
    @hookimpl
    def client_merged(self, merged_id: int) -> None:
        raise RuntimeError(f"cannot move {merged_id}")


@pytest.fixture
def plugin_http(settings: Settings) -> Iterator[tuple[TestClient, FieldWork]]:
    manager = build_manager(settings, load_installed=False)
    fieldwork = FieldWork()
    manager.register(Broken(), name="broken-plugin")
    manager.register(fieldwork, name="fieldwork")
    app = create_app(settings, plugins=manager)
    migrate(db.obj)
    db.create_tables([Visit, Score])
    with TestClient(app, base_url="http://testserver") as client:
        yield client, fieldwork
    db.close()


def test_client_merged_is_told_once_plugin_rows_moved(
    plugin_http: tuple[TestClient, FieldWork], caplog: pytest.LogCaptureFixture
) -> None:
    http, fieldwork = plugin_http
    profile = grant(make_profile("Dirección", kind="structural"), "menu.clients", "clients.merge")
    ana = make_user("ana@example.com", profile, language="en")
    log_in(http, "ana@example.com")
    kept, gone, other = add_client(ana, "Acme"), add_client(ana, "Acme SL"), add_client(ana, "X")
    for client, count in ((kept, 1), (gone, 2), (other, 1)):
        for n in range(count):
            Visit.create(client=client, note=str(n))
    Score.create(client=kept, points=5)
    Score.create(client=gone, points=7)
    Score.create(client=other, points=1)

    page = http.get(f"/clients/{kept.id}/merge", params={"with": gone.id}).text
    with caplog.at_level(logging.ERROR, logger="portal.plugins"):
        answer = post_form(http, f"/clients/{kept.id}/merge", picks_form(kept, gone))

    assert "test_visit: 2" in page and "test_score: 1 (1 already on both)" in page
    assert answer.status_code == 303
    assert Visit.select().where(Visit.client == kept.id).count() == 3
    assert Visit.select().count() == 4
    assert [(s.client_id, s.points) for s in Score.select().order_by(Score.id)] == [
        (kept.id, 5), (other.id, 1),
    ]  # fmt: skip
    assert fieldwork.heard == [(kept.id, gone.id, ana.id, True)]
    assert "broken-plugin" in caplog.text and "cannot move" in caplog.text
    assert Client.get_or_none(Client.id == gone.id) is None
