"""The personal calendar feed: its secret address, and RFC 5545 text a phone reads."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import icalendar
import pytest
from starlette.testclient import TestClient

from portal.core import calendar_feed, tasks
from portal.core.models import CalendarFeed, Client, Profile, User
from portal.core.permissions import read_grants, write_grants
from portal.core.tasks import When
from tests.conftest import log_in, make_profile, make_user, post_form

MADRID = "Europe/Madrid"


@pytest.fixture
def people(app: object, fast_passwords: None) -> SimpleNamespace:
    boss = make_profile("Jefatura")
    p = SimpleNamespace(
        boss=make_user("boss@example.com", boss, language="en"),
        ana=make_user("ana@example.com", make_profile("Comercial", boss), language="en"),
    )
    client = Client(name="Bodega, Hijos; y Cía", owner=p.ana)
    client.reindex()
    client.save()
    p.weekly = tasks.create(
        p.ana, "Reunión de equipo", When.at(datetime(2027, 3, 22, 9), MADRID), kind="meeting",
        recurrence="weekly", recurrence_until=date(2027, 6, 28), reminder_minutes=15,
        duration_minutes=60,
    )  # fmt: skip
    p.visit = tasks.create(
        p.ana, "Visita: catas, precios; pedido", When.at(datetime(2027, 3, 29, 10), MADRID),
        client=client, notes="Primera línea\nSegunda línea, con coma; y punto y coma " + "x" * 80,
    )  # fmt: skip
    p.fair = tasks.create(p.ana, "Feria", When.all_day(date(2027, 3, 28)))
    p.boss_task = tasks.create(p.boss, "Revisión del jefe", When.all_day(date(2027, 3, 28)))
    return p


def address(http: TestClient) -> str:
    answer = post_form(http, "/agenda/feed")
    assert answer.status_code == 200
    found = re.search(r'value="http://127\.0\.0\.1:8000(/agenda/feed/[^"]+\.ics)"', answer.text)
    assert found, "the new address is shown"
    return found.group(1)


def events(body: bytes) -> dict[str, icalendar.Event]:
    parsed = icalendar.Calendar.from_ical(body)
    return {str(event["summary"]): event for event in parsed.walk("VEVENT")}


def test_the_feed_holds_the_users_own_tasks_as_a_phone_reads_them(
    http: TestClient, people: SimpleNamespace
) -> None:
    log_in(http, "ana@example.com")
    answer = http.get(address(http))

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/calendar")
    body = answer.content
    # CRLF line ends, nothing longer than 75 octets, no bare LF.
    lines = body.split(b"\r\n")
    assert b"\n" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 75

    found = events(body)
    assert set(found) == {
        "Reunión de equipo",
        "Visita: catas, precios; pedido · Bodega, Hijos; y Cía",
        "Feria",
    }
    weekly = found["Reunión de equipo"]
    assert weekly["dtstart"].dt == datetime(2027, 3, 22, 9, tzinfo=ZoneInfo(MADRID))
    assert str(weekly["dtstart"].params["TZID"]) == MADRID
    assert weekly["duration"].dt == timedelta(minutes=60)
    rule = weekly["rrule"]
    assert rule["FREQ"] == ["WEEKLY"]
    assert rule["UNTIL"][0].date() == date(2027, 6, 28)
    alarm = weekly.walk("VALARM")[0]
    assert alarm["trigger"].dt == timedelta(minutes=-15)
    # The zone's rules travel with it, so the phone keeps 09:00 after the change.
    zones = icalendar.Calendar.from_ical(body).walk("VTIMEZONE")
    assert [str(zone["tzid"]) for zone in zones] == [MADRID]

    visit = found["Visita: catas, precios; pedido · Bodega, Hijos; y Cía"]
    assert str(visit["description"]).startswith("Primera línea\nSegunda línea, con coma; y")
    assert b"catas\\, precios\\; pedido" in body.replace(b"\r\n ", b"")
    fair = found["Feria"]
    assert fair["dtstart"].dt == date(2027, 3, 28)
    assert fair["dtend"].dt == date(2027, 3, 29)
    assert "VALUE=DATE" in fair.to_ical().decode()


def test_a_manager_feed_has_only_the_managers_tasks(
    http: TestClient, people: SimpleNamespace
) -> None:
    log_in(http, "boss@example.com")

    found = events(http.get(address(http)).content)

    assert set(found) == {"Revisión del jefe"}


def test_a_new_address_ends_the_old_one(http: TestClient, people: SimpleNamespace) -> None:
    log_in(http, "ana@example.com")
    old = address(http)
    assert "Make a new address" in http.get("/agenda/feed").text
    new = address(http)

    assert old != new
    assert http.get(old).status_code == 404
    assert http.get(new).status_code == 200
    # Only a hash is kept: the address is nowhere in the database.
    token = new.rsplit("/", 1)[1].removesuffix(".ics")
    assert not CalendarFeed.select().where(CalendarFeed.token_hash == token).exists()
    assert "/agenda/feed/" not in http.get("/agenda/feed").text.split("<main", 1)[1].replace(
        'action="/agenda/feed"', ""
    )


def test_the_feed_closes_with_the_account_or_the_agenda_permission(
    http: TestClient, people: SimpleNamespace
) -> None:
    log_in(http, "ana@example.com")
    url = address(http)
    http.cookies.clear()  # a phone has no session
    assert http.get(url).status_code == 200

    profile = Profile.get_by_id(people.ana.profile_id)
    held = read_grants(profile)
    held.pop("menu.agenda")
    write_grants(profile, held)
    profile.save()
    assert http.get(url).status_code == 404

    held["menu.agenda"] = ""
    write_grants(profile, held)
    profile.save()
    User.update(is_active=False).where(User.id == people.ana.id).execute()
    assert http.get(url).status_code == 404
    assert http.get("/agenda/feed/not-a-token.ics").status_code == 404


def test_done_tasks_leave_the_series_rules_and_alarms(app: object, people: SimpleNamespace) -> None:
    tasks.complete(people.weekly, people.ana, outcome_kind="note", notes="", expected_version=1)
    now = datetime(2027, 3, 23, 12, 0)

    body = calendar_feed.calendar(
        people.ana, calendar_feed.feed_tasks(people.ana, now), base_url="https://crm.example",
        now=now,
    )  # fmt: skip

    weekly = events(body)["Reunión de equipo"]
    # The series moved on to its next occurrence, still at 09:00 Madrid time.
    assert weekly["dtstart"].dt == datetime(2027, 3, 29, 9, tzinfo=ZoneInfo(MADRID))
    assert str(weekly["uid"]) == f"task-{people.weekly.id}@crm.example"
