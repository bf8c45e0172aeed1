from __future__ import annotations

import hashlib
import time
import unicodedata
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

import peewee as pw
import phonenumbers
import pytest
from stdnum.ar import cuit
from stdnum.cl import rut
from stdnum.es import cif, nif
from stdnum.mx import rfc

from portal.core.demo import DemoAccounts, DemoDatabaseNotEmpty, build_demo
from portal.core.models import (
    CORE_MODELS,
    Activity,
    Client,
    ClientTag,
    Contact,
    Opportunity,
    Profile,
    Tag,
    User,
)
from portal.core.passwords import verify_password
from portal.core.permissions import Grants
from portal.core.visibility import Scope
from portal.database import db, open_database

# A fixed day keeps two runs identical even across midnight.
TODAY = date(2026, 3, 2)
SMALL = 300
MEMORY = "sqlite:///:memory:"
T = TypeVar("T")
FOREIGN_IDS = {
    "MX": lambda number: rfc.is_valid(number, validate_check_digits=True),
    "CL": rut.is_valid,
    "AR": cuit.is_valid,
}


@pytest.fixture
def demo(memory_db: pw.Database) -> DemoAccounts:
    return build_demo(clients=SMALL, today=TODAY)


def _digest() -> str:
    """A hash of every demo row; the password hash is salted, so left out."""
    digest = hashlib.sha256()
    for model in (Profile, User, Client, Contact, Activity):
        columns = [f for f in model._meta.sorted_fields if f.name != "password_hash"]
        for row in model.select(*columns).order_by(model.id).tuples():
            digest.update(repr(row).encode())
    return digest.hexdigest()


def _built(url: str, seed: int, summary: Callable[[], T]) -> T:
    """Build the small demo in a fresh database at `url` and summarise it."""
    database = open_database(url)
    try:
        db.create_tables(CORE_MODELS)
        build_demo(seed=seed, clients=SMALL, today=TODAY)
        return summary()
    finally:
        database.close()


def _activity_summary() -> list[tuple[object, ...]]:
    """Each activity with its client and author, named rather than by id."""
    query = (
        Activity.select(Client.name, Client.fiscal_id, User.email, Activity.subject)
        .join(Client)
        .switch(Activity)
        .join(User)
        .order_by(Activity.id)
        .tuples()
    )
    return list(query)


def _visible(email: str) -> set[int]:
    scope = Scope.for_user(User.get(User.email == email))
    return {client_id for (client_id,) in scope.clients().select(Client.id).tuples()}


def _owned_by(*profiles: str) -> set[int]:
    query = (
        Client.select(Client.id).join(User).join(Profile).where(Profile.name.in_(profiles)).tuples()
    )
    return {client_id for (client_id,) in query}


def _shared() -> set[int]:
    query = Client.select(Client.id).where(Client.visible_to_all)
    return {client_id for (client_id,) in query.tuples()}


def test_same_seed_gives_the_same_rows() -> None:
    first = _built(MEMORY, 7, _digest)

    assert _built(MEMORY, 7, _digest) == first
    assert _built(MEMORY, 8, _digest) != first


def test_profile_tree_is_four_levels_deep_with_structural_and_assistant(
    demo: DemoAccounts,
) -> None:
    parents = dict(Profile.select(Profile.id, Profile.parent).tuples())

    def depth(profile_id: int) -> int:
        levels = 1
        while parents[profile_id] is not None:
            profile_id = parents[profile_id]
            levels += 1
        return levels

    assert max(depth(profile_id) for profile_id in parents) >= 4
    assert Profile.select().where(Profile.kind == "structural").count() >= 1
    assistant = Profile.get(Profile.is_assistant)
    assert assistant.parent.name == "Jefatura Centro"


def test_about_twenty_five_users_share_one_password(demo: DemoAccounts) -> None:
    users = list(User.select())

    assert 20 <= len(users) <= 30
    assert [u.email for u in users if u.is_admin] == [demo.admin]
    assert {u.language for u in users} == {"es", "en"}
    assert all(ZoneInfo(u.time_zone) for u in users)
    assert all(u.email.endswith(".example") for u in users)
    assert len({u.password_hash for u in users}) == 1
    assert verify_password(users[0].password_hash, demo.password)
    for _, email in demo.logins():
        assert User.get_or_none(User.email == email) is not None


def test_fiscal_ids_are_valid(demo: DemoAccounts) -> None:
    query = Client.select(
        Client.country, Client.kind, Client.fiscal_id_type, Client.fiscal_id
    ).tuples()

    for country, kind, id_type, number in query:
        if country == "ES" and kind == "company":
            assert id_type == "cif" and cif.is_valid(number), number
        elif country == "ES":
            assert id_type in ("nif", "nie") and nif.is_valid(number), number
        else:
            assert id_type == "foreign" and FOREIGN_IDS[country](number), number


def test_phones_are_valid_for_the_clients_country(demo: DemoAccounts) -> None:
    clients = Client.select(Client.country, Client.phone, Client.mobile).tuples()
    contacts = Contact.select(Client.country, Contact.phone).join(Client).tuples()
    numbers = [
        (country, phone) for country, *phones in [*clients, *contacts] for phone in phones if phone
    ]

    assert len(numbers) > SMALL
    for country, phone in numbers:
        parsed = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(parsed), phone
        assert phonenumbers.region_code_for_number(parsed) == country, phone
        assert phone == phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def test_text_is_nfc_and_spanish(demo: DemoAccounts) -> None:
    texts = [
        *Profile.select(Profile.name).tuples(),
        *User.select(User.name).tuples(),
        *Client.select(Client.name, Client.address, Client.notes).tuples(),
        *Contact.select(Contact.name, Contact.position).tuples(),
        *Activity.select(Activity.subject, Activity.notes).tuples(),
    ]
    values = [value for row in texts for value in row]

    assert all(unicodedata.is_normalized("NFC", value) for value in values)
    assert any("ñ" in value for value in values)
    assert any("á" in value or "é" in value for value in values)


def test_clients_are_consistent_with_their_owner(demo: DemoAccounts) -> None:
    iberia = _owned_by(
        "Dirección Iberia",
        "Jefatura Centro",
        "Jefatura Norte",
        "Jefatura Sur",
        "Comercial Centro",
        "Comercial Norte",
        "Comercial Sur",
    )
    countries = dict(Client.select(Client.id, Client.country).tuples())

    assert {countries[i] for i in iberia} == {"ES"}
    assert {countries[i] for i in set(countries) - iberia} == {"MX", "CL", "AR"}
    for client in Client.select():
        assert (client.annual_revenue is not None) == (client.kind == "company")
        assert client.search_text and client.sort_name
    authors = Activity.select(Activity.author, Client.owner).join(Client).tuples()
    assert all(author == owner for author, owner in authors)
    first, last = Activity.select(
        pw.fn.MIN(Activity.happened_at), pw.fn.MAX(Activity.happened_at)
    ).scalar(as_tuple=True)
    assert (TODAY - first.date()).days <= 550 and last.date() < TODAY


def test_salesperson_sees_own_clients_and_shared_ones(demo: DemoAccounts) -> None:
    me = User.get(User.email == demo.salesperson)
    peers = User.select().where((User.profile == me.profile) & (User.id != me.id))
    own = {client.id for client in me.clients}
    # Peers sharing a profile do not see each other's clients.
    peer_owned = {client.id for peer in peers for client in peer.clients}

    assert own and peer_owned and _shared()
    assert _visible(demo.salesperson) == own | _shared()


def test_heads_managers_and_technician_see_their_branch(demo: DemoAccounts) -> None:
    centro = _owned_by("Jefatura Centro", "Comercial Centro") | _shared()
    everything = {client_id for (client_id,) in Client.select(Client.id).tuples()}

    assert _visible(demo.sales_head) == centro
    assert _visible(demo.technician) == centro
    assert centro < _visible(demo.manager) < everything
    assert _visible(demo.director) == everything
    assert _visible(demo.back_office) == everything


def test_refuses_a_database_with_rows(demo: DemoAccounts) -> None:
    before = _digest()

    with pytest.raises(DemoDatabaseNotEmpty, match="empty database"):
        build_demo(clients=SMALL, today=TODAY)
    assert _digest() == before


def test_refuses_a_password_login_would_reject(memory_db: pw.Database) -> None:
    with pytest.raises(ValueError, match="characters"):
        build_demo(clients=SMALL, password="short")


def test_default_size_is_quick_and_well_spread(memory_db: pw.Database) -> None:
    started = time.perf_counter()
    build_demo(today=TODAY)
    elapsed = time.perf_counter() - started

    clients = Client.select().count()
    with_contacts = Contact.select(Contact.client).distinct().count()
    assert clients == 3000
    assert 2.5 <= Activity.select().count() / clients <= 3.5
    assert 0.4 <= with_contacts / clients <= 0.6
    assert {c.status for c in Client.select(Client.status)} == {
        "lead",
        "prospect",
        "customer",
    }
    assert Client.select().where(Client.is_supplier).count() > 10
    assert all(
        isinstance(revenue, Decimal)
        for (revenue,) in Client.select(Client.annual_revenue)
        .where(Client.kind == "company")
        .tuples()
    )
    assert elapsed < 10


@pytest.mark.postgres
def test_postgresql_gets_the_same_rows(postgres_server: str) -> None:
    database = open_database(postgres_server)
    database.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    database.close()

    on_postgres = _built(postgres_server, 11, _activity_summary)

    assert on_postgres == _built(MEMORY, 11, _activity_summary)


def test_demo_profiles_hold_what_their_job_needs(demo: DemoAccounts) -> None:
    def holds(email: str) -> Grants:
        return Grants.of(User.get(User.email == email))

    sales, head = holds(demo.salesperson), holds(demo.sales_head)
    back_office, technician = holds(demo.back_office), holds(demo.technician)
    vip = Tag.get(Tag.name == "VIP")

    assert sales.has("menu.clients") and not sales.has("menu.admin.users")
    assert sales.limit("clients.discount") < head.limit("clients.discount")
    assert not sales.has("clients.supplier") and back_office.has("clients.supplier")
    assert back_office.has("clients.merge") and not sales.has("clients.merge")
    assert head.has(f"clients.tag.{vip.id}") and not sales.has(f"clients.tag.{vip.id}")
    assert not technician.has("menu.clients.import")
    assert holds(demo.admin).everything
    assert ClientTag.select().where(ClientTag.tag == vip).count() == Client.select().count() // 12


def test_opportunities_leave_the_other_demo_rows_as_they_were(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_them = _built(MEMORY, 7, lambda: (_digest(), _opportunity_digest()))
    again = _built(MEMORY, 7, _opportunity_digest)
    monkeypatch.setattr("portal.core.demo.create_opportunities", lambda rng, now: 0)
    without = _built(MEMORY, 7, _digest)

    assert with_them[0] == without
    assert again == with_them[1]


def _opportunity_digest() -> str:
    digest = hashlib.sha256()
    for row in Opportunity.select().order_by(Opportunity.id).tuples():
        digest.update(repr(row).encode())
    return digest.hexdigest()


def test_customers_have_bought_in_the_past_and_prospects_have_deals_open(
    demo: DemoAccounts,
) -> None:
    won = Opportunity.status == "won"
    rows = list(
        Opportunity.select(Opportunity, Client.id, Client.status, Client.created_at)
        .join(Client)
        .order_by(Opportunity.id)
    )
    customers = Client.select().where(Client.status == "customer").count()
    buyers = {row.client_id for row in rows if row.status == "won"}
    statuses = {row.client.status for row in rows if row.status == "won"}

    assert 0.7 <= len(buyers) / customers <= 0.95
    assert statuses == {"customer"}
    assert {row.status for row in rows} == {"won", "open", "lost"}
    assert Opportunity.select().where(won).count() > 5 * len(buyers)
    owners = dict(Client.select(Client.id, Client.owner).tuples())
    for row in rows:
        assert row.amount > 0 and row.owner_id == owners[row.client_id]
        if row.status == "open":
            assert row.closed_on is None and row.expected_close > TODAY
        else:
            assert row.client.created_at.date() <= row.closed_on < TODAY


def test_everyone_has_an_agenda_around_the_demo_day(demo: DemoAccounts) -> None:
    from portal.core.models import Task

    sales = User.get(User.email == demo.salesperson)
    theirs = Task.select().where(Task.assignee == sales.id)
    today = TODAY

    assert Grants.of(sales).has("menu.agenda")
    assert Grants.of(User.get(User.email == demo.sales_head)).has("tasks.delete")
    assert theirs.where(Task.due_on.between(today, today + timedelta(days=10))).exists()
    late = theirs.where(Task.status == "open", Task.due_on < today)
    done = theirs.where(Task.status == "done", Task.outcome.is_null(False))
    assert late.exists() and done.exists()
    assert Task.select().where(Task.recurrence == "weekly").count() == 5  # one per head
    # Every task is on a client its assignee owns.
    for task in Task.select(Task, Client).join(Client).where(Task.client.is_null(False)):
        assert task.client.owner_id == task.assignee_id
