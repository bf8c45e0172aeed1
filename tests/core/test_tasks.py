"""Tasks over time: zones and clock changes, series, reminders, completion, leavers."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest

from portal.config import Settings
from portal.core import leavers, reminders, tasks
from portal.core.models import Activity, AuditEntry, Client, Notification, Task, User
from portal.core.tasks import When
from tests.conftest import Mailbox, make_profile, make_user

MADRID = "Europe/Madrid"
MEXICO = "America/Mexico_City"
SANTIAGO = "America/Santiago"
BUENOS_AIRES = "America/Argentina/Buenos_Aires"


@pytest.fixture
def team(app: object, fast_passwords: None) -> SimpleNamespace:
    boss = make_profile("Jefatura")
    sales = make_profile("Comercial", boss)
    t = SimpleNamespace(
        boss=make_user("boss@example.com", boss, language="es", time_zone=MADRID),
        ana=make_user("ana@example.com", sales, language="es", time_zone=MADRID),
        diego=make_user("diego@example.com", sales, language="es", time_zone=MEXICO),
    )
    t.client = Client(name="Ferretería Úbeda", owner=t.ana)
    t.client.reindex()
    t.client.save()
    return t


def meeting(user: User, local: datetime, zone: str, **extra: object) -> Task:
    extra.setdefault("kind", "meeting")
    return tasks.create(user, "Reunión", When.at(local, zone), **extra)


def fresh(task: Task) -> Task:
    return Task.get_by_id(task.id)


def sent_titles(now: datetime) -> list[str]:
    return [note.values["title"] for note in reminders.send_due(now)]


# ---------------------------------------------------------------- zones


def test_a_madrid_meeting_in_july_reminds_at_0745_utc_once(team: SimpleNamespace) -> None:
    task = meeting(team.ana, datetime(2027, 7, 14, 10, 0), MADRID, reminder_minutes=15)

    assert (task.due_at, task.remind_at) == (
        datetime(2027, 7, 14, 8, 0),
        datetime(2027, 7, 14, 7, 45),
    )
    assert sent_titles(datetime(2027, 7, 14, 7, 44, 59)) == []
    assert sent_titles(datetime(2027, 7, 14, 7, 45)) == ["Reunión"]
    assert sent_titles(datetime(2027, 7, 14, 7, 46)) == []
    assert fresh(task).reminded_at == datetime(2027, 7, 14, 7, 45)


def test_madrid_meetings_either_side_of_the_march_clock_change(team: SimpleNamespace) -> None:
    # Clocks go forward on Sunday 28 March 2027: CET (UTC+1) before, CEST (UTC+2) after.
    friday = meeting(team.ana, datetime(2027, 3, 26, 10, 0), MADRID, reminder_minutes=15)
    monday = meeting(team.ana, datetime(2027, 3, 29, 10, 0), MADRID, reminder_minutes=15)

    assert friday.remind_at == datetime(2027, 3, 26, 8, 45)
    assert monday.due_at == datetime(2027, 3, 29, 8, 0)
    assert monday.remind_at == datetime(2027, 3, 29, 7, 45)
    assert sent_titles(datetime(2027, 3, 29, 7, 44)) == []  # Friday's, days late: dropped
    assert fresh(friday).reminded_at == datetime(2027, 3, 29, 7, 44)
    assert sent_titles(datetime(2027, 3, 29, 7, 45)) == ["Reunión"]
    assert fresh(monday).reminded_at is not None


def test_a_weekly_0900_meeting_keeps_its_local_time_after_the_change(
    team: SimpleNamespace,
) -> None:
    weekly = meeting(
        team.ana, datetime(2027, 3, 22, 9, 0), MADRID, recurrence="weekly", reminder_minutes=15
    )

    found = list(tasks.occurrences_between(weekly, date(2027, 3, 22), date(2027, 4, 5)))
    assert [o.local_start.time().isoformat() for o in found] == ["09:00:00"] * 3
    assert [o.starts_at for o in found] == [
        datetime(2027, 3, 22, 8, 0),  # CET
        datetime(2027, 3, 29, 7, 0),  # CEST: one hour earlier in UTC
        datetime(2027, 4, 5, 7, 0),
    ]

    # The first reminder goes out, and the series' next one is the new UTC hour.
    assert sent_titles(datetime(2027, 3, 22, 7, 45)) == ["Reunión"]
    assert fresh(weekly).remind_at == datetime(2027, 3, 29, 6, 45)
    assert sent_titles(datetime(2027, 3, 29, 6, 44)) == []
    assert sent_titles(datetime(2027, 3, 29, 6, 45)) == ["Reunión"]

    # Completing the first occurrence moves the task on, still at 09:00 local.
    tasks.complete(
        fresh(weekly), team.ana, outcome_kind="note", notes="", expected_version=1,
        now=datetime(2027, 3, 22, 10, 0),
    )  # fmt: skip
    moved = fresh(weekly)
    assert (moved.status, moved.due_on, moved.local_start) == (
        "open",
        date(2027, 3, 29),
        datetime(2027, 3, 29, 9, 0),
    )
    assert moved.due_at == datetime(2027, 3, 29, 7, 0)
    # That occurrence was reminded already: nothing goes out for it again.
    assert moved.remind_at == datetime(2027, 4, 5, 6, 45)
    assert sent_titles(datetime(2027, 3, 29, 6, 50)) == []


@pytest.mark.parametrize(
    ("zone", "local", "utc"),
    [
        # Mexico City has kept UTC-6 all year since 2022.
        (MEXICO, datetime(2027, 1, 11, 10, 0), datetime(2027, 1, 11, 16, 0)),
        (MEXICO, datetime(2027, 7, 12, 10, 0), datetime(2027, 7, 12, 16, 0)),
        # Buenos Aires keeps UTC-3 all year.
        (BUENOS_AIRES, datetime(2027, 1, 11, 10, 0), datetime(2027, 1, 11, 13, 0)),
        (BUENOS_AIRES, datetime(2027, 7, 12, 10, 0), datetime(2027, 7, 12, 13, 0)),
        # Santiago: UTC-3 in its summer, UTC-4 in its winter (from 4 April 2027).
        (SANTIAGO, datetime(2027, 1, 11, 10, 0), datetime(2027, 1, 11, 13, 0)),
        (SANTIAGO, datetime(2027, 7, 12, 10, 0), datetime(2027, 7, 12, 14, 0)),
    ],
)
def test_latin_american_zones(
    team: SimpleNamespace, zone: str, local: datetime, utc: datetime
) -> None:
    task = meeting(team.diego, local, zone, reminder_minutes=30)

    assert task.due_at == utc
    assert sent_titles(utc - timedelta(minutes=31)) == []
    assert sent_titles(utc - timedelta(minutes=30)) == ["Reunión"]


def test_a_weekly_santiago_meeting_across_the_april_change(team: SimpleNamespace) -> None:
    weekly = meeting(team.diego, datetime(2027, 3, 29, 9, 0), SANTIAGO, recurrence="weekly")

    found = list(tasks.occurrences_between(weekly, date(2027, 3, 29), date(2027, 4, 5)))

    assert [o.starts_at for o in found] == [
        datetime(2027, 3, 29, 12, 0),
        datetime(2027, 4, 5, 13, 0),
    ]


def test_an_all_day_task_has_a_date_and_no_instant(team: SimpleNamespace) -> None:
    task = tasks.create(team.ana, "Feria", When.all_day(date(2027, 3, 28)), reminder_minutes=15)

    assert (task.due_on, task.due_at, task.remind_at) == (date(2027, 3, 28), None, None)
    occurrence = next(tasks.repetitions(task))
    assert (occurrence.day, occurrence.starts_at) == (date(2027, 3, 28), None)


def test_a_monthly_series_on_the_31st_skips_shorter_months(team: SimpleNamespace) -> None:
    task = tasks.create(
        team.ana, "Cierre", When.all_day(date(2027, 1, 31)), recurrence="monthly",
        recurrence_until=date(2027, 6, 30),
    )  # fmt: skip

    days = [o.day for o in tasks.repetitions(task)]

    assert days == [date(2027, 1, 31), date(2027, 3, 31), date(2027, 5, 31)]


# ---------------------------------------------------------------- reminders


def test_rescheduling_moves_the_reminder_and_the_old_time_sends_nothing(
    team: SimpleNamespace,
) -> None:
    task = meeting(team.ana, datetime(2027, 7, 14, 10, 0), MADRID, reminder_minutes=15)
    stale = reminders.due(datetime(2027, 7, 14, 7, 45))  # a worker read it before the move

    later = When.at(datetime(2027, 7, 14, 12, 0), MADRID)
    tasks.save(fresh(task), {"reminder_minutes": 15}, later, expected_version=1)

    assert fresh(task).remind_at == datetime(2027, 7, 14, 9, 45)
    assert [reminders.claim(row, datetime(2027, 7, 14, 7, 45)) for row in stale] == [False]
    assert sent_titles(datetime(2027, 7, 14, 9, 44)) == []
    assert sent_titles(datetime(2027, 7, 14, 9, 45)) == ["Reunión"]
    assert Notification.select().count() == 1


def test_moving_a_reminded_task_reminds_again_but_editing_its_notes_does_not(
    team: SimpleNamespace,
) -> None:
    task = meeting(team.ana, datetime(2027, 7, 14, 10, 0), MADRID, reminder_minutes=15)
    assert sent_titles(datetime(2027, 7, 14, 7, 50)) == ["Reunión"]

    same = When.at(datetime(2027, 7, 14, 10, 0), MADRID)
    tasks.save(fresh(task), {"notes": "Llevar catálogo"}, same, expected_version=1)
    assert sent_titles(datetime(2027, 7, 14, 7, 55)) == []

    later = When.at(datetime(2027, 7, 15, 10, 0), MADRID)
    tasks.save(fresh(task), {}, later, expected_version=2)
    assert sent_titles(datetime(2027, 7, 15, 7, 45)) == ["Reunión"]


def test_two_workers_claiming_together_send_once(team: SimpleNamespace) -> None:
    meeting(team.ana, datetime(2027, 7, 14, 10, 0), MADRID, reminder_minutes=15)
    now = datetime(2027, 7, 14, 7, 45)
    first, second = reminders.due(now), reminders.due(now)

    assert [reminders.claim(task, now) for task in (*first, *second)] == [True, False]
    assert reminders.send_due(now) == []


def test_a_task_entered_for_a_time_gone_by_gets_no_reminder(team: SimpleNamespace) -> None:
    now = datetime(2027, 7, 14, 12, 0)
    old = tasks.create(
        team.ana, "Llamada", When.at(datetime(2027, 7, 10, 10, 0), MADRID),
        reminder_minutes=15, now=now,
    )  # fmt: skip
    # Its reminder moment is past but the meeting has not started: still worth it.
    soon = meeting(team.ana, datetime(2027, 7, 14, 14, 10), MADRID, reminder_minutes=15, now=now)
    weekly = meeting(
        team.ana, datetime(2027, 7, 7, 10, 0), MADRID,
        recurrence="weekly", reminder_minutes=15, now=now,
    )  # fmt: skip

    assert old.remind_at is None
    assert soon.remind_at == datetime(2027, 7, 14, 11, 55)
    assert weekly.remind_at == datetime(2027, 7, 21, 7, 45)  # the next one still to come
    assert sent_titles(now) == ["Reunión"]


def test_a_worker_back_from_an_outage_sends_only_what_has_not_started(
    team: SimpleNamespace,
) -> None:
    single = meeting(team.ana, datetime(2027, 7, 14, 10, 0), MADRID, reminder_minutes=15)
    daily = meeting(
        team.ana, datetime(2027, 7, 12, 10, 0), MADRID, recurrence="daily", reminder_minutes=15
    )
    later = meeting(team.ana, datetime(2027, 7, 14, 12, 10), MADRID, reminder_minutes=15)
    back = datetime(2027, 7, 14, 9, 58)  # down since before Monday's reminder

    assert sent_titles(back) == ["Reunión"]  # only the 12:10 meeting, not yet begun
    assert fresh(single).reminded_at == back
    assert fresh(later).reminded_at == back
    assert (fresh(daily).remind_at, fresh(daily).reminded_at) == (
        datetime(2027, 7, 15, 7, 45),
        None,
    )
    assert sent_titles(datetime(2027, 7, 15, 7, 45)) == ["Reunión"]


def test_a_series_begun_yesterday_is_reminded_of_todays_occurrence_until_it_starts(
    team: SimpleNamespace,
) -> None:
    # December: Madrid is UTC+1, so 03:20 there is 02:20 UTC, reminded at 02:05.
    now = datetime(2027, 12, 5, 2, 8, 46)
    daily = meeting(
        team.ana, datetime(2027, 12, 4, 3, 20), MADRID,
        recurrence="daily", reminder_minutes=15, now=now,
    )  # fmt: skip
    single = meeting(team.ana, datetime(2027, 12, 5, 3, 20), MADRID, reminder_minutes=15, now=now)

    # Today's occurrence has not started: its reminder is pending, like the single task's.
    assert daily.remind_at == single.remind_at == datetime(2027, 12, 5, 2, 5)
    assert sent_titles(now) == ["Reunión", "Reunión"]
    assert (fresh(daily).remind_at, fresh(daily).reminded_at) == (
        datetime(2027, 12, 6, 2, 5),
        None,
    )
    assert sent_titles(datetime(2027, 12, 5, 2, 10)) == []


def test_after_an_outage_a_series_sends_the_next_occurrence_not_yet_begun_once(
    team: SimpleNamespace,
) -> None:
    daily = meeting(
        team.ana, datetime(2027, 7, 12, 10, 0), MADRID, recurrence="daily", reminder_minutes=15
    )
    # Down from before Monday's reminder until Tuesday 09:50 in Madrid: Tuesday's
    # reminder time (07:45 UTC) has passed, but its meeting starts at 08:00 UTC.
    back = datetime(2027, 7, 13, 7, 50)

    assert sent_titles(back) == []  # Monday's has begun long ago
    assert fresh(daily).remind_at == datetime(2027, 7, 13, 7, 45)
    assert sent_titles(back + timedelta(minutes=1)) == ["Reunión"]
    assert (fresh(daily).remind_at, fresh(daily).reminded_at) == (
        datetime(2027, 7, 14, 7, 45),
        None,
    )
    assert sent_titles(back + timedelta(minutes=2)) == []
    assert Notification.select().count() == 1


def test_after_an_outage_a_series_skips_an_occurrence_already_begun(
    team: SimpleNamespace,
) -> None:
    daily = meeting(
        team.ana, datetime(2027, 7, 12, 10, 0), MADRID, recurrence="daily", reminder_minutes=15
    )
    back = datetime(2027, 7, 13, 8, 5)  # Tuesday's meeting began at 08:00 UTC

    assert sent_titles(back) == []
    assert fresh(daily).remind_at == datetime(2027, 7, 14, 7, 45)
    assert sent_titles(back + timedelta(minutes=1)) == []
    assert sent_titles(datetime(2027, 7, 14, 7, 45)) == ["Reunión"]
    assert Notification.select().count() == 1


def test_reminders_skip_done_tasks_and_people_who_left(team: SimpleNamespace) -> None:
    done = meeting(team.ana, datetime(2027, 7, 14, 10, 0), MADRID, reminder_minutes=15)
    Task.update(status="done").where(Task.id == done.id).execute()
    meeting(team.diego, datetime(2027, 7, 14, 10, 0), MADRID, reminder_minutes=15)
    User.update(is_active=False).where(User.id == team.diego.id).execute()

    assert sent_titles(datetime(2027, 7, 14, 8, 0)) == []


def test_the_reminder_is_noted_and_emailed_in_the_assignee_zone_and_language(
    team: SimpleNamespace, settings: Settings, mailbox: Mailbox
) -> None:
    meeting(team.ana, datetime(2027, 7, 14, 10, 0), MADRID, reminder_minutes=15)
    meeting(team.diego, datetime(2027, 7, 14, 2, 0), MEXICO, reminder_minutes=15)

    assert reminders.run(settings, datetime(2027, 7, 14, 7, 45)) == 2

    notes = {n.user_id: n for n in Notification.select()}
    assert json.loads(notes[team.ana.id].values)["at"] == "2027-07-14T08:00"
    assert notes[team.ana.id].url.startswith("/agenda/tasks/")
    # Each reads the time on their own clock: Madrid 10:00, Mexico City 02:00.
    assert "10:00" in str(mailbox.to("ana@example.com")[0]["Subject"])
    assert ", 2:00" in str(mailbox.to("diego@example.com")[0]["Subject"])


# ---------------------------------------------------------------- completion


def test_completing_logs_the_outcome_on_the_client_and_links_it(team: SimpleNamespace) -> None:
    task = meeting(team.ana, datetime(2027, 7, 14, 10, 0), MADRID, client=team.client)

    activity = tasks.complete(
        task, team.ana, outcome_kind="visit", notes="Pedido para septiembre", expected_version=1
    )

    done = fresh(task)
    assert (done.status, done.outcome_id, done.version) == ("done", activity.id, 2)
    assert done.completed_at is not None
    logged = Activity.get_by_id(activity.id)
    assert (logged.client_id, logged.kind, logged.subject, logged.notes) == (
        team.client.id, "visit", "Reunión", "Pedido para septiembre",
    )  # fmt: skip


def test_a_stale_completion_writes_nothing(team: SimpleNamespace) -> None:
    task = meeting(team.ana, datetime(2027, 7, 14, 10, 0), MADRID, client=team.client)
    Task.update(version=2).where(Task.id == task.id).execute()  # someone saved meanwhile

    with pytest.raises(tasks.Conflict):
        tasks.complete(task, team.ana, outcome_kind="call", notes="x", expected_version=1)

    assert Activity.select().count() == 0
    assert fresh(task).status == "open"


def test_a_completion_failing_halfway_leaves_no_activity(
    team: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = meeting(team.ana, datetime(2027, 7, 14, 10, 0), MADRID, client=team.client)

    def broken(task: Task, now: datetime) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(tasks, "following", broken)
    with pytest.raises(RuntimeError):
        tasks.complete(task, team.ana, outcome_kind="call", notes="x", expected_version=1)

    assert Activity.select().count() == 0
    assert (fresh(task).status, fresh(task).outcome_id) == ("open", None)


def test_completing_a_series_left_alone_for_days_moves_it_to_what_is_still_to_come(
    team: SimpleNamespace,
) -> None:
    daily = meeting(team.ana, datetime(2027, 7, 5, 9, 0), MADRID, recurrence="daily")
    all_day = tasks.create(
        team.ana, "Revisar pedidos", When.all_day(date(2027, 7, 5)), recurrence="daily"
    )
    now = datetime(2027, 7, 9, 8, 0)  # Friday, 10:00 in Madrid

    for task in (daily, all_day):
        tasks.complete(task, team.ana, outcome_kind="note", notes="", expected_version=1, now=now)

    # Friday's 09:00 has passed: Saturday's is next. The all-day one is due today.
    assert fresh(daily).local_start == datetime(2027, 7, 10, 9, 0)
    assert fresh(all_day).due_on == date(2027, 7, 9)


def test_the_last_occurrence_of_a_series_closes_it(team: SimpleNamespace) -> None:
    task = meeting(
        team.ana, datetime(2027, 7, 5, 9, 0), MADRID, recurrence="weekly",
        recurrence_until=date(2027, 7, 12),
    )  # fmt: skip

    tasks.complete(fresh(task), team.ana, outcome_kind="note", notes="", expected_version=1)
    assert (fresh(task).status, fresh(task).due_on) == ("open", date(2027, 7, 12))
    tasks.complete(fresh(task), team.ana, outcome_kind="note", notes="", expected_version=2)
    assert fresh(task).status == "done"


# ---------------------------------------------------------------- leavers


def test_a_leavers_open_tasks_go_to_the_successor(team: SimpleNamespace) -> None:
    pending = meeting(team.ana, datetime(2027, 7, 14, 10, 0), MADRID)
    done = meeting(team.ana, datetime(2027, 7, 1, 10, 0), MADRID)
    Task.update(status="done").where(Task.id == done.id).execute()

    leavers.deactivate(team.ana, team.diego, actor=team.boss)

    assert fresh(pending).assignee_id == team.diego.id
    assert fresh(pending).version == 2
    assert fresh(done).assignee_id == team.ana.id
    entry = AuditEntry.get(AuditEntry.action == "users.deactivated")
    assert json.loads(entry.after)["tasks_moved"] == 1


# ---------------------------------------------------------------- personal data


def test_a_persons_tasks_are_in_their_data_and_go_with_the_erasure(
    app: object, team: SimpleNamespace
) -> None:
    from portal.core import gdpr

    person = Client(name="Lucía Pardo", kind="person", owner=team.ana)
    person.reindex()
    person.save()
    task = tasks.create(
        team.ana, "Llamar a Lucía Pardo", When.all_day(date(2027, 3, 1)), client=person,
        notes="Prefiere la tarde",
    )  # fmt: skip
    subject = gdpr.Subject("client", person.id)
    plugins = app.state.plugins  # type: ignore[attr-defined]

    held = gdpr.personal_data(subject, plugins)
    assert [row["notes"] for row in held["tasks"]] == ["Prefiere la tarde"]

    gdpr.erase(subject, plugins, actor=team.boss)
    erased = fresh(task)
    assert erased.notes == ""
    assert "Lucía" not in erased.title and "Pardo" not in erased.title


def test_the_worker_sends_due_reminders_every_minute(
    team: SimpleNamespace, settings: Settings, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal import jobs
    from portal.database import utcnow

    for name, value in (("DATABASE_URL", settings.database_url),
                        ("CARTERA_DATA_DIR", str(settings.data_dir)),
                        ("CARTERA_SMTP_URL", settings.smtp_url)):  # fmt: skip
        monkeypatch.setenv(name, value)
    soon = tasks.to_local(utcnow() + timedelta(minutes=10), MADRID).replace(microsecond=0)
    meeting(team.ana, soon, MADRID, reminder_minutes=15)

    for minute in (0, 59):
        due = jobs.queue.read_periodic(datetime(2027, 3, 28, 2, minute))
        assert "send_reminders" in {task.name.rpartition(".")[2] for task in due}
    jobs.send_reminders.call_local()
    jobs.send_reminders.call_local()

    assert Notification.select().where(Notification.user == team.ana.id).count() == 1
    assert len(mailbox.to("ana@example.com")) == 1
