"""Earning and spending points; every change is audited in its transaction."""

from __future__ import annotations

import logging

import peewee as pw

from cartera_loyalty.models import Award
from portal.core import audit
from portal.core.models import Activity, Client, User
from portal.database import db
from portal.i18n import UserError

logger = logging.getLogger(__name__)

# What logging each kind of activity with a client is worth; notes earn nothing.
POINTS = {"visit": 10, "call": 5, "email": 2}


def balance(client_id: int) -> int:
    total = (
        Award.select(pw.fn.COALESCE(pw.fn.SUM(Award.points), 0))
        .where(Award.client == client_id)
        .scalar()
    )
    return int(total)


def award_for(activity_id: int, actor_id: int | None) -> Award | None:
    """Credit the client of a logged activity with what its kind is worth.

    Called after the activity is committed; an activity already credited, or
    gone since, earns nothing.
    """
    activity = Activity.get_or_none(Activity.id == activity_id)
    if activity is None or POINTS.get(activity.kind, 0) == 0:
        return None
    actor = User.get_or_none(User.id == actor_id) if actor_id else None
    points = POINTS[activity.kind]
    with db.atomic():
        if Award.select().where(Award.activity == activity_id).exists():
            return None
        award = Award.create(
            client=activity.client_id,
            activity=activity_id,
            points=points,
            reason=activity.kind,
            awarded_by=actor,
        )
        audit.record(
            "loyalty.points.awarded",
            actor=actor,
            target=activity.client,
            after={"points": points, "activity": activity_id},
        )
    logger.info("client %s earned %s points", activity.client_id, points)
    return award


def redeem(client: Client, points_text: str, actor: User, ip: str = "") -> Award:
    """Spend points of `client`; raise `UserError` when they are not there to spend."""
    try:
        points = int(points_text.strip())
    except ValueError:
        raise UserError("Write a whole number of points.") from None
    if points <= 0:
        raise UserError("Write a whole number of points.")
    with db.atomic():
        # Read the balance inside the transaction that spends it.
        available = balance(client.id)
        if points > available:
            raise UserError("The client has only %(n)s points.", n=available)
        award = Award.create(client=client, points=-points, reason="redeemed", awarded_by=actor)
        audit.record(
            "loyalty.points.redeemed",
            actor=actor,
            target=client,
            before={"balance": available},
            after={"balance": available - points},
            ip=ip,
        )
    return award
