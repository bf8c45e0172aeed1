"""Mass actions: limited to what the user may see and change, counted, audited."""

from __future__ import annotations

import json

import pytest

from portal.core import bulk, listing
from portal.core.models import AuditEntry, Client, ClientTag, Contact, Tag
from portal.core.permissions import Grants
from portal.core.visibility import Scope
from tests.conftest import grant
from tests.core.test_client_pages import Team, add_client, team

__all__ = ["team"]
pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def book(team: Team) -> dict[str, list[Client]]:
    """Ana's five clients, Luis's three, and one of Luis's shared with everyone."""
    return {
        "ana": [add_client(team.ana, f"Ana {i}", city="Bilbao") for i in range(5)],
        "luis": [add_client(team.luis, f"Luis {i}", city="Sevilla") for i in range(3)],
        "shared": [add_client(team.luis, "Compartido", visible_to_all=True, city="Bilbao")],
    }


def _ids(clients: list[Client]) -> tuple[int, ...]:
    return tuple(client.id for client in clients)


def _everything(**params: str) -> bulk.Selection:
    return bulk.Selection(filters=listing.ClientFilters.from_params(params))


def _run(team: Team, kind: str, value: str, selection: bulk.Selection) -> bulk.Outcome:
    scope = Scope.for_user(team.ana)
    action, errors = bulk.validate({"action": kind, "value": value}, scope, Grants.of(team.ana))
    assert errors == {} and action is not None
    return bulk.apply(action, selection, scope, actor=team.ana)


def test_ticked_rows_outside_the_scope_are_not_there(
    team: Team, book: dict[str, list[Client]]
) -> None:
    selection = bulk.Selection(ids=_ids(book["ana"][:2] + book["luis"]))
    outcome = _run(team, "status", "customer", selection)

    assert (outcome.selected, outcome.changed, outcome.refused) == (2, 2, 0)
    statuses = {c.id: c.status for c in Client.select()}
    assert [statuses[i] for i in _ids(book["ana"][:2])] == ["customer", "customer"]
    assert {statuses[i] for i in _ids(book["luis"] + book["ana"][2:])} == {"lead"}


def test_everything_matching_a_filter_leaves_shared_clients_alone(
    team: Team, book: dict[str, list[Client]]
) -> None:
    outcome = _run(team, "zone", "Norte", _everything(q="bilbao"))

    # Five of Ana's and the shared one match; the shared one is Luis's.
    assert (outcome.selected, outcome.changed, outcome.refused) == (6, 5, 1)
    assert {c.zone for c in Client.select().where(Client.owner == team.ana)} == {"Norte"}
    assert Client.get_by_id(book["shared"][0].id).zone == ""
    versions = {c.id: c.version for c in Client.select()}
    assert {versions[i] for i in _ids(book["ana"])} == {2}


def test_reassign_audits_every_owner_change(team: Team, book: dict[str, list[Client]]) -> None:
    scope = Scope.for_user(team.ana)
    grants = Grants.of(team.ana)
    _action, errors = bulk.validate(
        {"action": "reassign", "value": str(team.luis.id)}, scope, grants
    )
    assert errors == {"value": "Choose an owner among the people you can see."}

    boss_scope = Scope.for_user(team.boss)
    action, _errors = bulk.validate(
        {"action": "reassign", "value": str(team.luis.id)}, boss_scope, Grants.of(team.boss)
    )
    assert action is not None
    outcome = bulk.apply(action, bulk.Selection(ids=_ids(book["ana"])), boss_scope, actor=team.boss)

    assert outcome.changed == 5
    assert Client.select().where(Client.owner == team.luis).count() == 9
    changes = AuditEntry.select().where(AuditEntry.action == "clients.owner.changed")
    assert sorted(e.object_id for e in changes) == sorted(_ids(book["ana"]))
    summary = AuditEntry.get(AuditEntry.action == "clients.bulk.reassign")
    assert json.loads(summary.after)["changed"] == 5


def test_tags_follow_the_profile_and_count_only_real_changes(
    team: Team, book: dict[str, list[Client]]
) -> None:
    vip = Tag.create(name="VIP")
    scope, grants = Scope.for_user(team.ana), Grants.of(team.ana)
    _action, errors = bulk.validate({"action": "tag", "value": str(vip.id)}, scope, grants)
    assert errors == {"value": "Your profile may not assign or remove: VIP."}

    grant(team.ana.profile, f"clients.tag.{vip.id}")
    ClientTag.create(client=book["ana"][0], tag=vip)
    tagged = _run(team, "tag", str(vip.id), bulk.Selection(ids=_ids(book["ana"])))
    assert (tagged.changed, tagged.unchanged) == (4, 1)
    assert ClientTag.select().count() == 5

    untagged = _run(team, "untag", str(vip.id), _everything())
    assert untagged.changed == 5 and ClientTag.select().count() == 0


def test_delete_removes_only_what_may_be_changed(team: Team, book: dict[str, list[Client]]) -> None:
    Contact.create(client=book["ana"][0], name="Marta")
    before = Client.select().count()
    outcome = _run(team, "delete", "", _everything())

    assert (outcome.selected, outcome.changed, outcome.refused) == (6, 5, 1)
    assert Client.select().count() == before - 5
    assert Contact.select().count() == 0
    assert not Client.select().where(Client.owner == team.ana).exists()
    deleted = AuditEntry.select().where(AuditEntry.action == "clients.deleted").count()
    assert deleted == 5


def test_bad_values_are_refused(team: Team) -> None:
    scope, grants = Scope.for_user(team.ana), Grants.of(team.ana)
    for raw, field in (
        ({"action": "explode"}, "action"),
        ({"action": "status", "value": "king"}, "value"),
        ({"action": "segment", "value": "huge"}, "value"),
        ({"action": "tag", "value": "999"}, "value"),
    ):
        action, errors = bulk.validate(raw, scope, grants)
        assert action is None and field in errors, raw


def test_progress_is_reported_per_batch(
    team: Team, book: dict[str, list[Client]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "BATCH", 2)
    seen: list[tuple[int, int]] = []
    scope = Scope.for_user(team.ana)
    action = bulk.Action("segment", "large")
    bulk.apply(
        action, _everything(), scope, actor=team.ana, progress=lambda d, t: seen.append((d, t))
    )
    assert seen == [(2, 5), (4, 5), (5, 5)]
