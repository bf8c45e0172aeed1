"""How the audit log names what the objectives plugin records.

Entries keep the stored keys (`metric`, `2026-11`, `3.00`) so they stay exact;
these labels only change how the audit page reads them, in the reader's language.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request

from plugins.objectives.periods import Period
from portal.core.audit_log import AuditLabels, shown
from portal.core.models import AuditEntry
from portal.i18n import N_, format_amount
from portal.i18n import gettext as _


def _period(value: Any, request: Request) -> str:
    period = Period.parse(str(value))
    return period.label() if period is not None else shown(value)


def _measure(value: Any, request: Request) -> str:
    measure = request.app.state.report_sources.measure(str(value))
    return _(measure.label) if measure is not None else shown(value)


def _amount(value: Any, request: Request) -> str:
    try:
        return format_amount(Decimal(str(value)))
    except InvalidOperation:
        return shown(value)


def _objective(entry: AuditEntry, request: Request) -> str:
    """`targets.label`'s "who · period · measure" with the period and measure in words.

    A label that is not of that shape (an erased person's, say) reads as stored.
    """
    parts = entry.object_label.rsplit(" · ", 2)
    period = Period.parse(parts[1]) if len(parts) == 3 else None
    if period is None:
        return entry.object_label
    who, _token, metric = parts
    return " · ".join((who, period.label(), _measure(metric, request)))


LABELS = AuditLabels(
    area="objectives",
    actions={
        "objectives.objective.created": N_("Objective set"),
        "objectives.objective.changed": N_("Objective changed"),
        "objectives.objective.deleted": N_("Objective deleted"),
        "objectives.objective.split": N_("Objective split"),
    },
    object_types={"objectives_objective": N_("Objective")},
    fields={
        "who": N_("For"),
        "period": N_("Period"),
        "metric": N_("Measure"),
        "target": N_("Target"),
        "parent": N_("Split from"),
    },
    values={"period": _period, "metric": _measure, "target": _amount},
    objects={"objectives_objective": _objective},
)
