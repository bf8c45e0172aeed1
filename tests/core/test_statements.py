"""Statements compiled once per shape give what peewee's own query gives."""

from __future__ import annotations

from datetime import datetime

import peewee as pw
import pytest

from portal import statements
from portal.core.models import Client, Profile, User
from portal.statements import Slot, compiled, slots
from tests.conftest import make_profile, make_user


@compiled
def _clients_of(owners: int) -> pw.SelectQuery:
    return (
        Client.select(Client.id, Client.name, Client.updated_at, Client.visible_to_all)
        .where(Client.owner.in_(slots("owners", owners)), Client.status == Slot("status"))
        .order_by(Client.id)
    )


def _direct(owners: list[int], status: str) -> list[tuple]:
    query = (
        Client.select(Client.id, Client.name, Client.updated_at, Client.visible_to_all)
        .where(Client.owner.in_(owners), Client.status == status)
        .order_by(Client.id)
    )
    return list(query.tuples())


@pytest.fixture
def people(app: object) -> list[User]:
    top = make_profile("Dirección")
    users = [make_user(f"u{n}@example.com", top) for n in range(3)]
    when = datetime(2026, 3, 1, 8, 30, 15, 250000)
    for n, owner in enumerate(users * 2):
        Client.create(
            owner=owner,
            name=f"Cliente {n}",
            status=("lead", "customer")[n % 2],
            visible_to_all=n == 3,
            updated_at=when,
        )
    return users


def test_rows_match_peewee_for_every_value_bound(people: list[User]) -> None:
    ids = [user.id for user in people]
    for owners in (ids[:1], ids[:2], ids):
        for status in ("lead", "customer", "prospect"):
            statement = _clients_of(len(owners))
            rows = statement.tuples(owners=owners, status=status)

            assert rows == _direct(owners, status)

    # Values come back as the fields' Python types, not the driver's.
    row = _clients_of(3).rows(owners=ids, status="customer")[1]
    assert row.updated_at == datetime(2026, 3, 1, 8, 30, 15, 250000)
    assert row.visible_to_all is True


def test_each_shape_has_its_own_sql_and_the_same_shape_is_built_once(
    people: list[User],
) -> None:
    assert _clients_of(2) is _clients_of(2)
    assert _clients_of(2).sql != _clients_of(3).sql
    # A value never ends up in the SQL text itself.
    statement = _clients_of(1)
    statement.tuples(owners=[people[0].id], status="lead")
    assert "lead" not in statement.sql


def test_a_statement_counts_and_reads_scalars(people: list[User]) -> None:
    @compiled
    def users_below(count: int) -> pw.SelectQuery:
        return User.select(pw.fn.COUNT(User.id)).where(User.profile.in_(slots("p", count)))

    profiles = [profile.id for profile in Profile.select()]

    assert users_below(len(profiles)).scalar(p=profiles) == 3
    assert users_below(0).scalar(p=[]) == 0


@pytest.mark.parametrize(
    "column",
    [
        ("2026-03-01 08:30:15.250000", "2026-03-01 08:30:15", "2026-03-01"),
        ("2026-03-01 08:30:15", None),
        ("2026-03-01 08:30:15", "2026-03-01 08:30:15+02:00"),
        ("2026-03-01 08:30:15", "1 March 2026"),
        (datetime(2026, 3, 1, 8, 30), datetime(2026, 3, 2)),
    ],
)
def test_a_column_of_times_reads_as_each_cell_alone(column: tuple) -> None:
    # A list's times are read a column at a time; a column the quick way cannot
    # read (NULLs, offsets, another format, the driver's own datetimes) must
    # still come out exactly as peewee reads each value.
    python_value = pw.DateTimeField().python_value

    read = list(statements._datetimes(python_value, column))

    assert read == [python_value(value) for value in column]
