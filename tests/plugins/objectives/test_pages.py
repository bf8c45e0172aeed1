"""The objectives pages over HTTP: reading, setting, splitting, permissions, audit."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from plugins.objectives import routes
from plugins.objectives.models import Objective
from plugins.objectives.periods import MONTH, QUARTER, YEAR, Period
from portal.core.models import AuditEntry, Profile
from portal.i18n import local_today
from tests.conftest import count_queries, log_in, make_user, post_form
from tests.plugins.objectives.conftest import MARCH

WON = "opportunities.won_value"


def objective(who: object, target: str, *, start: date = MARCH, **extra: object) -> Objective:
    owner = {"profile": who} if isinstance(who, Profile) else {"user": who}
    values = {"period": MONTH, "metric": WON, **extra}
    return Objective.create(**owner, starts_on=start, target=Decimal(target), **values)


def rankings(html: str) -> list[tuple[str, list[str]]]:
    """Each ranking of the team: its heading and its people's rows, as text."""
    found = []
    for part in html.split('<table class="list objectives-team"')[1:]:
        heading = re.findall(r"<h3[^>]*>(.*?)</h3>", html.split(part, 1)[0])[-1]
        body = part.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        people = []
        for row in re.findall(r'<tr id="objective-.*?</tr>', body, re.S):
            people.append(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip())
        found.append((heading, people))
    return found


def rows(html: str) -> list[str]:
    """The first ranking's rows (the one ranking when one measure and period show)."""
    found = rankings(html)
    return found[0][1] if found else []


def test_a_salesperson_sees_where_they_stand(web: TestClient, company: SimpleNamespace) -> None:
    objective(company.ana, "2000.00")
    log_in(web, "ana@example.com")

    page = web.get("/objectives?period=2025-03")

    assert page.status_code == 200
    assert "Where I stand" in page.text
    assert "<svg" in page.text and 'class="objective-chart"' in page.text
    assert "50% attained" in page.text
    assert "€1,000.00 of €2,000.00" in page.text
    assert "My team" not in page.text


@pytest.mark.parametrize(
    ("language", "written"), [("en", "34.6%"), ("es", "34,6\N{NO-BREAK SPACE}%")]
)
def test_the_meter_and_the_sentence_write_the_percentage_alike_in_the_language(
    web: TestClient, company: SimpleNamespace, language: str, written: str
) -> None:
    # 1,000 of 2,890 is 34.60 %.
    found = objective(company.ana, "2890.00")
    company.ana.language = language
    company.ana.save()
    log_in(web, "ana@example.com")

    page = web.get("/objectives?period=2025-03").text

    html = page.split(f'id="objective-{found.id}"', 1)[1]
    meter = html.split("<meter", 1)[1].split("</meter>", 1)[0].split(">", 1)[1]
    sentence = html.split("<strong>", 1)[1].split("</strong>", 1)[0]
    assert meter == written
    assert sentence.startswith(f"{written} ")


def test_a_manager_sees_the_team_rolled_up_and_ranked(
    web: TestClient, company: SimpleNamespace
) -> None:
    objective(company.north, "3400.00")
    objective(company.ana, "2000.00")
    objective(company.bea, "500.00")
    objective(company.carl, "1000.00")  # the other team's
    log_in(web, "north@example.com")

    page = web.get("/objectives?period=2025-03").text

    # Own 200 plus Ana's 1,000 and Bea's 500.
    assert "€1,700.00 of €3,400.00" in page
    assert "Of which your team" in page and "€1,500.00" in page
    ranked = rows(page)
    assert [row.split()[1] for row in ranked] == ["Bea", "Ana"]
    assert "100%" in ranked[0] and "50%" in ranked[1]
    assert "Carl" not in page


def test_a_top_manager_sees_each_sub_manager_rolled_up(
    web: TestClient, company: SimpleNamespace
) -> None:
    objective(company.north, "1700.00")
    objective(company.south, "14000.00")
    log_in(web, "cmo@example.com")

    ranked = rows(web.get("/objectives?period=2025-03").text)

    assert ranked[0].startswith("1 North") and "with their team" in ranked[0]
    assert "100%" in ranked[0] and "€1,700.00" in ranked[0]
    assert ranked[1].startswith("2 South") and "50%" in ranked[1]


def test_a_profile_objective_counts_its_holders_together(
    web: TestClient, company: SimpleNamespace
) -> None:
    objective(company.north_sales, "3000.00")
    log_in(web, "north@example.com")

    (row,) = rows(web.get("/objectives?period=2025-03").text)

    assert "North sales" in row and "50%" in row and "€1,500.00" in row


def test_the_selectors_swap_only_the_results(web: TestClient, company: SimpleNamespace) -> None:
    objective(company.ana, "2000.00")
    log_in(web, "north@example.com")

    fragment = web.get("/objectives?period=2025-03", headers={"HX-Request": "true"})

    assert fragment.text.lstrip().startswith('<div id="results">')
    assert "<html" not in fragment.text and "Ana" in fragment.text
    assert "HX-Request" in fragment.headers["vary"]
    # Past periods stay listed in the selector, without JavaScript.
    page = web.get("/objectives").text
    assert '<option value="2025-03"' in page


def test_setting_an_objective_needs_the_csrf_token_and_is_audited(
    web: TestClient, company: SimpleNamespace
) -> None:
    log_in(web, "north@example.com")
    fields = {"who": f"user:{company.ana.id}", "period": "2025-03", "metric": WON}

    refused = web.post("/objectives/new", data={**fields, "target": "2000"})
    assert refused.status_code == 403
    assert Objective.select().count() == 0

    done = post_form(web, "/objectives/new", {**fields, "target": "2.000,50"})

    assert done.status_code == 303
    saved = Objective.get()
    assert (saved.user_id, saved.target, saved.starts_on) == (
        company.ana.id,
        Decimal("2000.50"),
        MARCH,
    )
    entry = AuditEntry.get(AuditEntry.action == "objectives.objective.created")
    assert entry.actor_id == company.north.id
    assert json.loads(entry.after) == {
        "metric": WON,
        "period": "2025-03",
        "target": "2000.50",
        "who": "Ana",
    }


def test_bad_values_are_explained_at_their_field(web: TestClient, company: SimpleNamespace) -> None:
    log_in(web, "north@example.com")

    answer = post_form(
        web,
        "/objectives/new",
        {"who": f"user:{company.carl.id}", "period": "2025-14", "metric": "nope", "target": "x"},
    )

    assert answer.status_code == 400
    for name in ("who", "period", "metric", "target"):
        assert f'id="e-{name}"' in answer.text, name
    assert "Choose a person or a profile of your team." in answer.text
    zero = post_form(
        web,
        "/objectives/new",
        {"who": f"user:{company.ana.id}", "period": "2025-03", "metric": WON, "target": "0"},
    )
    assert "The target must be greater than zero and below 100 billion." in zero.text
    counted = post_form(
        web,
        "/objectives/new",
        {
            "who": f"user:{company.ana.id}",
            "period": "2025-03",
            "metric": "opportunities.won_count",
            "target": "2.5",
        },
    )
    assert "write a whole number" in counted.text
    assert Objective.select().count() == 0


@pytest.mark.parametrize("target", ["-1.234,50", "0,00", "100000000000"])
def test_a_target_out_of_range_says_what_the_target_field_accepts(
    web: TestClient, company: SimpleNamespace, target: str
) -> None:
    # Zero is refused, so a negative target must not be told "zero or more".
    log_in(web, "north@example.com")
    fields = {"who": f"user:{company.ana.id}", "period": "2025-03", "metric": WON}

    answer = post_form(web, "/objectives/new", {**fields, "target": target})

    assert answer.status_code == 400
    error = answer.text.split('id="e-target">', 1)[1].split("</p>", 1)[0]
    assert error == "The target must be greater than zero and below 100 billion."
    assert Objective.select().count() == 0


def test_a_second_objective_for_the_same_measure_and_period_is_refused(
    web: TestClient, company: SimpleNamespace
) -> None:
    objective(company.ana, "2000.00")
    log_in(web, "north@example.com")

    answer = post_form(
        web,
        "/objectives/new",
        {"who": f"user:{company.ana.id}", "period": "2025-03", "metric": WON, "target": "10"},
    )

    assert answer.status_code == 400 and 'id="e-metric"' in answer.text
    assert Objective.select().count() == 1


def test_changing_and_deleting_are_audited_and_deleting_asks_first(
    web: TestClient, company: SimpleNamespace
) -> None:
    target = objective(company.ana, "2000.00")
    log_in(web, "north@example.com")

    changed = post_form(
        web,
        f"/objectives/{target.id}/edit",
        {"who": f"user:{company.ana.id}", "period": "2025-03", "metric": WON, "target": "2500"},
    )
    assert changed.status_code == 303
    entry = AuditEntry.get(AuditEntry.action == "objectives.objective.changed")
    assert json.loads(entry.before) == {"target": "2000.00"}
    assert json.loads(entry.after) == {"target": "2500.00"}

    confirm = web.get(f"/objectives/{target.id}/delete")
    assert confirm.status_code == 200 and "Yes, delete" in confirm.text
    assert Objective.select().count() == 1
    gone = post_form(web, f"/objectives/{target.id}/delete")
    assert gone.status_code == 303
    assert Objective.select().count() == 0
    deleted = AuditEntry.get(AuditEntry.action == "objectives.objective.deleted")
    assert json.loads(deleted.before)["target"] == "2500.00"


def test_an_even_split_adds_up_to_the_cent(web: TestClient, company: SimpleNamespace) -> None:
    third = make_user("cris@example.com", company.north_sales, language="en")
    whole = objective(company.north, "100.00")
    log_in(web, "north@example.com")

    form = web.get(f"/objectives/{whole.id}/split")
    assert form.status_code == 200
    assert all(name in form.text for name in ("Ana", "Bea", "Cris"))
    done = post_form(web, f"/objectives/{whole.id}/split", {"mode": "even"})

    assert done.status_code == 303
    shares = {o.user_id: o.target for o in Objective.select().where(Objective.parent == whole)}
    assert shares == {
        company.ana.id: Decimal("33.34"),
        company.bea.id: Decimal("33.33"),
        third.id: Decimal("33.33"),
    }
    assert (
        AuditEntry.select().where(AuditEntry.action == "objectives.objective.created").count() == 3
    )


def test_a_split_by_hand_must_add_up_to_the_objective(
    web: TestClient, company: SimpleNamespace
) -> None:
    whole = objective(company.north_sales, "1000.00")
    log_in(web, "north@example.com")
    path = f"/objectives/{whole.id}/split"

    wrong = post_form(
        web,
        path,
        {"mode": "hand", f"share-{company.ana.id}": "600", f"share-{company.bea.id}": "300"},
    )
    assert wrong.status_code == 400
    assert "The shares add up to 900, but the objective is 1,000" in wrong.text
    bad = post_form(
        web, path, {"mode": "hand", f"share-{company.ana.id}": "-5", f"share-{company.bea.id}": "x"}
    )
    assert f'id="e-share-{company.ana.id}"' in bad.text
    assert f'id="e-share-{company.bea.id}"' in bad.text
    assert Objective.select().count() == 1

    right = post_form(
        web,
        path,
        {"mode": "hand", f"share-{company.ana.id}": "700", f"share-{company.bea.id}": "300"},
    )
    assert right.status_code == 303
    shares = {o.user_id: o.target for o in Objective.select().where(Objective.parent == whole)}
    assert shares == {company.ana.id: Decimal("700.00"), company.bea.id: Decimal("300.00")}


def test_without_the_manage_key_nothing_can_be_set(
    web: TestClient, company: SimpleNamespace
) -> None:
    own = objective(company.ana, "2000.00")
    log_in(web, "ana@example.com")

    assert web.get("/objectives/new").status_code == 403
    assert post_form(web, "/objectives/new", {"who": f"user:{company.ana.id}"}).status_code == 403
    assert web.get(f"/objectives/{own.id}/edit").status_code == 403
    assert post_form(web, f"/objectives/{own.id}/delete").status_code == 403
    assert Objective.select().count() == 1


def test_a_manager_may_not_set_their_own_objective(
    web: TestClient, company: SimpleNamespace
) -> None:
    own = objective(company.north, "2000.00")
    log_in(web, "north@example.com")

    assert web.get(f"/objectives/{own.id}/edit").status_code == 403
    choices = web.get("/objectives/new").text
    assert f'value="user:{company.north.id}"' not in choices
    assert f'value="user:{company.ana.id}"' in choices


def test_without_the_menu_entry_the_pages_are_closed(
    web: TestClient, company: SimpleNamespace
) -> None:
    Profile.update(grants="{}").where(Profile.id == company.north_sales.id).execute()
    log_in(web, "ana@example.com")

    assert web.get("/objectives").status_code == 403
    assert web.get("/objectives/widget").status_code == 403


def test_the_widget_shows_my_current_objectives_with_the_team_part(
    web: TestClient, company: SimpleNamespace
) -> None:
    today = local_today()
    company.won(company.ana, "300.00", today)
    objective(company.north, "1000.00", start=Period.containing(MONTH, today).start)
    objective(company.ana, "10.00")  # a past month: not on the widget
    log_in(web, "north@example.com")

    widget = web.get("/objectives/widget", headers={"HX-Request": "true"}).text
    # Without JavaScript, the home page's link opens it in the layout, with a way home.
    page = web.get("/objectives/widget").text

    assert "<html" in page and "<h1>Objectives</h1>" in page
    assert '<a href="/">← Home</a>' in page and "30% attained" in page
    assert "<html" not in widget and "<h1>" not in widget
    assert "objective-chart--compact" in widget
    assert "30% attained" in widget
    assert "Of which your team" in widget and "€300.00" in widget
    assert "Ana" not in widget


def test_queries_stay_constant_as_the_team_grows(web: TestClient, company: SimpleNamespace) -> None:
    objective(company.cmo, "5000.00")
    objective(company.north, "5000.00", start=Period.containing(MONTH, local_today()).start)
    log_in(web, "cmo@example.com")

    def counts() -> tuple[int, int]:
        with count_queries() as page:
            assert web.get("/objectives?period=2025-03").status_code == 200
        with count_queries() as widget:
            assert web.get("/objectives/widget").status_code == 200
        return len(page), len(widget)

    before = counts()
    for number in range(12):
        person = make_user(f"extra{number}@example.com", company.south_sales)
        company.won(person, "10.00", date(2025, 3, 20))
        objective(person, "100.00")
    assert counts() == before


def test_the_team_is_one_level_down_unless_everyone_is_asked_for(
    web: TestClient, company: SimpleNamespace
) -> None:
    objective(company.north, "1700.00")
    objective(company.ana, "1000.00")
    log_in(web, "cmo@example.com")

    direct = rows(web.get("/objectives?period=2025-03").text)
    everyone = rows(web.get("/objectives?period=2025-03&team=all").text)

    assert [row.split()[1] for row in direct] == ["North"]
    assert [row.split()[1] for row in everyone] == ["Ana", "North"]


def test_a_top_manager_does_not_see_their_own_profiles_objective(
    web: TestClient, company: SimpleNamespace
) -> None:
    """Their scope leaves nobody out, yet their own profile is not below them."""
    cmo_profile = Profile.get(Profile.name == "CMO")
    own = objective(cmo_profile, "100.00")
    log_in(web, "cmo@example.com")

    assert f'id="objective-{own.id}"' not in web.get("/objectives?period=2025-03&team=all").text
    assert web.get(f"/objectives/{own.id}/edit").status_code == 404


def test_the_menu_entry_and_the_home_widget_follow_the_key(
    web: TestClient, company: SimpleNamespace
) -> None:
    log_in(web, "ana@example.com")
    home = web.get("/").text
    assert 'href="/objectives"' in home
    assert 'hx-get="/objectives/widget"' in home

    Profile.update(grants="{}").where(Profile.id == company.north_sales.id).execute()
    home = web.get("/").text
    assert 'href="/objectives"' not in home
    assert "/objectives/widget" not in home


def test_an_administrator_sees_objectives_through_their_scope_only(
    web: TestClient, company: SimpleNamespace
) -> None:
    # The administrator holds a salesperson's profile in the South team: holding
    # every key opens every page, not the North team's figures.
    north = objective(company.ana, "2000.00")
    own = objective(company.admin, "300.00")
    log_in(web, "admin@example.com")

    page = web.get("/objectives?period=2025-03&team=all")
    assert page.status_code == 200
    assert "Ana" not in page.text and "€1,000.00" not in page.text
    assert web.get(f"/objectives/{north.id}/edit").status_code == 404
    assert post_form(web, f"/objectives/{north.id}/delete").status_code == 404
    assert web.get(f"/objectives/{own.id}/edit").status_code == 200
    choices = web.get("/objectives/new").text
    assert f'value="user:{company.ana.id}"' not in choices
    assert f'value="user:{company.admin.id}"' in choices


def card(html: str, found: Objective) -> str:
    """One objective's card on the page, as text without tags."""
    match = re.search(rf'<article[^>]*id="objective-{found.id}".*?</article>', html, re.S)
    assert match, f"no card for objective {found.id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0)))


def test_the_pace_message_tells_reached_exceeded_ahead_on_pace_and_behind(
    web: TestClient, company: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 March 2025; Ana won 1,000 on 3 March (her 99 of 1 April is not done yet)."""
    monkeypatch.setattr(routes, "local_today", lambda: date(2025, 3, 20))
    reached = objective(company.ana, "1000.00")
    exceeded = objective(company.ana, "900.00", period=QUARTER, start=date(2025, 1, 1))
    # A year's pace by 20 March is 79/365 of the target: 974 of 4,500, 0.87 of 4 deals.
    on_pace = objective(company.ana, "4500.00", period=YEAR, start=date(2025, 1, 1))
    count = {"metric": "opportunities.won_count", "start": date(2025, 1, 1)}
    ahead = objective(company.ana, "4", period=YEAR, **count)
    behind = objective(company.ana, "100", period=QUARTER, **count)
    log_in(web, "ana@example.com")

    page = web.get("/objectives").text

    assert "Objective reached." in card(page, reached)
    assert "Objective exceeded." in card(page, exceeded)
    assert "111.1% attained" in card(page, exceeded)
    assert "Ahead of the expected pace." in card(page, ahead)
    assert "On pace." in card(page, on_pace)
    assert "Behind the expected pace." in card(page, behind)
    for done in (reached, exceeded):
        assert "pace." not in card(page, done)
    for found in (on_pace, behind):
        assert "Ahead" not in card(page, found)
    assert "On pace." not in card(page, ahead)
    assert "Objective" not in card(page, on_pace).split("attained", 1)[1]


def test_a_period_not_started_tells_no_pace(
    web: TestClient, company: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "local_today", lambda: date(2025, 3, 20))
    april = objective(company.ana, "500.00", start=date(2025, 4, 1))
    log_in(web, "ana@example.com")

    page = web.get("/objectives?period=2025-04").text

    assert "attained" in card(page, april)
    assert "On pace." not in card(page, april) and "Behind" not in card(page, april)


def test_only_what_is_done_by_today_counts_in_the_current_period(
    web: TestClient, company: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On 20 March a deal closing on 25 March, or in April, is not done yet."""
    monkeypatch.setattr(routes, "local_today", lambda: date(2025, 3, 20))
    company.won(company.ana, "600.00", date(2025, 3, 25))
    company.won(company.bea, "900.00", date(2025, 3, 28))
    ana = objective(company.ana, "2000.00")
    objective(company.bea, "1100.00")
    north = objective(company.north, "3400.00")
    year = objective(company.ana, "4500.00", period=YEAR, start=date(2025, 1, 1))
    april = objective(company.ana, "500.00", start=date(2025, 4, 1))
    log_in(web, "north@example.com")

    page = web.get("/objectives?period=2025-03").text

    # Own 200 plus Ana's 1,000 and Bea's 500 by today; not the 1,500 to come.
    mine = card(page, north)
    assert "50% attained" in mine and "€1,700.00 of €3,400.00" in mine
    assert "Still to go €1,700.00" in mine and "Of which your team €1,500.00" in mine
    assert "Behind the expected pace." in mine
    # Bea's 900 to come would take her past Ana: by today Ana is ahead of her.
    ranked = rows(page)
    assert [row.split()[1] for row in ranked] == ["Ana", "Bea"]
    assert "50%" in ranked[0] and "€1,000.00" in ranked[0]
    assert "45.5%" in ranked[1] and "€500.00" in ranked[1]
    log_in(web, "ana@example.com")
    page = web.get("/objectives").text
    assert "€1,000.00 of €4,500.00" in card(page, year)
    assert "On pace." in card(page, year)
    april_page = web.get("/objectives?period=2025-04").text
    assert "0% attained" in card(april_page, april)
    assert "€0.00 of €500.00" in card(april_page, april)
    # Once the month is over, it counts whole.
    monkeypatch.setattr(routes, "local_today", lambda: date(2025, 4, 2))
    over = web.get("/objectives?period=2025-03").text
    assert "€1,600.00 of €2,000.00" in card(over, ana)
    assert "€99.00 of €500.00" in card(web.get("/objectives?period=2025-04").text, april)


def test_every_measure_ranks_each_measure_and_period_apart(
    web: TestClient, company: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Euros in March, deals won in March and euros in Q1 are three rankings."""
    monkeypatch.setattr(routes, "local_today", lambda: date(2025, 3, 20))
    objective(company.ana, "2000.00")
    objective(company.bea, "1000.00")
    objective(company.bea, "1", metric="opportunities.won_count")
    objective(company.ana, "500.00", period=QUARTER, start=date(2025, 1, 1))
    log_in(web, "north@example.com")

    found = rankings(web.get("/objectives").text)

    assert [heading for heading, _people in found] == [
        "Value of won opportunities · March 2025",
        "Won opportunities · March 2025",
        "Value of won opportunities · Q1 2025",
    ]
    march, deals, quarter = (people for _heading, people in found)
    assert [row.split()[:2] for row in march] == [["1", "Ana"], ["2", "Bea"]]
    assert "50%" in march[0] and "50%" in march[1]
    assert [row.split()[:2] for row in deals] == [["1", "Bea"]] and "100%" in deals[0]
    assert [row.split()[:2] for row in quarter] == [["1", "Ana"]] and "200%" in quarter[0]


def test_each_teammates_curve_unfolds_under_their_row(
    web: TestClient, company: SimpleNamespace
) -> None:
    ana = objective(company.ana, "2000.00")
    objective(company.bea, "1000.00")
    log_in(web, "north@example.com")

    page = web.get("/objectives?period=2025-03").text

    row = page.split(f'<tr id="objective-{ana.id}"', 1)[1].split('<tr id="objective-', 1)[0]
    curve = row.split('class="objective-curve"', 1)[1]
    assert "<details>" in curve and "Curve of Ana" in curve
    assert 'class="objective-chart"' in curve and "<desc>" in curve
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", curve))
    assert "50% attained" in text and "€1,000.00 of €2,000.00" in text
    assert "Still to go €1,000.00" in text and "Days left 0" in text
    # The card inside is no second element with the row's id.
    assert page.count(f'id="objective-{ana.id}"') == 1


def test_the_curves_cost_no_query_per_teammate(web: TestClient, company: SimpleNamespace) -> None:
    objective(company.ana, "100.00")
    log_in(web, "cmo@example.com")

    def count() -> int:
        with count_queries() as page:
            html = web.get("/objectives?period=2025-03&team=all").text
        assert html.count('class="objective-curve"') == html.count('class="objective-row"')
        return len(page)

    before = count()
    for number in range(12):
        person = make_user(f"extra{number}@example.com", company.south_sales)
        company.won(person, "10.00", date(2025, 3, 20))
        objective(person, "100.00")
    assert count() == before
