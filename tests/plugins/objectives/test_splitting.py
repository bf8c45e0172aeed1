"""A split that would replace objectives people already have asks first."""

from __future__ import annotations

import re
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient

from plugins.objectives.models import Objective
from portal.core.models import AuditEntry
from tests.conftest import log_in, post_form
from tests.plugins.objectives.test_numbers import speaks, value_of
from tests.plugins.objectives.test_pages import objective


def listed(html: str) -> list[str]:
    """The objectives the split page says it replaces, as text."""
    found = re.search(r'<div class="warning"[^>]*id="replacing">(.*?)</div>', html, re.S)
    if found is None:
        return []
    items = re.findall(r"<li>(.*?)</li>", found.group(1), re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", item)).strip() for item in items]


def audited() -> int:
    return AuditEntry.select().where(AuditEntry.action.startswith("objectives.")).count()


def targets() -> dict[int, tuple[Decimal, int | None]]:
    return {o.id: (o.target, o.parent_id) for o in Objective.select()}


def test_replacing_objectives_asks_first_and_writes_only_once_confirmed(
    web: TestClient, company: SimpleNamespace
) -> None:
    own = objective(company.ana, "2000.00")
    other_whole = objective(company.north_sales, "900.00")
    share = objective(company.bea, "450.00", parent=other_whole.id)
    whole = objective(company.north, "1000.00")
    before = targets()
    log_in(web, "north@example.com")
    path = f"/objectives/{whole.id}/split"
    expected = [
        "Ana: €2,000.00, their own objective",
        "Bea: €450.00, a share of another objective",
    ]

    assert listed(web.get(path).text) == expected
    typed = {"mode": "hand", f"share-{company.ana.id}": "600", f"share-{company.bea.id}": "400"}
    asked = post_form(web, path, typed)
    assert asked.status_code == 409
    assert listed(asked.text) == expected
    assert "Nothing was saved yet" in asked.text
    assert value_of(asked.text, f"share-{company.ana.id}") == "600"
    assert value_of(asked.text, "replacing") == f"{own.id},{share.id}"
    assert targets() == before and audited() == 0

    # A tick without the ids the page listed, or an even split, asks as well.
    for data in ({**typed, "confirm": "on"}, {"mode": "even"}):
        again = post_form(web, path, data)
        assert again.status_code == 409 and listed(again.text) == expected
    assert targets() == before and audited() == 0

    done = post_form(web, path, {**typed, "replacing": f"{own.id},{share.id}", "confirm": "on"})

    assert done.status_code == 303
    assert targets()[own.id] == (Decimal("600.00"), whole.id)
    assert targets()[share.id] == (Decimal("400.00"), whole.id)
    changed = AuditEntry.select().where(AuditEntry.action == "objectives.objective.changed")
    assert changed.count() == 2


def test_an_objective_set_after_the_page_was_shown_is_asked_about_again(
    web: TestClient, company: SimpleNamespace
) -> None:
    own = objective(company.ana, "2000.00")
    whole = objective(company.north, "1000.00")
    log_in(web, "north@example.com")
    path = f"/objectives/{whole.id}/split"
    assert listed(web.get(path).text) == ["Ana: €2,000.00, their own objective"]

    late = objective(company.bea, "300.00")
    answer = post_form(web, path, {"mode": "even", "replacing": str(own.id), "confirm": "on"})

    assert answer.status_code == 409
    assert listed(answer.text) == [
        "Ana: €2,000.00, their own objective",
        "Bea: €300.00, their own objective",
    ]
    assert Objective.get_by_id(late.id).target == Decimal("300.00")
    assert audited() == 0


def test_a_split_that_replaces_nothing_writes_at_once(
    web: TestClient, company: SimpleNamespace
) -> None:
    whole = objective(company.north, "1000.00")
    # Another measure, or another month, is not what the split writes.
    objective(company.ana, "5", metric="opportunities.won_count")
    objective(company.ana, "50.00", start=whole.starts_on.replace(month=4))
    log_in(web, "north@example.com")
    path = f"/objectives/{whole.id}/split"

    page = web.get(path).text
    assert 'id="replacing"' not in page and 'name="confirm"' not in page
    assert post_form(web, path, {"mode": "even"}).status_code == 303

    # Splitting again re-sets the shares of this same whole: nothing to ask.
    assert listed(web.get(path).text) == []
    again = post_form(
        web,
        path,
        {"mode": "hand", f"share-{company.ana.id}": "700", f"share-{company.bea.id}": "300"},
    )
    assert again.status_code == 303
    shares = {o.user_id: o.target for o in Objective.select().where(Objective.parent == whole)}
    assert shares == {company.ana.id: Decimal("700.00"), company.bea.id: Decimal("300.00")}


def test_with_htmx_the_question_and_the_answer_are_the_same(
    web: TestClient, company: SimpleNamespace
) -> None:
    own = objective(company.ana, "2000.00")
    whole = objective(company.north, "1000.00")
    log_in(web, "north@example.com")
    path = f"/objectives/{whole.id}/split"
    boosted = {"HX-Request": "true", "HX-Boosted": "true"}

    asked = post_form(web, path, {"mode": "even"}, headers=boosted)
    assert asked.status_code == 409 and "<html" in asked.text
    assert listed(asked.text) == ["Ana: €2,000.00, their own objective"]
    assert Objective.get_by_id(own.id).target == Decimal("2000.00")

    confirmed = {"mode": "even", "replacing": str(own.id), "confirm": "on"}
    assert post_form(web, path, confirmed, headers=boosted).status_code == 303
    assert Objective.get_by_id(own.id).target == Decimal("500.00")


def test_a_forged_confirmation_cannot_reach_another_team(
    web: TestClient, company: SimpleNamespace
) -> None:
    own = objective(company.ana, "2000.00")
    carl = objective(company.carl, "7000.00")
    whole = objective(company.north, "1000.00")
    south_whole = objective(company.south, "800.00")
    log_in(web, "north@example.com")
    path = f"/objectives/{whole.id}/split"

    page = web.get(path).text
    assert "Carl" not in page and "7,000" not in page
    # Carl's objective and share ticked, for values the page never offered.
    forged = {
        "mode": "hand",
        f"share-{company.ana.id}": "1000",
        f"share-{company.bea.id}": "0",
        f"share-{company.carl.id}": "1000",
        "replacing": str(carl.id),
        "confirm": "on",
    }
    asked = post_form(web, path, forged)
    assert asked.status_code == 409
    assert listed(asked.text) == ["Ana: €2,000.00, their own objective"]
    assert "Carl" not in asked.text and "7,000" not in asked.text

    done = post_form(web, path, {**forged, "replacing": f"{own.id},{carl.id}"})
    assert done.status_code == 303
    assert Objective.get_by_id(carl.id).target == Decimal("7000.00")
    assert Objective.get_by_id(carl.id).parent_id is None
    assert Objective.select().where(Objective.user == company.carl).count() == 1
    assert Objective.get_by_id(own.id).target == Decimal("1000.00")

    # Another team's whole is not there to split, confirmed or not.
    answer = post_form(
        web,
        f"/objectives/{south_whole.id}/split",
        {"mode": "even", "replacing": str(carl.id), "confirm": "on"},
    )
    assert answer.status_code == 404
    assert Objective.get_by_id(carl.id).target == Decimal("7000.00")


def test_the_list_shows_amounts_as_the_page_writes_them(
    web: TestClient, company: SimpleNamespace
) -> None:
    objective(company.ana, "2000.50")
    whole = objective(company.north, "1000.00")
    speaks(company.north, "es")
    log_in(web, "north@example.com")

    (item,) = listed(web.get(f"/objectives/{whole.id}/split").text)

    assert item.startswith("Ana: ") and "2.000,50" in item and "€" in item


def test_the_redirect_after_a_split_encodes_its_query(
    web: TestClient, company: SimpleNamespace
) -> None:
    # The measure of a plugin since disabled still names its objectives.
    metric = "partners.net+tax&more"
    whole = objective(company.north, "100", metric=metric)
    log_in(web, "north@example.com")

    done = post_form(web, f"/objectives/{whole.id}/split", {"mode": "even"})

    assert done.status_code == 303
    location = urlsplit(done.headers["location"])
    assert location.path == "/objectives"
    assert parse_qs(location.query) == {"period": ["2025-03"], "metric": [metric]}
    shares = Objective.select().where(Objective.parent == whole)
    assert {o.metric for o in shares} == {metric}


def test_forged_ids_with_other_unicode_digits_are_refused_not_a_server_error(
    web: TestClient, company: SimpleNamespace
) -> None:
    objective(company.ana, "2000.00")
    whole = objective(company.north, "1000.00")
    before = targets()
    log_in(web, "north@example.com")
    path = f"/objectives/{whole.id}/split"

    # "²" and "①" pass str.isdigit, which int() then refuses.
    for forged in ("²", "①", "9" * 5000):
        asked = post_form(web, path, {"mode": "even", "confirm": "on", "replacing": forged})
        assert asked.status_code == 409, forged
    chosen = post_form(
        web,
        "/objectives/new",
        {"who": "user:²", "period": "2025-03", "metric": "opportunities.won_value", "target": "5"},
    )
    assert chosen.status_code == 400
    assert "Choose a person or a profile of your team." in chosen.text
    assert targets() == before and audited() == 0
