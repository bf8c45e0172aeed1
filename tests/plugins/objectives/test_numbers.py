"""Numbers, periods and people an objective form accepts, and what a split keeps."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest
from starlette.testclient import TestClient

from plugins.objectives.models import Objective
from plugins.objectives.periods import MONTH
from portal.core.models import AuditEntry, User
from portal.i18n import local_today
from tests.conftest import grant, log_in, make_profile, make_user, post_form
from tests.plugins.objectives.conftest import MARCH
from tests.plugins.objectives.test_pages import WON, objective

if TYPE_CHECKING:
    from httpx2 import Response

COUNTED = "opportunities.won_count"


def speaks(user: User, language: str) -> None:
    User.update(language=language).where(User.id == user.id).execute()


def set_target(web: TestClient, person: User, target: str, **extra: str) -> Response:
    fields = {"who": f"user:{person.id}", "period": "2025-03", "metric": WON, "target": target}
    return post_form(web, "/objectives/new", {**fields, **extra})


def value_of(html: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html)
    assert found, name
    return found.group(1)


@pytest.mark.parametrize(
    ("language", "typed", "saved"),
    [
        ("es", "12.000", "12000.00"),
        ("en", "12,000", "12000.00"),
        ("es", "12.000,50", "12000.50"),
        ("es", "12,000.50", "12000.50"),
        ("en", "12,000.50", "12000.50"),
        ("en", "12.000,50", "12000.50"),
        ("es", "12,5", "12.50"),
    ],
)
def test_thousands_are_read_in_either_common_form(
    web: TestClient, company: SimpleNamespace, language: str, typed: str, saved: str
) -> None:
    speaks(company.north, language)
    log_in(web, "north@example.com")

    assert set_target(web, company.ana, typed).status_code == 303

    assert Objective.get().target == Decimal(saved)


@pytest.mark.parametrize(("language", "typed"), [("es", "12,000"), ("en", "12.000")])
def test_an_ambiguous_amount_is_asked_again(
    web: TestClient, company: SimpleNamespace, language: str, typed: str
) -> None:
    speaks(company.north, language)
    log_in(web, "north@example.com")

    answer = set_target(web, company.ana, typed)

    assert answer.status_code == 400 and 'id="e-target"' in answer.text
    assert Objective.select().count() == 0


@pytest.mark.parametrize("typed", ["１２３", "٣٤", "1_000", "1e5", "1.2345"])
def test_only_ascii_digits_and_plain_amounts_are_numbers(
    web: TestClient, company: SimpleNamespace, typed: str
) -> None:
    log_in(web, "north@example.com")

    answer = set_target(web, company.ana, typed)

    assert answer.status_code == 400 and 'id="e-target"' in answer.text
    assert Objective.select().count() == 0


def test_a_hand_split_reads_spanish_thousands(web: TestClient, company: SimpleNamespace) -> None:
    cris = make_user("cris@example.com", company.north_sales)
    whole = objective(company.north, "100000.00")
    speaks(company.north, "es")
    log_in(web, "north@example.com")

    shares = {company.ana.id: "50.000", company.bea.id: "25.000", cris.id: "25.000"}
    answer = post_form(
        web,
        f"/objectives/{whole.id}/split",
        {"mode": "hand", **{f"share-{p}": v for p, v in shares.items()}},
    )

    assert answer.status_code == 303
    split = {o.user_id: o.target for o in Objective.select().where(Objective.parent == whole)}
    assert split == {company.ana.id: 50000, company.bea.id: 25000, cris.id: 25000}


def test_the_amount_limit_is_the_cores_and_what_is_stored_is_what_is_audited(
    web: TestClient, company: SimpleNamespace
) -> None:
    log_in(web, "north@example.com")

    too_big = set_target(web, company.ana, "99999999999999.99")
    assert too_big.status_code == 400 and 'id="e-target"' in too_big.text
    assert set_target(web, company.ana, "99999999999.99").status_code == 303

    stored = Objective.get_by_id(Objective.get().id).target
    entry = AuditEntry.get(AuditEntry.action == "objectives.objective.created")
    assert stored == Decimal(json.loads(entry.after)["target"]) == Decimal("99999999999.99")


def test_only_periods_from_2000_to_next_year_are_accepted(
    web: TestClient, company: SimpleNamespace
) -> None:
    old = objective(company.ana, "10.00", start=date(1999, 3, 1))
    log_in(web, "north@example.com")

    for token in ("1900-01", "1999-12", f"{local_today().year + 2}"):
        answer = set_target(web, company.bea, "10", period=token)
        assert answer.status_code == 400 and 'id="e-period"' in answer.text, token
    assert Objective.select().count() == 1
    form = web.get(f"/objectives/{old.id}/edit").text
    assert 'value="1999-03" selected' in form

    kept = post_form(
        web,
        f"/objectives/{old.id}/edit",
        {"who": f"user:{company.ana.id}", "period": "1999-03", "metric": WON, "target": "20"},
    )
    assert kept.status_code == 303
    assert Objective.get_by_id(old.id).target == Decimal("20.00")


def test_an_even_split_of_a_count_gives_whole_shares(
    web: TestClient, company: SimpleNamespace
) -> None:
    cris = make_user("cris@example.com", company.north_sales)
    whole = Objective.create(
        user=company.north, period=MONTH, starts_on=MARCH, metric=COUNTED, target=100
    )
    log_in(web, "north@example.com")
    path = f"/objectives/{whole.id}/split"

    page = web.get(path).text
    typed = {p: value_of(page, f"share-{p}") for p in (company.ana.id, company.bea.id, cris.id)}
    assert typed == {company.ana.id: "34", company.bea.id: "33", cris.id: "33"}
    by_hand = post_form(web, path, {"mode": "hand", **{f"share-{p}": v for p, v in typed.items()}})
    assert by_hand.status_code == 303
    assert post_form(web, path, {"mode": "even"}).status_code == 303

    split = {o.user_id: o.target for o in Objective.select().where(Objective.parent == whole)}
    assert split == {company.ana.id: 34, company.bea.id: 33, cris.id: 33}


def test_an_even_split_with_nobody_below_is_refused_at_the_form(
    web: TestClient, company: SimpleNamespace
) -> None:
    alone = objective(company.ana, "100.00")
    log_in(web, "north@example.com")

    answer = post_form(web, f"/objectives/{alone.id}/split", {"mode": "even"})

    assert answer.status_code == 400
    assert 'id="e-shares"' in answer.text and "Nobody is directly below" in answer.text
    assert Objective.select().count() == 1
    assert AuditEntry.select().where(AuditEntry.action.startswith("objectives.")).count() == 0


def test_values_are_prefilled_as_the_user_writes_them(
    web: TestClient, company: SimpleNamespace
) -> None:
    share = objective(company.ana, "7500.13")
    whole = objective(company.north_sales, "100000.00")
    speaks(company.north, "es")
    log_in(web, "north@example.com")

    assert value_of(web.get(f"/objectives/{share.id}/edit").text, "target") == "7.500,13"
    page = web.get(f"/objectives/{whole.id}/split").text
    header = re.search(r"<strong>([^<]*)</strong>", page)
    assert header and "100.000,00" in header.group(1) and "€" in header.group(1)
    assert value_of(page, f"share-{company.ana.id}") == "50.000"


def test_cents_keep_both_digits_in_the_form_and_the_audit(
    web: TestClient, company: SimpleNamespace
) -> None:
    share = objective(company.ana, "1000.50")
    speaks(company.north, "es")
    log_in(web, "north@example.com")

    assert value_of(web.get(f"/objectives/{share.id}/edit").text, "target") == "1.000,50"
    assert set_target(web, company.bea, "12.000,5").status_code == 303
    web.cookies.clear()
    speaks(company.admin, "es")
    log_in(web, "admin@example.com")
    assert "12.000,50" in web.get("/admin/audit").text


def test_assistants_neither_set_objectives_nor_receive_them(
    web: TestClient, company: SimpleNamespace
) -> None:
    helper = make_profile("North assistant", company.north.profile, is_assistant=True)
    grant(helper, "menu.objectives", "objectives.manage")
    ray = make_user("ray@example.com", helper, language="en")
    whole = objective(company.north, "90.00")

    log_in(web, "ray@example.com")
    assert web.get("/objectives/new").status_code == 403
    for who in (f"user:{company.north.id}", f"profile:{company.north.profile_id}"):
        answer = set_target(web, company.north, "10", who=who)
        assert answer.status_code == 403, who
    web.cookies.clear()

    log_in(web, "north@example.com")
    choices = web.get("/objectives/new").text
    assert f'value="user:{ray.id}"' not in choices
    for who in (f"user:{ray.id}", f"profile:{helper.id}"):
        answer = set_target(web, company.ana, "10", who=who)
        assert answer.status_code == 400 and 'id="e-who"' in answer.text, who
    assert "Ray" not in web.get(f"/objectives/{whole.id}/split").text
    assert post_form(web, f"/objectives/{whole.id}/split", {"mode": "even"}).status_code == 303

    shares = {o.user_id: o.target for o in Objective.select().where(Objective.parent == whole)}
    assert shares == {company.ana.id: Decimal("45.00"), company.bea.id: Decimal("45.00")}


def test_a_split_that_no_longer_adds_up_is_flagged_and_shares_name_their_whole(
    web: TestClient, company: SimpleNamespace
) -> None:
    whole = objective(company.north, "100.00")
    log_in(web, "north@example.com")
    assert post_form(web, f"/objectives/{whole.id}/split", {"mode": "even"}).status_code == 303
    created = AuditEntry.select().where(AuditEntry.action == "objectives.objective.created")
    assert [json.loads(e.after)["parent"] for e in created] == [whole.id, whole.id]
    assert "shares add up to" not in web.get("/objectives?period=2025-03").text

    share = Objective.get((Objective.parent == whole) & (Objective.user == company.ana))
    changed = post_form(
        web,
        f"/objectives/{share.id}/edit",
        {"who": f"user:{company.ana.id}", "period": "2025-03", "metric": WON, "target": "5"},
    )
    assert changed.status_code == 303
    assert Objective.get_by_id(share.id).parent_id == whole.id

    mine = web.get("/objectives?period=2025-03").text
    assert "Its shares add up to €55.00, not to its target of €100.00" in mine
    web.cookies.clear()
    log_in(web, "cmo@example.com")
    row = web.get("/objectives?period=2025-03").text.split(f'id="objective-{whole.id}"')[1]
    assert "Its shares add up to €55.00" in row.split("</tr>")[0]
    assert "Its shares add up to €55.00" in web.get(f"/objectives/{whole.id}/edit").text


def test_core_amounts_refuse_other_digits_and_ambiguity() -> None:
    from portal.core.fields import FieldError, parse_amount, parse_decimal

    for text in ("１２３", "٣٤", "1_000"):
        with pytest.raises(FieldError):
            parse_decimal(text, "en")
    for text, locale in (("12,000", "es"), ("12.000", "en"), ("1,005", "es"), ("0.125", "en")):
        with pytest.raises(FieldError):
            parse_amount(text, locale)
    assert parse_amount("12.000", "es") == Decimal("12000.00")
    assert parse_amount("12,000", "en") == Decimal("12000.00")
