"""Assistants read the objectives of the people they support, and set none."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from plugins.objectives.models import Objective
from portal.core.models import AuditEntry, Profile
from portal.core.permissions import read_grants
from tests.conftest import grant, log_in, make_profile, make_user, post_form
from tests.plugins.objectives.test_pages import objective, rows

MANAGE = "objectives.manage"


@pytest.fixture
def helper(company: SimpleNamespace) -> Profile:
    """North's assistant, holding the key the matrix offered it before."""
    profile = make_profile("North assistant", company.north.profile, is_assistant=True)
    grant(profile, "menu.objectives", MANAGE)
    make_user("ray@example.com", profile, language="en")
    return profile


def test_an_assistant_reads_the_objectives_of_those_it_supports(
    web: TestClient, company: SimpleNamespace, helper: Profile
) -> None:
    north = objective(company.north, "3400.00")
    objective(company.ana, "2000.00")
    objective(company.north_sales, "3000.00")
    objective(company.carl, "1000.00")  # another team's
    log_in(web, "ray@example.com")

    page = web.get("/objectives?period=2025-03").text
    everyone = web.get("/objectives?period=2025-03&team=all").text

    assert "People I support" in page and "Those I support directly" in page
    assert "My team" not in page and "Where I stand" not in page
    assert "You have no objective" not in page
    # The manager it serves, with their team; the profile it serves has none.
    assert [row.split()[1] for row in rows(page)] == ["North"]
    assert "with their team" in rows(page)[0] and "€1,700.00" in rows(page)[0]
    assert [row.split()[1] for row in rows(everyone)] == ["Ana", "North", "North"]
    # Read only: no link to set, change, split or delete anything.
    for text in (page, everyone):
        assert "/objectives/new" not in text and "/edit" not in text
        assert "/split" not in text and "/delete" not in text and "Carl" not in text
    assert web.get(f"/objectives/{north.id}/edit").status_code == 403
    assert "/objectives/widget" not in web.get("/").text


def test_an_assistant_supporting_nobody_with_an_objective_is_told_so(
    web: TestClient, company: SimpleNamespace, helper: Profile
) -> None:
    log_in(web, "ray@example.com")

    page = web.get("/objectives?period=2025-03").text

    assert "Nobody you support has an objective in this period." in page
    assert "My team" not in page and "Where I stand" not in page


def test_the_matrix_does_not_offer_setting_objectives_to_an_assistant(
    web: TestClient, company: SimpleNamespace, helper: Profile
) -> None:
    log_in(web, "admin@example.com")
    url = "/admin/permissions?tab=objectives&profile="

    shown = web.get(f"{url}{helper.id}").text
    manager = web.get(f"{url}{company.north.profile_id}").text

    box = re.search(r'<input[^>]*name="grant:objectives.manage"[^>]*>', shown).group(0)
    assert "disabled" in box and "checked" not in box
    assert "Assistant profiles cannot hold this permission." in shown
    assert "disabled" not in re.search(
        r'<input[^>]*name="grant:objectives.manage"[^>]*>', manager
    ).group(0)
    assert "Assistant profiles cannot" not in manager
    assert "Set and split objectives" not in web.get(f"/admin/profiles/{helper.id}").text


def test_saving_the_matrix_never_stores_the_key_for_an_assistant(
    web: TestClient, company: SimpleNamespace, helper: Profile
) -> None:
    log_in(web, "admin@example.com")
    save = f"/admin/permissions/{helper.id}/objectives"

    refused = post_form(web, save, {f"grant:{MANAGE}": "on"})
    assert refused.status_code == 400
    assert "Assistant profiles cannot hold this permission." in refused.text
    assert MANAGE in read_grants(Profile.get_by_id(helper.id))

    # Saved as shown (unticked): the key held from before goes, audited.
    assert post_form(web, save, {}).status_code == 303
    assert MANAGE not in read_grants(Profile.get_by_id(helper.id))
    revoked = AuditEntry.get(AuditEntry.action == "profiles.permission.revoked")
    assert revoked.object_id == helper.id
    assert post_form(web, save, {f"grant:{MANAGE}": "on"}).status_code == 400
    assert MANAGE not in read_grants(Profile.get_by_id(helper.id))
    # A manager's profile still takes it.
    north = f"/admin/permissions/{company.north_sales.id}/objectives"
    assert post_form(web, north, {f"grant:{MANAGE}": "on"}).status_code == 303
    assert MANAGE in read_grants(Profile.get_by_id(company.north_sales.id))
    assert Objective.select().count() == 0
