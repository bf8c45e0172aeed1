"""The audit log reads the objectives plugin's entries in words (`register_audit_labels`)."""

from __future__ import annotations

from types import SimpleNamespace

from starlette.testclient import TestClient

from tests.conftest import log_in, post_form

WON = "opportunities.won_value"


def test_register_audit_labels_objectives_entries_read_in_words(
    web: TestClient, company: SimpleNamespace
) -> None:
    log_in(web, "north@example.com")
    fields = {"who": f"user:{company.ana.id}", "period": "2025-03", "metric": WON}
    assert post_form(web, "/objectives/new", {**fields, "target": "2500"}).status_code == 303
    log_in(web, "admin@example.com")

    page = web.get("/admin/audit").text
    choices = page.split('id="f-type"', 1)[1].split("</select>", 1)[0]

    assert "<strong>Objective set</strong> <code>objectives.objective.created</code>" in page
    assert '<option value="objectives_objective">Objective</option>' in choices
    assert "<p>Objective\n" in page
    assert "<td>Measure <small><code>metric</code></small></td>" in page
    assert "<td>→ Value of won opportunities</td>" in page
    assert (
        "<td>Period <small><code>period</code></small></td><td>—</td><td>→ March 2025</td>" in page
    )
    assert "<td>→ 2,500</td>" in page
    assert "<td>For <small><code>who</code></small></td><td>—</td><td>→ Ana</td>" in page
