"""Events: each core change is announced once, after its commit, never when undone."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from portal import events
from portal.core import bulk, leavers, pipelines, tasks
from portal.core.models import Activity, Client, Opportunity, Pipeline, Stage, User, WebForm
from portal.core.permissions import Grants
from portal.core.tasks import When
from portal.core.visibility import Scope
from portal.database import db
from portal.hookspecs import hookimpl
from tests.conftest import grant, log_in, post_form
from tests.core.test_client_pages import Team, _edit_form, add_client, team, valid_form
from tests.core.test_import_jobs import run
from tests.core.test_leads import lead, send

__all__ = ["team"]
pytestmark = pytest.mark.usefixtures("fast_passwords")

Heard = tuple[str, dict[str, object], bool]


class Recorder:
    """Notes every event with its arguments and whether a transaction was still open."""

    def __init__(self) -> None:
        self.heard: list[Heard] = []

    def _note(self, name: str, **values: object) -> None:
        self.heard.append((name, values, db.in_transaction()))

    def of(self, name: str) -> list[dict[str, object]]:
        return [values for event, values, _open in self.heard if event == name]

    @hookimpl
    def client_created(self, client_id: int, actor_id: int | None) -> None:
        self._note("client_created", client_id=client_id, actor_id=actor_id)

    @hookimpl
    def client_reassigned(self, client_ids: list[int], owner_id: int, actor_id: int | None) -> None:
        self._note("client_reassigned", client_ids=client_ids, owner_id=owner_id, actor_id=actor_id)

    @hookimpl
    def lead_captured(self, submission_id: int, client_id: int, owner_id: int) -> None:
        self._note(
            "lead_captured", submission_id=submission_id, client_id=client_id, owner_id=owner_id
        )

    @hookimpl
    def activity_logged(self, activity_id: int, client_id: int, actor_id: int | None) -> None:
        self._note(
            "activity_logged", activity_id=activity_id, client_id=client_id, actor_id=actor_id
        )

    @hookimpl
    def opportunity_stage_changed(
        self, opportunity_id: int, from_stage_id: int | None, to_stage_id: int, actor_id: int | None
    ) -> None:
        self._note(
            "opportunity_stage_changed",
            opportunity_id=opportunity_id,
            from_stage_id=from_stage_id,
            to_stage_id=to_stage_id,
            actor_id=actor_id,
        )

    @hookimpl
    def user_deactivated(
        self, user_id: int, successor_id: int | None, actor_id: int | None
    ) -> None:
        self._note(
            "user_deactivated", user_id=user_id, successor_id=successor_id, actor_id=actor_id
        )


class Failing:
    @hookimpl
    def client_created(self, client_id: int) -> None:
        raise RuntimeError(f"cannot file client {client_id}")


@pytest.fixture
def recorder(http: TestClient) -> Iterator[Recorder]:
    """A plugin registered on the running app's manager, which the events go to."""
    plugin = Recorder()
    manager = http.app.state.plugins
    manager.register(plugin, name="recorder")
    yield plugin
    manager.unregister(plugin)


def _after_commit(recorder: Recorder) -> bool:
    return recorder.heard != [] and not any(open_ for _e, _v, open_ in recorder.heard)


def test_client_created_once_after_commit_from_the_form(
    http: TestClient, team: Team, recorder: Recorder
) -> None:
    answer = post_form(http, "/clients/new", valid_form(team.ana))

    client = Client.get(Client.name == "Acme Ibérica SL")
    assert answer.status_code == 303
    assert recorder.heard == [
        ("client_created", {"client_id": client.id, "actor_id": team.ana.id}, False)
    ]


def test_client_created_for_each_imported_client(
    team: Team, recorder: Recorder, settings: object
) -> None:
    job = run(team.ana, "Nombre;Ciudad\nAcme;Bilbao\nBeta;Lugo\n", settings)
    dry = run(team.ana, "Nombre;Ciudad\nGamma;Soria\n", settings, dry_run=True)

    ids = sorted(c.id for c in Client.select())
    assert (job.created, dry.created) == (2, 1)
    assert sorted(e["client_id"] for e in recorder.of("client_created")) == ids
    assert {e["actor_id"] for e in recorder.of("client_created")} == {team.ana.id}
    assert _after_commit(recorder)


def test_client_reassigned_on_edit_and_in_bulk(
    http: TestClient, team: Team, recorder: Recorder
) -> None:
    mine = [add_client(team.ana, f"Ana {n}") for n in range(3)]
    with TestClient(http.app, base_url="http://testserver") as boss:
        log_in(boss, "boss@example.com")
        form = _edit_form(boss.get(f"/clients/{mine[0].id}/edit").text)
        edited = post_form(boss, f"/clients/{mine[0].id}/edit", {**form, "owner": team.luis.id})
    scope = Scope.for_user(team.boss)
    action, _errors = bulk.validate(
        {"action": "reassign", "value": str(team.luis.id)}, scope, Grants.of(team.boss)
    )
    assert action is not None
    bulk.apply(action, bulk.Selection(ids=tuple(c.id for c in mine)), scope, actor=team.boss)

    assert edited.status_code == 303
    assert recorder.of("client_reassigned") == [
        {"client_ids": [mine[0].id], "owner_id": team.luis.id, "actor_id": team.boss.id},
        {
            "client_ids": [mine[1].id, mine[2].id],
            "owner_id": team.luis.id,
            "actor_id": team.boss.id,
        },
    ]
    assert _after_commit(recorder)


def test_user_deactivated_hands_the_clients_over_with_client_reassigned(
    team: Team, recorder: Recorder
) -> None:
    mine = [add_client(team.ana, f"Ana {n}") for n in range(2)]

    leavers.deactivate(team.ana, team.luis, actor=team.boss)

    assert recorder.of("client_reassigned") == [
        {"client_ids": [c.id for c in mine], "owner_id": team.luis.id, "actor_id": team.boss.id}
    ]
    assert recorder.of("user_deactivated") == [
        {"user_id": team.ana.id, "successor_id": team.luis.id, "actor_id": team.boss.id}
    ]
    assert _after_commit(recorder)


def test_activity_logged_from_the_client_page(
    http: TestClient, team: Team, recorder: Recorder
) -> None:
    client = add_client(team.ana, "Acme")

    answer = post_form(
        http, f"/clients/{client.id}/activities", {"kind": "call", "subject": "Pedido"}
    )

    activity = Activity.get(Activity.client == client.id)
    assert answer.status_code == 303
    assert recorder.heard == [
        (
            "activity_logged",
            {"activity_id": activity.id, "client_id": client.id, "actor_id": team.ana.id},
            False,
        )
    ]


def test_activity_logged_on_completing_a_task_and_not_when_it_conflicts(
    team: Team, recorder: Recorder
) -> None:
    client = add_client(team.ana, "Acme")
    at = When.at(datetime(2027, 7, 14, 10, 0), "Europe/Madrid")
    task = tasks.create(team.ana, "Visita", at, kind="visit", client=client)
    stale = tasks.create(team.ana, "Llamada", at, kind="call", client=client)

    activity = tasks.complete(task, team.ana, outcome_kind="visit", notes="", expected_version=1)
    with pytest.raises(tasks.Conflict):
        tasks.complete(stale, team.ana, outcome_kind="call", notes="", expected_version=7)

    assert activity is not None
    assert recorder.of("activity_logged") == [
        {"activity_id": activity.id, "client_id": client.id, "actor_id": team.ana.id}
    ]
    assert _after_commit(recorder)


def test_opportunity_stage_changed_on_create_move_and_edit(
    http: TestClient, team: Team, recorder: Recorder
) -> None:
    grant(User.get_by_id(team.ana.id).profile, "menu.opportunities", "opportunities.edit")
    client = add_client(team.ana, "Acme")
    default = Pipeline.get(Pipeline.is_default == True)  # noqa: E712
    first, second, third = list(
        Stage.select().where(Stage.pipeline == default).order_by(Stage.position)
    )[:3]
    form = {"title": "Reforma", "amount": "100", "stage": first.id, "owner": team.ana.id}

    created = post_form(http, f"/clients/{client.id}/opportunities/new", form)
    deal = Opportunity.get(Opportunity.client == client.id)
    moved = post_form(http, f"/opportunities/{deal.id}/move", {"stage": second.id})
    fresh = Opportunity.get_by_id(deal.id)
    pipelines.change_stage(fresh, third, actor=None)

    assert (created.status_code, moved.status_code) == (303, 303)
    assert deal.amount == Decimal("100")
    assert [
        (e["from_stage_id"], e["to_stage_id"], e["actor_id"])
        for e in recorder.of("opportunity_stage_changed")
    ] == [
        (None, first.id, team.ana.id),
        (first.id, second.id, team.ana.id),
        (second.id, third.id, None),
    ]
    assert {e["opportunity_id"] for e in recorder.of("opportunity_stage_changed")} == {deal.id}
    assert _after_commit(recorder)


def test_lead_captured_with_its_new_client_and_note(
    http: TestClient, team: Team, recorder: Recorder
) -> None:
    fields = [
        {"name": name, "required": True, "label_es": name, "label_en": name}
        for name in ("name", "email")
    ]
    form = WebForm.create(
        name="Contacto", key="k" * 22, fields=json.dumps(fields), consent_es="Acepto.",
        thanks_es="¡Gracias!", fallback_owner=team.luis, due_hours=4,
    )  # fmt: skip

    answer = send(http, form, lead(form))

    client = Client.get()
    note = Activity.get(Activity.client == client.id)
    assert answer.status_code == 200
    captured = recorder.of("lead_captured")
    assert len(captured) == 1 and captured[0]["client_id"] == client.id
    assert captured[0]["owner_id"] == team.luis.id
    assert recorder.of("client_created") == [{"client_id": client.id, "actor_id": None}]
    assert recorder.of("activity_logged") == [
        {"activity_id": note.id, "client_id": client.id, "actor_id": None}
    ]
    assert _after_commit(recorder)


# ------------------------------------------------------------- the mechanism


def test_events_are_dropped_with_a_rolled_back_transaction_or_savepoint(
    team: Team, recorder: Recorder
) -> None:
    client = add_client(team.ana, "Acme")

    with pytest.raises(RuntimeError), db.atomic():
        events.emit("client_created", client_id=1, actor_id=None)
        raise RuntimeError("undo")
    with db.atomic():
        events.emit("client_created", client_id=2, actor_id=None)
        with pytest.raises(RuntimeError), db.atomic():
            events.emit("client_created", client_id=3, actor_id=None)
            with db.atomic():
                events.emit("client_created", client_id=4, actor_id=None)
            raise RuntimeError("undo the savepoint")
        with db.atomic():
            events.emit("client_created", client_id=5, actor_id=None)
        assert recorder.heard == []  # nothing before the outer commit
    events.emit("client_created", client_id=client.id, actor_id=None)

    assert [e["client_id"] for e in recorder.of("client_created")] == [2, 5, client.id]
    assert _after_commit(recorder)


def test_a_failing_handler_is_logged_with_its_name_and_the_change_stays(
    http: TestClient, team: Team, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    manager = http.app.state.plugins
    manager.register(Failing(), name="failing-plugin")
    with caplog.at_level(logging.ERROR, logger="portal.plugins"):
        answer = post_form(http, "/clients/new", valid_form(team.ana))

    assert answer.status_code == 303
    assert Client.select().where(Client.name == "Acme Ibérica SL").count() == 1
    assert "failing-plugin" in caplog.text and "cannot file client" in caplog.text
    assert len(recorder.of("client_created")) == 1  # the others still hear
