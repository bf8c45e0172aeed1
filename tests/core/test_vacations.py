"""Vacations: working-day arithmetic, balances, validation, the approval flow,
notifications, the team calendar and who stands in for whom."""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from portal.core import absences, vacations
from portal.core.models import (
    ApprovalStep,
    AuditEntry,
    Notification,
    Profile,
    User,
    VacationRequest,
)
from portal.core.permissions import read_grants, write_grants
from portal.database import open_database
from portal.i18n import format_number
from portal.migrations import core_migrations
from tests.conftest import Mailbox, log_in, make_profile, make_user, post_form

pytestmark = pytest.mark.usefixtures("fast_passwords")

# 2026-12-07 is a Monday.
MONDAY = date(2026, 12, 7)


def field_error(page: str, name: str) -> str:
    match = re.search(rf'<p class="error" id="e-{name}">(.*?)</p>', page, re.DOTALL)
    return html.unescape(match.group(1)) if match else ""


def monday_ahead(weeks: int = 2) -> date:
    """A Monday safely in the future, whatever day the suite runs."""
    today = vacations.today()
    return today + timedelta(days=7 * weeks - today.weekday())


class Team:
    """Board → North (manager) → North sales (salesperson); Board → South → South sales."""

    def __init__(self) -> None:
        office = make_profile("Oficina", kind="structural")
        board = make_profile("Dirección")
        north = make_profile("Jefatura Norte", board)
        south = make_profile("Jefatura Sur", board)
        self.seller_profile = make_profile("Comercial Norte", north)
        south_sellers = make_profile("Comercial Sur", south)
        self.admin = make_user("admin@example.com", office, is_admin=True, language="en")
        self.boss = make_user("boss@example.com", board, language="en")
        self.manager = make_user("manager@example.com", north, language="en")
        self.sales = make_user("sales@example.com", self.seller_profile, language="en")
        self.colleague = make_user("colleague@example.com", self.seller_profile, language="en")
        self.peer = make_user("peer@example.com", south, language="en")
        self.peer_sales = make_user("peersales@example.com", south_sellers, language="en")


@pytest.fixture
def team(app: object) -> Team:
    return Team()


def ask(client: TestClient, start: date, end: date | None = None, **extra: object):
    form = {"start": start.isoformat(), "end": (end or start).isoformat(), **extra}
    return post_form(client, "/vacations/new", form)


def request_id(answer) -> int:
    assert answer.status_code == 303, answer.text
    return int(re.search(r"/vacations/(\d+)", answer.headers["location"]).group(1))


def decide(client: TestClient, rid: int, outcome: str, comment: str = ""):
    return post_form(client, f"/vacations/{rid}/decide", {"outcome": outcome, "comment": comment})


def approved(user: User, start: date, end: date, delegate: User | None = None, **extra):
    days = vacations.count_days(start, end)
    return VacationRequest.create(
        user=user, start=start, end=end, days=days, delegate=delegate, status="approved", **extra
    )


# ---------------------------------------------------------------- arithmetic


def test_weekends_do_not_count_and_half_days_count_half() -> None:
    friday, monday = MONDAY - timedelta(days=3), MONDAY
    assert vacations.count_days(friday, monday) == 2
    assert vacations.count_days(MONDAY, MONDAY + timedelta(days=6)) == 5
    assert vacations.count_days(friday, monday, "afternoon", "") == Decimal("1.5")
    assert vacations.count_days(friday, monday, "afternoon", "morning") == 1
    assert vacations.count_days(MONDAY, MONDAY, "morning", "") == Decimal("0.5")
    # A half Saturday is still a Saturday.
    assert vacations.count_days(friday + timedelta(days=1), monday, "afternoon", "") == 1


def test_balance_counts_each_year_apart_and_only_open_requests(team: Team) -> None:
    # Monday 28 Dec 2026 to Tuesday 5 Jan 2027: 4 days in 2026 and 3 in 2027.
    crossing = VacationRequest.create(
        user=team.sales, start=date(2026, 12, 28), end=date(2027, 1, 5), days=7, status="pending"
    )
    assert vacations.days_by_year(crossing) == {2026: 4, 2027: 3}
    approved(team.sales, date(2026, 3, 2), date(2026, 3, 6), first_half="afternoon")
    for status in ("rejected", "cancelled"):
        VacationRequest.create(
            user=team.sales, start=date(2026, 5, 4), end=date(2026, 5, 8), days=5, status=status
        )

    this_year = vacations.balance(team.sales, 2026)
    assert (this_year.approved, this_year.pending) == (Decimal("4.5"), 4)
    assert this_year.remaining == Decimal("13.5")
    next_year = vacations.balance(team.sales, 2027)
    assert (next_year.approved, next_year.pending, next_year.remaining) == (0, 3, 19)

    User.update(vacation_days=Decimal("25.5")).where(User.id == team.sales.id).execute()
    assert vacations.balance(User.get_by_id(team.sales.id), 2026).remaining == Decimal("17")


# ---------------------------------------------------------------- validation


def test_the_form_explains_each_mistake_at_its_field(http: TestClient, team: Team) -> None:
    log_in(http, "sales@example.com")
    monday = monday_ahead()
    VacationRequest.create(
        user=team.sales, start=monday, end=monday + timedelta(days=1), days=2, status="approved"
    )

    def error(field: str, **form: object) -> str:
        answer = post_form(http, "/vacations/new", form)
        assert answer.status_code == 400
        return field_error(answer.text, field)

    week = timedelta(days=7)
    later = monday + week
    assert "cannot be before the first" in error(
        "end", start=later.isoformat(), end=(later - timedelta(days=1)).isoformat()
    )
    # Huge ranges are refused before any day is counted.
    assert "at most a year" in error("end", start=later.isoformat(), end="9999-12-31")
    assert "two years ahead" in error("start", start="2999-01-04", end="2999-01-05")
    yesterday = vacations.today() - timedelta(days=1)
    assert "in the past" in error("start", start=yesterday.isoformat(), end=later.isoformat())
    assert "Enter the first day" in error("start", start="31/02/2027", end=later.isoformat())
    assert "You already asked for days off" in error(
        "start", start=(monday + timedelta(days=1)).isoformat(), end=later.isoformat()
    )
    saturday = later + timedelta(days=5)
    assert "no working days" in error(
        "end", start=saturday.isoformat(), end=(saturday + timedelta(days=1)).isoformat()
    )
    assert "only be whole or its afternoon" in error(
        "first_half", start=later.isoformat(), end=(later + timedelta(days=1)).isoformat(),
        first_half="morning",
    )  # fmt: skip
    assert "Choose one of the options" in error(
        "delegate", start=later.isoformat(), end=later.isoformat(), delegate=team.sales.id
    )
    # A working week when the allowance is three days.
    User.update(vacation_days=3).where(User.id == team.sales.id).execute()
    far = monday_ahead(8)
    left = vacations.balance(User.get_by_id(team.sales.id), far.year).remaining
    message = error("end", start=far.isoformat(), end=(far + timedelta(days=4)).isoformat())
    expected = f"This takes 5 days of {far.year} and you have {format_number(left)} left."
    assert message == expected
    assert VacationRequest.select().count() == 1


# ---------------------------------------------------------------- flow


def test_a_two_step_chain_asks_in_order_and_the_last_approval_grants(
    http: TestClient, other_http: TestClient, team: Team, mailbox: Mailbox
) -> None:
    ApprovalStep.create(profile=team.seller_profile, position=1, approver=team.boss)
    ApprovalStep.create(profile=team.seller_profile, position=2, approver=None)
    log_in(http, "sales@example.com")
    monday = monday_ahead()
    rid = request_id(
        ask(http, monday, monday + timedelta(days=4), last_half="morning",
            delegate=team.colleague.id, comment="Family <wedding>")
    )  # fmt: skip
    created = VacationRequest.get_by_id(rid)
    assert (created.status, created.days, created.delegate_id) == (
        "pending",
        4.5,
        team.colleague.id,
    )

    # Step 1 is the boss: emailed with a link; the manager (step 2) is not asked yet.
    [first_mail] = mailbox.to("boss@example.com")
    assert "Sales asks for days off" in first_mail["Subject"]
    assert f"http://127.0.0.1:8000/vacations/{rid}" in first_mail.get_body(("plain",)).get_content()
    assert mailbox.to("manager@example.com") == []
    log_in(other_http, "manager@example.com")
    assert decide(other_http, rid, "approve").status_code == 404
    assert other_http.get(f"/vacations/{rid}").status_code == 404

    boss = TestClient(http.app, base_url="http://testserver")
    log_in(boss, "boss@example.com")
    page = boss.get(f"/vacations/{rid}")
    assert "Family &lt;wedding&gt;" in page.text and "Approve" in page.text
    assert decide(boss, rid, "approve", "Fine by me").status_code == 303
    assert VacationRequest.get_by_id(rid).status == "pending"
    assert VacationRequest.get_by_id(rid).step == 1
    assert decide(boss, rid, "approve").status_code == 404  # no longer their step

    [second_mail] = mailbox.to("manager@example.com")
    assert f"/vacations/{rid}" in second_mail.get_body(("plain",)).get_content()
    assert mailbox.to("sales@example.com") == []
    assert decide(other_http, rid, "approve", "Enjoy").status_code == 303
    assert VacationRequest.get_by_id(rid).status == "approved"

    [outcome] = mailbox.to("sales@example.com")
    assert "Manager approved your days off" in outcome["Subject"]
    actions = [e.action for e in AuditEntry.select().order_by(AuditEntry.id)]
    assert actions[-3:] == ["vacations.requested", "vacations.approved", "vacations.approved"]
    detail = http.get(f"/vacations/{rid}").text
    assert "Fine by me" in detail and "Enjoy" in detail and "Approved" in detail
    assert vacations.balance(team.sales, monday.year).approved >= Decimal("4.5")


def test_a_rejection_needs_a_reason_and_ends_the_request(
    http: TestClient, other_http: TestClient, team: Team, mailbox: Mailbox
) -> None:
    log_in(http, "sales@example.com")
    rid = request_id(ask(http, monday_ahead()))
    # No chain of its own: the users of the parent profile decide.
    assert [m["To"].addresses[0].addr_spec for m in mailbox.messages] == ["manager@example.com"]
    log_in(other_http, "manager@example.com")
    answer = decide(other_http, rid, "reject")
    assert answer.status_code == 400
    assert "Say why you reject it" in field_error(answer.text, "comment")
    assert VacationRequest.get_by_id(rid).status == "pending"

    assert decide(other_http, rid, "reject", "Trade fair that week").status_code == 303
    assert VacationRequest.get_by_id(rid).status == "rejected"
    [outcome] = mailbox.to("sales@example.com")
    assert "rejected your days off" in outcome["Subject"]
    assert AuditEntry.select().where(AuditEntry.action == "vacations.rejected").count() == 1
    assert vacations.balance(team.sales, monday_ahead().year).pending == 0


def test_nobody_approves_their_own_request(http: TestClient, team: Team, mailbox: Mailbox) -> None:
    # A chain naming the requester falls to the administrators instead.
    ApprovalStep.create(profile=team.seller_profile, position=1, approver=team.sales)
    log_in(http, "sales@example.com")
    rid = request_id(ask(http, monday_ahead()))
    assert decide(http, rid, "approve").status_code == 404
    assert VacationRequest.get_by_id(rid).status == "pending"
    assert [m["To"].addresses[0].addr_spec for m in mailbox.messages] == ["admin@example.com"]


def test_top_profiles_go_to_the_administrators(http: TestClient, team: Team) -> None:
    log_in(http, "boss@example.com")
    rid = request_id(ask(http, monday_ahead()))
    assert [u.email for u in vacations.current_approvers(VacationRequest.get_by_id(rid))] == [
        "admin@example.com"
    ]


def test_cancelling_tells_whoever_decides_or_decided(
    http: TestClient, other_http: TestClient, team: Team, mailbox: Mailbox
) -> None:
    log_in(http, "sales@example.com")
    log_in(other_http, "manager@example.com")
    pending = request_id(ask(http, monday_ahead()))
    granted = request_id(ask(http, monday_ahead(3)))
    assert decide(other_http, granted, "approve").status_code == 303
    mailbox.messages.clear()

    # Nobody else may cancel: 404, and nothing changes.
    assert post_form(other_http, f"/vacations/{pending}/cancel").status_code == 404
    confirm = http.get(f"/vacations/{granted}/cancel")
    assert "Yes, cancel it" in confirm.text
    for rid in (pending, granted):
        assert post_form(http, f"/vacations/{rid}/cancel").status_code == 303
        assert VacationRequest.get_by_id(rid).status == "cancelled"
    first, second = mailbox.to("manager@example.com")
    assert "Sales cancelled the days off" in second["Subject"]
    # Only whoever had approved it can still open it, so only they get a link.
    assert "/vacations/" not in first.get_body(("plain",)).get_content()
    assert f"/vacations/{granted}" in second.get_body(("plain",)).get_content()
    assert other_http.get(f"/vacations/{granted}").status_code == 200
    assert other_http.get(f"/vacations/{pending}").status_code == 404
    assert AuditEntry.select().where(AuditEntry.action == "vacations.cancelled").count() == 2


def test_an_approved_absence_already_begun_cannot_be_cancelled(
    http: TestClient, team: Team
) -> None:
    today = vacations.today()
    started = approved(team.sales, today - timedelta(days=2), today + timedelta(days=2))
    log_in(http, "sales@example.com")
    assert post_form(http, f"/vacations/{started.id}/cancel").status_code == 404
    assert VacationRequest.get_by_id(started.id).status == "approved"


def test_portal_notifications_count_then_read(
    http: TestClient, other_http: TestClient, team: Team
) -> None:
    log_in(http, "sales@example.com")
    log_in(other_http, "manager@example.com")
    assert 'class="badge"' not in other_http.get("/vacations").text
    request_id(ask(http, monday_ahead()))
    request_id(ask(http, monday_ahead(3)))

    header = other_http.get("/").text
    assert re.search(r'<span class="badge"[^>]*>2</span>', header)
    listing = other_http.get("/notifications").text
    assert listing.count('class="unread"') == 2
    assert "Sales asks for days off" in listing
    assert 'class="badge"' not in other_http.get("/").text
    assert other_http.get("/notifications").text.count('class="unread"') == 0
    assert Notification.select().where(Notification.read_at.is_null()).count() == 0


def test_email_and_portal_note_speak_the_readers_language(
    http: TestClient, other_http: TestClient, team: Team, mailbox: Mailbox
) -> None:
    User.update(language="es").where(User.id == team.manager.id).execute()
    log_in(http, "sales@example.com")
    request_id(ask(http, monday_ahead()))
    [mail] = mailbox.to("manager@example.com")
    assert "Sales pide días libres" in mail["Subject"]
    assert "Ábrelo en Cartera" in mail.get_body(("plain",)).get_content()
    log_in(other_http, "manager@example.com")
    assert "Sales pide días libres" in other_http.get("/notifications").text
    # The same row reads in English for an English reader.
    note = Notification.get()
    from portal.core.notifications import render_row

    assert render_row(note).startswith("Sales asks for days off")


# ---------------------------------------------------------------- calendar


def test_the_calendar_shows_the_absences_the_hierarchy_allows(http: TestClient, team: Team) -> None:
    monday = monday_ahead()
    approved(team.sales, monday, monday + timedelta(days=1))
    approved(team.peer_sales, monday, monday)
    VacationRequest.create(user=team.colleague, start=monday, end=monday, days=1, status="pending")
    month = f"/vacations/calendar?month={monday:%Y-%m}"

    def names(email: str) -> set[str]:
        http.cookies.clear()
        log_in(http, email)
        page = http.get(month)
        assert page.status_code == 200
        return {n for n in ("Sales", "Peersales", "Colleague") if f"<li>{n}" in page.text}

    assert names("manager@example.com") == {"Sales"}
    assert names("peer@example.com") == {"Peersales"}
    assert names("sales@example.com") == {"Sales"}
    assert names("colleague@example.com") == set()
    assert names("admin@example.com") == {"Sales", "Peersales"}


def test_the_calendar_moves_by_month_and_survives_odd_input(http: TestClient, team: Team) -> None:
    log_in(http, "sales@example.com")
    page = http.get("/vacations/calendar?month=2027-01").text
    assert "January 2027" in page
    assert "/vacations/calendar?month=2026-12" in page
    assert "/vacations/calendar?month=2027-02" in page
    assert http.get("/vacations/calendar?month=2027-13").status_code == 200
    assert http.get("/vacations/calendar?month=<x>").status_code == 200


def test_the_calendar_needs_its_menu_key(http: TestClient, team: Team) -> None:
    grants = json.loads(team.seller_profile.grants)
    grants.pop("menu.vacations.calendar")
    Profile.update(grants=json.dumps(grants)).where(Profile.id == team.seller_profile.id).execute()
    log_in(http, "sales@example.com")
    assert http.get("/vacations/calendar").status_code == 403
    assert http.get("/vacations").status_code == 200


# ---------------------------------------------------------------- stand-ins


def test_stand_in_follows_delegates_who_are_away_too(team: Team) -> None:
    monday = MONDAY
    assert absences.stand_in(team.sales, monday) == team.sales
    approved(team.sales, monday, monday + timedelta(days=4), delegate=team.colleague)
    assert absences.stand_in(team.sales, monday) == team.colleague
    assert absences.stand_in(team.sales, monday + timedelta(days=7)) == team.sales

    approved(team.colleague, monday, monday, delegate=team.manager)
    assert absences.stand_in(team.sales, monday) == team.manager
    assert absences.stand_in(team.sales, monday + timedelta(days=1)) == team.colleague

    # A loop ends at the last person reached before it closes.
    approved(team.manager, monday, monday, delegate=team.sales)
    assert absences.stand_in(team.sales, monday) == team.manager


def test_stand_in_skips_inactive_delegates_and_unapproved_absences(team: Team) -> None:
    monday = MONDAY
    VacationRequest.create(
        user=team.sales, start=monday, end=monday, days=1, delegate=team.colleague
    )
    assert absences.stand_in(team.sales, monday) == team.sales
    approved(team.sales, monday + timedelta(days=1), monday + timedelta(days=1), team.colleague)
    User.update(is_active=False).where(User.id == team.colleague.id).execute()
    assert absences.stand_in(team.sales, monday + timedelta(days=1)) == team.sales


# ---------------------------------------------------------------- administration


def test_the_administrator_edits_a_chain_and_it_is_audited(
    http: TestClient, other_http: TestClient, team: Team
) -> None:
    url = f"/admin/profiles/{team.seller_profile.id}/approvals"
    log_in(other_http, "manager@example.com")
    assert other_http.get(url).status_code == 403

    log_in(http, "admin@example.com")
    assert "Step 1" in http.get(url).text
    answer = post_form(
        http, url, {"step-0": f"user:{team.boss.id}", "step-1": "", "step-2": "parent"}
    )
    assert answer.status_code == 303
    steps = vacations.chain_rows(team.seller_profile)
    assert [(s.position, s.approver_id) for s in steps] == [(1, team.boss.id), (2, None)]
    entry = AuditEntry.get(AuditEntry.action == "profiles.approvals.changed")
    assert json.loads(entry.after) == {"steps": ["boss@example.com", "parent"]}

    refused = post_form(http, url, {"step-0": "user:999999"})
    assert refused.status_code == 400 and "Choose one of the options" in refused.text
    assert len(vacations.chain_rows(team.seller_profile)) == 2


def test_the_allowance_is_edited_by_whoever_edits_users(
    http: TestClient, other_http: TestClient, team: Team
) -> None:
    url = f"/admin/users/{team.sales.id}/vacation-days"
    log_in(other_http, "manager@example.com")
    assert post_form(other_http, url, {"vacation_days": "30"}).status_code == 403

    log_in(http, "admin@example.com")
    bad = post_form(http, url, {"vacation_days": "22.3"})
    assert bad.status_code == 400 and "whole or half days" in field_error(bad.text, "vacation_days")
    assert post_form(http, url, {"vacation_days": "24,5"}).status_code == 303
    assert User.get_by_id(team.sales.id).vacation_days == Decimal("24.5")
    entry = AuditEntry.get(AuditEntry.action == "users.vacation_days.changed")
    assert json.loads(entry.after) == {"vacation_days": "24.5"}


def test_new_profiles_may_ask_for_days_off_and_see_the_calendar(
    http: TestClient, team: Team
) -> None:
    log_in(http, "sales@example.com")
    menu = http.get("/").text
    # Entries under a page of their own are linked from that page.
    overview = http.get("/vacations").text
    assert 'href="/vacations"' in menu and 'href="/vacations/calendar"' in overview
    assert 'href="/vacations/approvals"' not in menu + overview
    assert http.get("/vacations/approvals").status_code == 403


def test_the_migration_gives_existing_profiles_the_new_baseline(database_url: str) -> None:
    database = open_database(database_url)
    migrations = dict(core_migrations())
    with database.atomic():
        for name in sorted(migrations):
            if name < "core.0004":
                migrations[name](database)
        held = '{"menu.clients":"","menu.admin.users":""}'
        database.execute_sql(
            f"INSERT INTO profile (name, kind, is_assistant, grants) "
            f"VALUES ({database.param}, 'hierarchical', {database.param}, {database.param})",
            ("Antiguo", False, held),
        )
        [(profile_id,)] = database.execute_sql("SELECT id FROM profile").fetchall()
        p = database.param
        database.execute_sql(
            'INSERT INTO "user" (email, name, password_hash, profile_id, language, time_zone,'
            f" is_active, is_admin, created_at) VALUES ({p}, {p}, '', {p}, '', '', {p}, {p}, {p})",
            ("old@example.com", "Old", profile_id, True, False, datetime(2020, 1, 1)),
        )
        migrations["core.0004_vacations"](database)
    [(grants,)] = database.execute_sql("SELECT grants FROM profile").fetchall()
    assert json.loads(grants) == {
        "menu.admin.users": "",
        "menu.clients": "",
        "menu.vacations": "",
        "menu.vacations.calendar": "",
    }
    [(allowance,)] = database.execute_sql('SELECT vacation_days FROM "user"').fetchall()
    assert Decimal(str(allowance)) == 22
    database.close()


def test_delegates_change_chains_and_allowances_only_below_their_own_profile(
    http: TestClient, team: Team
) -> None:
    north = team.manager.profile
    held = read_grants(north)
    keys = ("menu.admin", "menu.admin.users", "menu.admin.profiles")
    write_grants(north, {**held, **dict.fromkeys(keys, "")})
    north.save()
    log_in(http, "manager@example.com")
    before_days = {u.id: u.vacation_days for u in User.select()}

    outside = [north, team.boss.profile, team.peer.profile]
    chains = [
        post_form(http, f"/admin/profiles/{p.id}/approvals", {"step-0": f"user:{team.manager.id}"})
        for p in outside
    ]
    allowances = [
        post_form(http, f"/admin/users/{u.id}/vacation-days", {"vacation_days": "99"})
        for u in (team.manager, team.admin, team.boss, team.peer_sales)
    ]
    below_chain = post_form(
        http,
        f"/admin/profiles/{team.seller_profile.id}/approvals",
        {"step-0": f"user:{team.manager.id}"},
    )
    below_days = post_form(
        http, f"/admin/users/{team.sales.id}/vacation-days", {"vacation_days": "25"}
    )

    assert [a.status_code for a in chains] == [403, 403, 403]
    assert [a.status_code for a in allowances] == [404, 404, 404, 404]
    assert all(vacations.chain_rows(p) == [] for p in outside)
    assert below_chain.status_code == 303 and below_days.status_code == 303
    after = {u.id: u.vacation_days for u in User.select()}
    assert after == {**before_days, team.sales.id: Decimal(25)}


# ---------------------------------------------------------------- the approver's words


def test_the_requester_reads_the_approvers_words_in_the_note_and_the_email(
    http: TestClient, other_http: TestClient, team: Team, mailbox: Mailbox
) -> None:
    log_in(http, "sales@example.com")
    log_in(other_http, "manager@example.com")
    refused = request_id(ask(http, monday_ahead()))
    granted = request_id(ask(http, monday_ahead(3)))
    reason = (
        "Trade fair <b>that week</b> & the stand needs everyone.\n"
        + "We agreed on this at the spring meeting, so please pick other dates " * 3
        + "TAIL-OF-REASON"
    )
    assert decide(other_http, refused, "reject", reason).status_code == 303
    assert decide(other_http, granted, "approve", "Enjoy!").status_code == 303

    rejection, approval = mailbox.to("sales@example.com")
    # The subject stays the short line; the body carries every word, escaped in HTML.
    assert "TAIL-OF-REASON" not in rejection["Subject"]
    plain = rejection.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Manager rejected your days off" in plain
    assert "Comment:" in plain and reason in plain
    page = rejection.get_body(("html",)).get_content()
    assert "Trade fair &lt;b&gt;that week&lt;/b&gt; &amp; the stand" in page
    assert "<b>" not in page and "TAIL-OF-REASON" in page
    assert "Enjoy!" in approval.get_body(("plain",)).get_content()

    listing = http.get("/notifications").text
    assert "Manager approved your days off" in listing and "“Enjoy!”" in listing
    [note] = re.findall(r"Manager rejected your days off[^<]*(?:&lt;|[^<])*", listing)
    note = html.unescape(note)
    # Trimmed on one line, at a word, and marked as cut.
    assert "“Trade fair <b>that week</b> & the stand needs everyone. We agreed" in note
    assert "TAIL-OF-REASON" not in note and "…”" in note
    assert len(note.split("“", 1)[1]) <= 125
    assert "<b>that" not in listing


def test_the_approvers_words_reach_a_spanish_reader_too(
    http: TestClient, other_http: TestClient, team: Team, mailbox: Mailbox
) -> None:
    User.update(language="es").where(User.id == team.sales.id).execute()
    log_in(http, "sales@example.com")
    log_in(other_http, "manager@example.com")
    rid = request_id(ask(http, monday_ahead()))
    assert decide(other_http, rid, "reject", "Feria esa semana").status_code == 303
    [mail] = mailbox.to("sales@example.com")
    assert "Manager ha rechazado tus días libres" in mail["Subject"]
    plain = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Comentario:\nFeria esa semana" in plain
    listing = http.get("/notifications").text
    assert "Manager ha rechazado tus días libres" in listing and "Feria esa semana" in listing


# ---------------------------------------------------------------- deactivated approvers


def test_a_chain_naming_someone_deactivated_says_so_and_keeps_the_step(
    http: TestClient, other_http: TestClient, team: Team, mailbox: Mailbox
) -> None:
    ApprovalStep.create(profile=team.seller_profile, position=1, approver=team.boss)
    ApprovalStep.create(profile=team.seller_profile, position=2, approver=None)
    User.update(name="Boss <i>B</i>").where(User.id == team.boss.id).execute()
    log_in(http, "admin@example.com")
    post_form(http, f"/admin/users/{team.boss.id}/deactivate", {"successor": team.admin.id})
    assert not User.get_by_id(team.boss.id).is_active

    url = f"/admin/profiles/{team.seller_profile.id}/approvals"
    page = http.get(url).text
    warning = re.search(r'<p class="warning" role="alert">(.*?)</p>', page, re.DOTALL)
    assert warning, "no warning on the chain page"
    assert html.unescape(warning.group(1)) == (
        "Step 1 names Boss <i>B</i>, who has been deactivated: requests reaching it go to "
        "the administrators until you change that step."
    )
    assert "<i>B</i>" not in page
    selected = re.search(r'<select id="f-step-0".*?<option value="([^"]+)" selected>([^<]*)', page,
                         re.DOTALL)  # fmt: skip
    assert selected.group(1) == f"user:{team.boss.id}"
    assert html.unescape(selected.group(2)) == "Boss <i>B</i> (deactivated) (boss@example.com)"
    # Someone deactivated is on offer only where the chain names them already.
    other_chain = http.get(f"/admin/profiles/{team.manager.profile_id}/approvals").text
    assert f'value="user:{team.boss.id}"' not in other_chain
    refused = post_form(
        http,
        f"/admin/profiles/{team.manager.profile_id}/approvals",
        {"step-0": f"user:{team.boss.id}"},
    )
    assert refused.status_code == 400

    # Nor on the other steps of the chain that names them, nor twice on it.
    step_two = re.search(r'<select id="f-step-1".*?</select>', page, re.DOTALL).group(0)
    assert f'value="user:{team.boss.id}"' not in step_two
    twice = {"step-0": f"user:{team.boss.id}", "step-1": f"user:{team.boss.id}"}
    assert post_form(http, url, twice).status_code == 400
    # Their step may move within the chain: it still names them once.
    moved = post_form(http, url, {"step-0": "parent", "step-1": f"user:{team.boss.id}"})
    assert moved.status_code == 303
    steps = vacations.chain_rows(team.seller_profile)
    assert [s.approver_id for s in steps] == [None, team.boss.id]

    # Saving the page as shown keeps the step, so reactivating the person restores it.
    kept = post_form(http, url, {"step-0": f"user:{team.boss.id}", "step-1": "parent"})
    assert kept.status_code == 303
    steps = vacations.chain_rows(team.seller_profile)
    assert [s.approver_id for s in steps] == [team.boss.id, None]

    # Meanwhile requests reach the administrators, as the warning says.
    log_in(other_http, "sales@example.com")
    mailbox.messages.clear()
    request_id(ask(other_http, monday_ahead()))
    assert [m["To"].addresses[0].addr_spec for m in mailbox.messages] == ["admin@example.com"]

    changed = post_form(http, url, {"step-0": f"user:{team.manager.id}"})
    assert changed.status_code == 303
    assert 'class="warning"' not in http.get(url).text


def test_deactivating_an_approver_names_the_chains_first(
    http: TestClient, other_http: TestClient, team: Team
) -> None:
    ApprovalStep.create(profile=team.seller_profile, position=1, approver=team.colleague)
    south = team.peer.profile
    Profile.update(name="Jefatura <Sur>").where(Profile.id == south.id).execute()
    User.update(name="Colleague <u>C</u>").where(User.id == team.colleague.id).execute()
    ApprovalStep.create(profile=south, position=1, approver=team.colleague)
    log_in(http, "admin@example.com")

    page = http.get(f"/admin/users/{team.colleague.id}/deactivate").text
    warning = re.search(r'<div class="warning" role="alert" id="approver-chains">(.*?)</div>',
                        page, re.DOTALL)  # fmt: skip
    assert warning, "no warning on the deactivation page"
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", warning.group(1))))
    assert "Colleague <u>C</u> approves days off in the chains of 2 profiles." in text
    assert "<u>" not in warning.group(1)
    assert "requests reaching their steps go to the administrators" in text
    assert "Comercial Norte" in text and "Jefatura <Sur>" in text
    assert "Jefatura &lt;Sur&gt;" in warning.group(1)
    assert f'href="/admin/profiles/{team.seller_profile.id}/approvals"' in warning.group(1)
    assert f'href="/admin/profiles/{south.id}/approvals"' in warning.group(1)
    # Someone in no chain gets no such warning.
    assert "approver-chains" not in http.get(f"/admin/users/{team.peer_sales.id}/deactivate").text

    # A delegate without the profiles page sees the names they reach, the rest counted.
    north = team.manager.profile
    write_grants(north, {**read_grants(north), "menu.admin": "", "menu.admin.users": ""})
    north.save()
    log_in(other_http, "manager@example.com")
    page = other_http.get(f"/admin/users/{team.colleague.id}/deactivate").text
    warning = re.search(r'id="approver-chains">(.*?)</div>', page, re.DOTALL).group(1)
    assert "Comercial Norte" in warning and "Sur" not in warning
    assert "1 profile outside your reach" in warning
    assert "/approvals" not in warning


def test_deactivating_the_only_head_a_team_asks_warns_too(http: TestClient, team: Team) -> None:
    # South sales has no chain: its requests go to whoever holds South, the peer alone.
    log_in(http, "admin@example.com")

    page = http.get(f"/admin/users/{team.peer.id}/deactivate").text
    warning = re.search(r'id="approver-chains">(.*?)</div>', page, re.DOTALL)
    assert warning, "no warning for the only head of a profile asked by the one below"
    assert "Comercial Sur" in warning.group(1)
    # A chain that asks the profile above at some step counts the same way.
    ApprovalStep.create(profile=team.seller_profile, position=1, approver=team.colleague)
    ApprovalStep.create(profile=team.seller_profile, position=2, approver=None)
    page = http.get(f"/admin/users/{team.manager.id}/deactivate").text
    assert "Comercial Norte" in re.search(r'id="approver-chains">(.*?)</div>', page, re.S).group(1)

    # With a second person holding South, its requests still find someone.
    make_user("peer2@example.com", team.peer.profile, language="en")
    assert "approver-chains" not in http.get(f"/admin/users/{team.peer.id}/deactivate").text
