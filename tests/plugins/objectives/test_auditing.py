"""The audit log reads the objectives plugin's entries in words (`register_audit_labels`)."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import openpyxl
from starlette.testclient import TestClient

from portal.core.models import AuditEntry
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


def object_line(page: str, objective_id: int) -> str:
    """The text of the object line of the newest entry about the objective."""
    return page.split(f"<small>#{objective_id}</small>", 1)[0].rsplit("<p>", 1)[1]


def test_the_object_line_names_the_period_and_measure_in_the_readers_words(
    web: TestClient, company: SimpleNamespace
) -> None:
    company.ana.name = "<i>Ana</i>"
    company.ana.save()
    log_in(web, "north@example.com")
    fields = {"who": f"user:{company.ana.id}", "period": "2026-12", "metric": WON}
    assert post_form(web, "/objectives/new", {**fields, "target": "2500"}).status_code == 303
    objective = AuditEntry.get(AuditEntry.action == "objectives.objective.created")
    # Stored as keys, so that every reader gets it in their own language.
    assert objective.object_label == f"<i>Ana</i> · 2026-12 · {WON}"

    log_in(web, "admin@example.com")
    english = object_line(web.get("/admin/audit").text, objective.object_id)
    company.admin.language = "es"
    company.admin.save()
    spanish = object_line(web.get("/admin/audit").text, objective.object_id)

    ana = "&lt;i&gt;Ana&lt;/i&gt;"
    assert english == f"Objective\n{ana} · December 2026 · Value of won opportunities "
    assert spanish.startswith(f"Objetivo\n{ana} · Diciembre 2026 · ")
    assert "2026-12" not in spanish and WON not in spanish


def test_an_object_label_of_another_shape_reads_as_stored(
    web: TestClient, company: SimpleNamespace
) -> None:
    """An erased person's entries carry a label of the eraser's choosing."""
    entry = AuditEntry.create(
        action="objectives.objective.deleted",
        actor=company.admin,
        actor_name="Admin",
        object_type="objectives_objective",
        object_id=41,
        object_label="Erased · <b>",
    )
    log_in(web, "admin@example.com")

    line = object_line(web.get("/admin/audit").text, entry.object_id)

    assert line == "Objective\nErased · &lt;b&gt; "


def test_the_exports_name_the_object_as_the_page_does_and_stay_inert(
    web: TestClient, company: SimpleNamespace
) -> None:
    """A name starting with "=" stays text, worded like the page's object line."""
    company.ana.name = "=Ana"
    company.ana.save()
    log_in(web, "north@example.com")
    fields = {"who": f"user:{company.ana.id}", "period": "2025-03", "metric": WON}
    assert post_form(web, "/objectives/new", {**fields, "target": "2500"}).status_code == 303
    log_in(web, "admin@example.com")
    params = {"type": "objectives_objective"}

    answer = web.get("/admin/audit/export.csv", params=params)
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    company.admin.language = "es"
    company.admin.save()
    book = web.get("/admin/audit/export.xlsx", params=params).content
    sheet = openpyxl.load_workbook(io.BytesIO(book)).active

    assert [row[6] for row in rows[1:]] == ["'=Ana · March 2025 · Value of won opportunities"]
    spanish = sheet.cell(row=2, column=7)
    assert spanish.value.startswith("=Ana · Marzo 2025 · ") and spanish.data_type == "s"
    assert WON not in spanish.value and "2025-03" not in spanish.value
