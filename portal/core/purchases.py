"""The core's purchases: won opportunities, given through the hook plugins use.

`portal.plugins.build_manager` registers this module like any plugin, so the
client page gathers every source of sales in one way (`client_sales`).
"""

from __future__ import annotations

import logging

import pluggy

from portal.core.lifecycle import Sale, WonOpportunity
from portal.core.models import Opportunity
from portal.hookspecs import hookimpl
from portal.i18n import gettext as _

logger = logging.getLogger(__name__)


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


def gather(hook: pluggy.HookCaller, **kwargs: object) -> tuple[list[Sale], bool]:
    """Every source's sales, and whether any source failed.

    A failing plugin is logged with its name and left out, so the client page
    still opens; the page then says its figures may be incomplete.
    """
    sales: list[Sale] = []
    failed = False
    # pluggy calls the last registered first; keep its order.
    for impl in reversed(hook.get_hookimpls()):
        try:
            answer = impl.function(*(kwargs[name] for name in impl.argnames))
        except Exception:
            logger.exception("plugin %r failed in %s", impl.plugin_name, hook.name)
            failed = True
            continue
        sales.extend(answer or ())
    return sales, failed
