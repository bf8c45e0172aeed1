"""The core's purchases: won opportunities, given through the hook plugins use.

`portal.plugins.build_manager` registers this module like any plugin, so the
client page gathers every source of sales in one way (`client_sales`).
"""

from __future__ import annotations

from portal.core.lifecycle import Sale, WonOpportunity
from portal.core.models import Opportunity
from portal.hookspecs import hookimpl
from portal.i18n import gettext as _


@hookimpl
def client_sales(client_id: int) -> list[Sale]:
    """Each won opportunity with a closing date, on that date, for its amount."""
    query = (
        Opportunity.select(
            Opportunity.id, Opportunity.title, Opportunity.amount, Opportunity.closed_on
        )
        .where(
            (Opportunity.client == client_id)
            & (Opportunity.status == "won")
            & Opportunity.closed_on.is_null(False)
        )
        .order_by(Opportunity.closed_on, Opportunity.id)
    )
    return [
        WonOpportunity(
            day=row.closed_on,
            amount=row.amount,
            source=_("Won opportunity: %(title)s", title=row.title),
            opportunity_id=row.id,
        )
        for row in query
    ]
