"""The agenda and the task pages over HTTP: who sees what, forms, zones, queries."""

from __future__ import annotations

import re
from datetime import date, datetime
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from portal.core import tasks
from portal.core.models import Activity, Client, Contact, Profile, Task, User
from portal.core.tasks import When
from tests.conftest import count_queries, grant, log_in, make_profile, make_user, post_form

MADRID = "Europe/Madrid"
MEXICO = "America/Mexico_City"
DAY = date(2027, 3, 29)


@pytest.fixture
def org(app: object, fast_passwords: None) -> SimpleNamespace:
    """CMO over two managers over salespeople; an assistant of North; back office.

    Every profile holds the baseline (the agenda and the client menus); only
    the North manager's may delete tasks.
    """
    cmo = make_profile("CMO")
    north = grant(make_profile("North", cmo), "tasks.delete")
    south = make_profile("South", cmo)
    north_sales = make_profile("North sales", north)
    o = SimpleNamespace(
        cmo=make_user("cmo@example.com", cmo, language="en"),
        north=make_user("north@example.com", north, language="en", time_zone=MEXICO),
        south=make_user("south@example.com", south, language="en"),
        ana=make_user("ana@example.com", north_sales, language="en", time_zone=MADRID),
        bea=make_user("bea@example.com", north_sales, language="en"),
        carl=make_user("carl@example.com", make_profile("South sales", south), language="en"),
        assistant=make_user(
            "assistant@example.com",
            make_profile("North assistant", north, is_assistant=True),
            language="en",
        ),
        back=make_user("back@example.com", make_profile("Back", kind="structural"), language="en"),
    )
    o.client = Client(name="Olivar Sur", owner=o.ana)
    o.client.reindex()
    o.client.save()
    o.contact = Contact.create(client=o.client, name="Pilar")
    o.tasks = {
        name: tasks.create(
            getattr(o, name), f"Task of {name}", When.at(datetime(2027, 3, 29, 10), MADRID)
        )
        for name in ("cmo", "north", "south", "ana", "bea", "carl", "assistant", "back")
    }
    return o


# Whose tasks each person sees, from the hierarchy.
SEES = {
    "cmo": {"cmo", "north", "south", "ana", "bea", "carl", "assistant"},
    "north": {"north", "ana", "bea", "assistant"},
    "south": {"south", "carl"},
    "ana": {"ana"},
    "bea": {"bea"},
    "carl": {"carl"},
    "assistant": {"north", "ana", "bea", "assistant"},
    "back": {"cmo", "north", "south", "ana", "bea", "carl", "assistant", "back"},
}


def titles(html: str) -> set[str]:
    return set(re.findall(r"Task of (\w+)", html))


def agenda_section(html: str) -> str:
    return html.split('<ol class="', 1)[1].split('<section id="overdue">', 1)[0]


def test_each_profile_sees_its_own_and_its_teams_tasks(
    http: TestClient, org: SimpleNamespace
) -> None:
    for name, expected in SEES.items():
        http.cookies.clear()
        log_in(http, f"{name}@example.com")

        mine = http.get(f"/agenda?view=week&date={DAY}")
        team = http.get(f"/agenda?view=week&who=team&date={DAY}")

        assert titles(agenda_section(mine.text)) == {name}, name
        assert titles(agenda_section(team.text)) == expected, name
        for owner, task in org.tasks.items():
            wanted = 200 if owner in expected else 404
            assert http.get(f"/agenda/tasks/{task.id}").status_code == wanted, (name, owner)


def test_the_team_filter_narrows_to_one_visible_person(
    http: TestClient, org: SimpleNamespace
) -> None:
    log_in(http, "north@example.com")

    one = http.get(f"/agenda?view=week&who=team&assignee={org.bea.id}&date={DAY}")
    outsider = http.get(f"/agenda?view=week&who=team&assignee={org.carl.id}&date={DAY}")

    assert titles(agenda_section(one.text)) == {"bea"}
    # Someone outside the scope is no filter at all: the team as a whole shows.
    assert titles(agenda_section(outsider.text)) == SEES["north"]


def snapshot() -> tuple[list[dict], list[dict]]:
    return (
        list(Task.select().order_by(Task.id).dicts()),
        list(Activity.select().order_by(Activity.id).dicts()),
    )


def test_every_verb_on_a_task_outside_the_scope_answers_404(
    http: TestClient, org: SimpleNamespace
) -> None:
    log_in(http, "north@example.com")  # holds tasks.delete, and carl is not below
    hidden = org.tasks["carl"]
    before = snapshot()

    base = f"/agenda/tasks/{hidden.id}"
    form = {"kind": "call", "title": "Taken", "assignee": org.north.id, "day": "2027-03-30",
            "time": "10:00", "version": 1, "notes": "x"}  # fmt: skip
    answers = [
        http.get(base),
        http.get(f"{base}/edit"),
        post_form(http, f"{base}/edit", form),
        post_form(http, f"{base}/complete", {"kind": "call", "notes": "x", "version": 1}),
        http.get(f"{base}/delete"),
        post_form(http, f"{base}/delete"),
    ]

    assert [answer.status_code for answer in answers] == [404] * 6
    assert snapshot() == before


def test_deleting_needs_the_permission(http: TestClient, org: SimpleNamespace) -> None:
    log_in(http, "bea@example.com")
    own = org.tasks["bea"]
    page = http.get(f"/agenda/tasks/{own.id}").text
    assert f"/agenda/tasks/{own.id}/delete" not in page
    assert http.get(f"/agenda/tasks/{own.id}/delete").status_code == 403
    assert post_form(http, f"/agenda/tasks/{own.id}/delete").status_code == 403
    assert Task.get_or_none(Task.id == own.id) is not None

    http.cookies.clear()
    log_in(http, "north@example.com")
    assert f"/agenda/tasks/{own.id}/delete" in http.get(f"/agenda/tasks/{own.id}").text
    answer = post_form(http, f"/agenda/tasks/{own.id}/delete")
    assert (answer.status_code, answer.headers["location"]) == (303, "/agenda")
    assert Task.get_or_none(Task.id == own.id) is None


def new_task(**changes: object) -> dict[str, object]:
    return {"kind": "visit", "title": "Visita", "day": "2027-03-29", "time": "10:00",
            "duration": "45", "reminder": "15", **changes}  # fmt: skip


def test_a_task_is_entered_in_the_users_zone(http: TestClient, org: SimpleNamespace) -> None:
    log_in(http, "north@example.com")  # Mexico City

    answer = post_form(http, "/agenda/tasks/new", new_task(assignee=org.bea.id))

    assert answer.status_code == 303
    task = Task.get(Task.title == "Visita")
    assert (task.assignee_id, task.time_zone, task.local_start) == (
        org.bea.id, MEXICO, datetime(2027, 3, 29, 10, 0),
    )  # fmt: skip
    assert (task.due_at, task.remind_at) == (
        datetime(2027, 3, 29, 16, 0),
        datetime(2027, 3, 29, 15, 45),
    )
    assert task.created_by_id == org.north.id


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": " "}, "title"),
        ({"kind": "party"}, "kind"),
        ({"time": "25:00"}, "time"),
        ({"day": "29/03/2027"}, "day"),
        ({"duration": "-5"}, "duration"),
        ({"all_day": "on", "time": ""}, "reminder"),
        ({"recurrence": "weekly", "until": "2027-03-01"}, "until"),
        ({"recurrence": "hourly"}, "recurrence"),
    ],
)
def test_the_form_says_what_is_wrong_next_to_the_field(
    http: TestClient, org: SimpleNamespace, changes: dict, field: str
) -> None:
    log_in(http, "ana@example.com")

    answer = post_form(http, "/agenda/tasks/new", new_task(assignee=org.ana.id, **changes))

    assert answer.status_code == 400
    assert f'id="e-{field}"' in answer.text
    assert not Task.select().where(Task.title == "Visita").exists()


def test_people_clients_and_contacts_out_of_reach_are_refused(
    http: TestClient, org: SimpleNamespace
) -> None:
    theirs = Client(name="Taller Norte", owner=org.carl)
    theirs.reindex()
    theirs.save()
    foreign = Contact.create(client=theirs, name="Spy")
    log_in(http, "ana@example.com")

    attempts = [
        ({"assignee": org.carl.id}, "assignee"),
        ({"assignee": org.ana.id, "client": theirs.id}, "client"),
        ({"assignee": org.ana.id, "client": org.client.id, "contact": foreign.id}, "contact"),
    ]
    for changes, field in attempts:
        answer = post_form(http, "/agenda/tasks/new", new_task(**changes))
        assert answer.status_code == 400, changes
        assert f'id="e-{field}"' in answer.text
    assert not Task.select().where(Task.title == "Visita").exists()

    found = post_form(
        http, "/agenda/tasks/new",
        new_task(assignee=org.ana.id, client_q="olivar", contact=org.contact.id),
    )  # fmt: skip
    assert found.status_code == 303
    task = Task.get(Task.title == "Visita")
    assert (task.client_id, task.contact_id) == (org.client.id, org.contact.id)


def test_with_many_clients_the_form_searches_them(
    http: TestClient, org: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.core import task_forms

    monkeypatch.setattr(task_forms, "CLIENT_CHOICES", 0)
    twin = Client(name="Olivar Norte", owner=org.ana)
    twin.reindex()
    twin.save()
    log_in(http, "ana@example.com")
    assert 'name="client_q"' in http.get("/agenda/tasks/new").text

    for words, message in (("taller", "No client you can see matches."),
                           ("olivar", "Several clients match")):  # fmt: skip
        answer = post_form(http, "/agenda/tasks/new", new_task(assignee=org.ana.id, client_q=words))
        assert answer.status_code == 400
        assert 'id="e-client_q"' in answer.text and message in answer.text

    answer = post_form(
        http, "/agenda/tasks/new", new_task(assignee=org.ana.id, client_q="olivar norte")
    )
    assert answer.status_code == 303
    assert Task.get(Task.title == "Visita").client_id == twin.id


def test_a_client_out_of_reach_posted_by_hand_is_refused_with_a_message(
    http: TestClient, org: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.core import task_forms

    monkeypatch.setattr(task_forms, "CLIENT_CHOICES", 0)  # the form offers a search
    theirs = Client(name="Taller Norte", owner=org.carl)
    theirs.reindex()
    theirs.save()
    log_in(http, "ana@example.com")

    def message(client_id: int) -> str:
        answer = post_form(
            http, "/agenda/tasks/new", new_task(assignee=org.ana.id, client=client_id)
        )
        assert answer.status_code == 400
        assert "Taller" not in answer.text
        return answer.text.split('id="e-client_q">', 1)[1].split("<", 1)[0]

    # Someone else's client and one that does not exist read the same.
    assert message(theirs.id) == message(theirs.id + 1000) == "Choose a client you can see."
    assert not Task.select().where(Task.title == "Visita").exists()


def test_a_title_pasted_over_lines_is_kept_on_one(http: TestClient, org: SimpleNamespace) -> None:
    log_in(http, "ana@example.com")

    title = " Llamar\r\n a\tPilar\u2028 (Olivar)  "
    answer = post_form(http, "/agenda/tasks/new", new_task(assignee=org.ana.id, title=title))

    assert answer.status_code == 303
    assert Task.get(Task.assignee == org.ana.id, Task.title.startswith("Llamar")).title == (
        "Llamar a Pilar (Olivar)"
    )


def test_the_repeat_choice_speaks_each_readers_language(
    http: TestClient, other_http: TestClient, org: SimpleNamespace
) -> None:
    User.update(language="es").where(User.id == org.ana.id).execute()
    log_in(http, "ana@example.com")
    log_in(other_http, "bea@example.com")

    assert "No se repite" in http.get("/agenda/tasks/new").text
    english = other_http.get("/agenda/tasks/new").text
    assert "Does not repeat" in english and "No se repite" not in english


def test_two_people_editing_the_same_task_the_second_gets_a_conflict(
    http: TestClient, other_http: TestClient, org: SimpleNamespace
) -> None:
    task = org.tasks["ana"]
    log_in(http, "ana@example.com")
    log_in(other_http, "north@example.com")
    form = new_task(assignee=org.ana.id, version=1)

    first = post_form(http, f"/agenda/tasks/{task.id}/edit", {**form, "title": "Mine"})
    second = post_form(other_http, f"/agenda/tasks/{task.id}/edit", {**form, "title": "Theirs"})

    assert first.status_code == 303
    assert second.status_code == 409
    assert "Someone changed this task meanwhile" in second.text
    assert Task.get_by_id(task.id).title == "Mine"


def test_rescheduling_over_http_moves_the_reminder(http: TestClient, org: SimpleNamespace) -> None:
    log_in(http, "ana@example.com")
    post_form(http, "/agenda/tasks/new", new_task(assignee=org.ana.id))
    task = Task.get(Task.title == "Visita")
    assert task.remind_at == datetime(2027, 3, 29, 7, 45)

    moved = new_task(assignee=org.ana.id, time="12:30", version=task.version)
    assert post_form(http, f"/agenda/tasks/{task.id}/edit", moved).status_code == 303

    assert Task.get_by_id(task.id).remind_at == datetime(2027, 3, 29, 10, 15)


def test_completing_on_the_task_page_logs_the_outcome_in_one_step(
    http: TestClient, org: SimpleNamespace
) -> None:
    task = tasks.create(
        org.ana, "Llamar a Pilar", When.at(datetime(2027, 3, 29, 10), MADRID),
        client=org.client, contact=org.contact,
    )  # fmt: skip
    log_in(http, "ana@example.com")
    page = http.get(f"/agenda/tasks/{task.id}").text
    assert f'action="/agenda/tasks/{task.id}/complete"' in page

    answer = post_form(
        http, f"/agenda/tasks/{task.id}/complete",
        {"kind": "call", "notes": "Quiere presupuesto", "version": 1},
    )  # fmt: skip

    assert answer.status_code == 303
    done = Task.get_by_id(task.id)
    activity = Activity.get_by_id(done.outcome_id)
    assert (done.status, activity.client_id, activity.notes) == (
        "done", org.client.id, "Quiere presupuesto",
    )  # fmt: skip
    # A second, stale submission (a double tap) changes nothing.
    again = post_form(http, f"/agenda/tasks/{task.id}/complete", {"kind": "call", "version": 1})
    assert again.status_code == 400
    assert Activity.select().count() == 1


def day_html(http: TestClient, day: date, who: str = "mine") -> str:
    return agenda_section(http.get(f"/agenda?view=day&who={who}&date={day}").text)


def test_an_all_day_task_shows_on_its_date_in_mexico_city_and_madrid(
    http: TestClient, org: SimpleNamespace
) -> None:
    tasks.create(org.ana, "Feria de Sevilla", When.all_day(date(2027, 3, 28)))
    # 00:30 in Madrid on the 29th is still the 28th in Mexico City (17:30).
    tasks.create(org.ana, "Llamada temprana", When.at(datetime(2027, 3, 29, 0, 30), MADRID))

    log_in(http, "ana@example.com")  # Madrid
    assert "Feria de Sevilla" in day_html(http, date(2027, 3, 28))
    assert "Feria de Sevilla" not in day_html(http, date(2027, 3, 27))
    assert "Feria de Sevilla" not in day_html(http, date(2027, 3, 29))
    assert "Llamada temprana" in day_html(http, date(2027, 3, 29))
    assert "00:30" in day_html(http, date(2027, 3, 29))

    http.cookies.clear()
    log_in(http, "north@example.com")  # Mexico City
    assert "Feria de Sevilla" in day_html(http, date(2027, 3, 28), "team")
    assert "Feria de Sevilla" not in day_html(http, date(2027, 3, 27), "team")
    assert "Feria de Sevilla" not in day_html(http, date(2027, 3, 29), "team")
    assert "Llamada temprana" in day_html(http, date(2027, 3, 28), "team")
    assert "16:30" in day_html(http, date(2027, 3, 28), "team")


def test_a_series_shows_every_occurrence_and_keeps_its_local_time(
    http: TestClient, org: SimpleNamespace
) -> None:
    tasks.create(
        org.ana, "Reunión semanal", When.at(datetime(2027, 3, 8, 9), MADRID),
        kind="meeting", recurrence="weekly",
    )  # fmt: skip
    log_in(http, "ana@example.com")

    month = agenda_section(http.get("/agenda?view=month&date=2027-03-01").text)

    assert month.count("Reunión semanal") == 4  # the 8th, 15th, 22nd and 29th
    assert month.count('<span class="when">09:00</span>') == 4


def test_late_tasks_are_in_the_overdue_list(http: TestClient, org: SimpleNamespace) -> None:
    tasks.create(org.ana, "Enviar oferta", When.all_day(date(2020, 1, 7)))
    log_in(http, "ana@example.com")

    page = http.get("/agenda").text

    assert "Enviar oferta" in page.split('<section id="overdue">', 1)[1]


def test_the_client_page_lists_its_open_tasks(http: TestClient, org: SimpleNamespace) -> None:
    tasks.create(org.ana, "Visitar la almazara", When.all_day(DAY), client=org.client)
    log_in(http, "ana@example.com")

    page = http.get(f"/clients/{org.client.id}").text

    assert "Visitar la almazara" in page
    assert f"/agenda/tasks/new?client={org.client.id}" in page
    form = http.get(f"/agenda/tasks/new?client={org.client.id}").text
    assert f'<option value="{org.client.id}" selected>' in form
    assert "Pilar" in form  # its contacts are offered

    fields = new_task(assignee=org.ana.id, client=org.client.id, contact=org.contact.id)
    fields["next"] = re.search(r'name="next" value="([^"]+)"', form).group(1)
    answer = post_form(http, "/agenda/tasks/new", fields)
    assert answer.headers["location"] == f"/clients/{org.client.id}#tasks"
    assert "Visita" in http.get(f"/clients/{org.client.id}").text


def test_htmx_gets_only_the_agenda(http: TestClient, org: SimpleNamespace) -> None:
    log_in(http, "ana@example.com")

    fragment = http.get(f"/agenda?date={DAY}", headers={"HX-Request": "true"})

    assert fragment.text.lstrip().startswith('<div id="agenda">')
    assert "Task of ana" in fragment.text
    assert "HX-Request" in fragment.headers["vary"]


def _fill(org: SimpleNamespace, count: int) -> None:
    people = [org.ana, org.bea, org.assistant, org.north]
    for n in range(count):
        when = When.at(datetime(2027, 3, 1 + n % 28, 9), MADRID)
        tasks.create(
            people[n % len(people)], f"Extra {n}", when,
            client=org.client if n % 2 else None, recurrence="weekly" if n % 5 == 0 else "",
        )  # fmt: skip


def test_agenda_queries_do_not_grow_with_the_tasks(http: TestClient, org: SimpleNamespace) -> None:
    log_in(http, "north@example.com")
    url = "/agenda?view=month&who=team&date=2027-03-01"
    _fill(org, 3)
    http.get(url)
    with count_queries() as few:
        http.get(url)
    _fill(org, 40)
    with count_queries() as many:
        page = http.get(url)

    assert page.text.count("Extra ") > 40
    assert len(many) == len(few)


def test_the_agenda_speaks_spanish(http: TestClient, org: SimpleNamespace) -> None:
    User.update(language="es").where(User.id == org.ana.id).execute()
    log_in(http, "ana@example.com")

    page = http.get(f"/agenda?view=week&date={DAY}").text

    assert '<html lang="es">' in page
    assert "lun, 29 mar" in page
    assert "Llamada: Task of ana" in page


def test_a_fresh_profile_opens_the_agenda(http: TestClient, app: object) -> None:
    profile = Profile.create(name="Nuevo")
    make_user("new@example.com", profile, language="en")
    log_in(http, "new@example.com")

    assert http.get("/agenda").status_code == 200
    assert 'href="/agenda"' in http.get("/").text


def test_a_reminder_reads_in_the_readers_zone_on_the_notifications_page(
    http: TestClient, org: SimpleNamespace
) -> None:
    from portal.core import reminders

    tasks.create(
        org.north, "Llamar a Olivar", When.at(datetime(2027, 3, 29, 10), MEXICO),
        reminder_minutes=15,
    )  # fmt: skip
    assert len(reminders.send_due(datetime(2027, 3, 29, 15, 45))) == 1
    log_in(http, "north@example.com")

    page = http.get("/notifications").text

    assert "Task due: Llamar a Olivar" in page
    assert "10:00" in page  # Mexico City, not 16:00 UTC nor Madrid's 18:00
