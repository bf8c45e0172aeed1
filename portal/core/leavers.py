"""People who leave: deactivation hands their work to a successor; reactivation."""

from __future__ import annotations

from portal import events
from portal.core import audit, sessions, tasks, tokens
from portal.core.models import AssignmentRuleUser, Client, Opportunity, User, WebForm
from portal.database import db, utcnow


def deactivate(leaver: User, successor: User, *, actor: User, ip: str = "") -> int:
    """Deactivate `leaver`; give their clients, open tasks and open opportunities to `successor`.

    The successor also becomes the fallback owner of the leaver's web forms, and
    the leaver leaves the lead assignment rules. Returns how many clients moved.
    Everything happens in one transaction: either the clients, tasks and deals
    have moved and the account is closed, or nothing changed. Past activity,
    done tasks and closed deals keep their person.
    """
    with db.atomic():
        # Closing the account first also locks its row (PostgreSQL), so a client
        # saved for the leaver meanwhile waits and is not left behind.
        User.update(is_active=False).where(User.id == leaver.id).execute()
        moved_ids = [
            client_id
            for (client_id,) in Client.select(Client.id)
            .where(Client.owner == leaver.id)
            .order_by(Client.id)
            .tuples()
        ]
        # The version bump makes anyone editing one of these clients meanwhile
        # reload it instead of saving the old owner back.
        moved = (
            Client.update(owner=successor.id, version=Client.version + 1, updated_at=utcnow())
            .where(Client.owner == leaver.id)
            .execute()
        )
        # Open deals go on with the clients; won and lost ones keep whose they were,
        # so the funnel still credits the leaver's results to them.
        deals = (
            Opportunity.update(owner=successor.id, updated_at=utcnow())
            .where(Opportunity.owner == leaver.id, Opportunity.status == "open")
            .execute()
        )
        # Contacts have no owner of their own: they belong to their client and follow it.
        tasks_moved = tasks.reassign(leaver, successor)
        # Web leads: a form whose fallback is the leaver would have nobody to give
        # its unplaced leads to; a rule left with nobody hands its leads to the
        # fallback, which is how it goes on working.
        forms_moved = (
            WebForm.update(fallback_owner=successor.id, updated_at=utcnow())
            .where(WebForm.fallback_owner == leaver.id)
            .execute()
        )
        rules_left = (
            AssignmentRuleUser.delete().where(AssignmentRuleUser.user == leaver.id).execute()
        )
        sessions.end_all_sessions(leaver.id)
        tokens.revoke_all(leaver.id)

        audit.record(
            "users.deactivated",
            actor=actor,
            target=leaver,
            before={"is_active": True},
            after={
                "is_active": False,
                "successor": successor.id,
                "successor_name": successor.name,
                "clients_moved": moved,
                "tasks_moved": tasks_moved,
                "opportunities_moved": deals,
                "lead_forms_moved": forms_moved,
                "lead_rules_left": rules_left,
            },
            ip=ip,
        )
        if moved:
            # One summary entry rather than one per client: a leaver may own
            # thousands of clients, and as many entries would bury the rest of
            # the log and slow this transaction. The ids keep it traceable.
            audit.record(
                "clients.owner.changed",
                actor=actor,
                target=leaver,
                label=f"{leaver.name} → {successor.name}",
                before={"owner": leaver.id},
                after={"owner": successor.id, "count": moved, "clients": moved_ids},
                ip=ip,
            )
            events.emit(
                "client_reassigned", client_ids=moved_ids, owner_id=successor.id, actor_id=actor.id
            )
        events.emit(
            "user_deactivated", user_id=leaver.id, successor_id=successor.id, actor_id=actor.id
        )
    return moved


def reactivate(user: User, *, actor: User, ip: str = "") -> None:
    """Let a former user log in again; their old clients stay with the successor."""
    with db.atomic():
        User.update(is_active=True).where(User.id == user.id).execute()
        audit.record(
            "users.reactivated",
            actor=actor,
            target=user,
            before={"is_active": False},
            after={"is_active": True},
            ip=ip,
        )
