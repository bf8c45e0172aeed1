"""Mass actions over HTTP: choose, confirm, summary; large ones in the background."""

from __future__ import annotations

import csv
import html
import io
import re
import socket
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from portal import jobs
from portal.config import Settings
from portal.core import bulk
from portal.core.models import BulkJob, Client
from tests.conftest import grant, log_in, post_form
from tests.core.test_client_pages import Team, add_client, team

__all__ = ["team"]
pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
def crew(team: Team) -> Team:
    for user in (team.ana, team.luis, team.boss):
        grant(user.profile, "clients.bulk")
    return team


def _confirm_form(page: str) -> dict[str, str]:
    form = page.split('action="/clients/bulk/apply"', 1)[1].split("</form>", 1)[0]
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', form)
        if name != "csrf_token"
    }


def test_choose_confirm_then_summary(http: TestClient, crew: Team) -> None:
    mine = [add_client(crew.ana, f"Mía {i}") for i in range(3)]
    theirs = add_client(crew.luis, "Ajena")
    shared = add_client(crew.luis, "Compartida", visible_to_all=True)
    ticked = [c.id for c in (*mine, theirs, shared)]

    question = post_form(
        http, "/clients/bulk", {"id": ticked, "action": "status", "value_status": "customer"}
    )
    assert question.status_code == 200, question.text[-1500:]
    assert "4 clients selected" in question.text
    assert "You may change 3 of them" in question.text
    assert "1 is shared by another team" in question.text
    assert Client.select().where(Client.status == "customer").count() == 0

    done = post_form(http, "/clients/bulk/apply", _confirm_form(question.text))
    assert done.status_code == 200
    assert "3 clients changed" in done.text and "1 refused" in done.text
    changed = {c.id for c in Client.select().where(Client.status == "customer")}
    assert changed == {c.id for c in mine}


def test_everything_matching_uses_the_filters(http: TestClient, crew: Team) -> None:
    for i in range(3):
        add_client(crew.ana, f"Bodegas {i}")
    other = add_client(crew.ana, "Ferretería")
    question = post_form(
        http, "/clients/bulk", {"all": "on", "q": "bodegas", "action": "segment",
                                "value_segment": "large"},
    )  # fmt: skip
    assert "3 clients selected" in question.text
    post_form(http, "/clients/bulk/apply", _confirm_form(question.text))
    assert Client.select().where(Client.segment == "large").count() == 3
    assert Client.get_by_id(other.id).segment == ""


def test_nothing_ticked_or_a_bad_value_is_explained(http: TestClient, crew: Team) -> None:
    client = add_client(crew.ana, "Mía")
    empty = post_form(http, "/clients/bulk", {"action": "status", "value_status": "customer"})
    assert empty.status_code == 400 and "Tick at least one client" in empty.text
    wrong = post_form(
        http, "/clients/bulk", {"id": client.id, "action": "status", "value_status": "king"}
    )
    assert wrong.status_code == 400 and "Choose one of the options." in wrong.text
    assert Client.get_by_id(client.id).status == "lead"


def test_mass_actions_need_their_permission(http: TestClient, team: Team) -> None:
    client = add_client(team.ana, "Mía")
    form = {"id": client.id, "action": "delete"}
    assert post_form(http, "/clients/bulk", form).status_code == 403
    selection = f'{{"ids": [{client.id}]}}'
    refused = post_form(http, "/clients/bulk/apply", {"selection": selection, "action": "delete"})
    assert refused.status_code == 403
    assert Client.select().count() == 1


def test_export_of_ticked_rows_stays_in_scope(http: TestClient, crew: Team) -> None:
    mine = add_client(crew.ana, "Mía")
    add_client(crew.ana, "Otra mía")
    theirs = add_client(crew.luis, "Ajena")
    grant(crew.ana.profile, "menu.clients.export")
    answer = post_form(
        http,
        "/clients/bulk",
        {"id": [mine.id, theirs.id], "action": "export", "value_export": "csv"},
    )
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    name = rows[0].index("Name")
    assert [row[name] for row in rows[1:]] == ["Mía"]


def test_large_selections_run_in_the_background(
    http: TestClient, other_http: TestClient, crew: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "BACKGROUND_AT", 2)
    clients = [add_client(crew.ana, f"Mía {i}") for i in range(4)]
    question = post_form(
        http,
        "/clients/bulk",
        {"id": [c.id for c in clients], "action": "zone", "value_zone": "Norte"},
    )
    assert "run in the background" in question.text
    started = post_form(http, "/clients/bulk/apply", _confirm_form(question.text))
    assert started.status_code == 303
    job = BulkJob.get()
    assert started.headers["location"] == f"/clients/bulk/{job.id}"
    assert (job.status, job.processed, job.total) == ("done", 4, 4)
    page = http.get(f"/clients/bulk/{job.id}")
    assert "4 clients changed" in page.text
    assert {c.zone for c in Client.select()} == {"Norte"}

    log_in(other_http, "luis@example.com")
    assert other_http.get(f"/clients/bulk/{job.id}").status_code == 404


def _queued_then_worked(http: TestClient, crew: Team, queue: object) -> None:
    clients = [add_client(crew.ana, f"Mía {i}") for i in range(4)]
    form = {"id": [c.id for c in clients], "action": "status", "value_status": "prospect"}
    question = post_form(http, "/clients/bulk", form)
    started = post_form(http, "/clients/bulk/apply", _confirm_form(question.text))
    job = BulkJob.get()
    assert (started.status_code, job.status) == (303, "queued")
    waiting = http.get(f"/clients/bulk/{job.id}").text
    assert "0 of 4 clients" in waiting and 'hx-trigger="every 1s"' in waiting
    assert not Client.select().where(Client.status == "prospect").exists()

    # What `cartera worker` does with each message of the queue.
    queue.execute(queue.dequeue())  # type: ignore[attr-defined]

    assert BulkJob.get_by_id(job.id).status == "done"
    assert Client.select().where(Client.status == "prospect").count() == 4
    assert "4 clients changed" in http.get(f"/clients/bulk/{job.id}").text


def test_without_immediate_mode_a_large_action_waits_for_the_worker(
    http: TestClient, crew: Team, settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(bulk, "BACKGROUND_AT", 2)
    queue = jobs.configure(Settings(data_dir=tmp_path / "queue", database_url="sqlite://"))
    try:
        _queued_then_worked(http, crew, queue)
    finally:
        jobs.configure(settings)


def _redis_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _redis_reachable(), reason="no Redis server on 127.0.0.1:6379")
def test_the_queue_works_through_redis(
    http: TestClient, crew: Team, settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(bulk, "BACKGROUND_AT", 2)
    # A database of its own, emptied first, so no earlier run's messages remain.
    url = "redis://127.0.0.1:6379/13"
    queue = jobs.configure(Settings(data_dir=tmp_path, database_url="sqlite://", redis_url=url))
    queue.flush()
    try:
        _queued_then_worked(http, crew, queue)
    finally:
        queue.flush()
        jobs.configure(settings)
