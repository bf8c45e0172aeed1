"""Days off: working-day arithmetic, balances, approval chains and the request flow.

A request walks the approval chain of the requester's profile one step at a
time: each step's approvers are notified, any of them may approve (the request
moves on; the last approval grants it) or reject (the request ends). The chain
is copied onto the request when it is made, so editing a profile's chain later
never reroutes requests already on their way.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import peewee as pw

from portal.core import audit, notifications
from portal.core.models import (
    HALF_DAYS,
    ApprovalStep,
    Profile,
    User,
    VacationDecision,
    VacationRequest,
)
from portal.core.notifications import Note
from portal.database import db, utcnow
from portal.i18n import N_, current_zone, format_date, format_number
from portal.i18n import gettext as _
from portal.text import clean, parse_id

WHOLE = Decimal(1)
HALF = Decimal("0.5")
OPEN = ("pending", "approved")
COMMENT_LIMIT = 1000

ASKED = N_("%(name)s asks for days off from %(start)s to %(end)s.")
APPROVED = N_("%(name)s approved your days off from %(start)s to %(end)s.")
REJECTED = N_("%(name)s rejected your days off from %(start)s to %(end)s.")
CANCELLED = N_("%(name)s cancelled the days off from %(start)s to %(end)s.")


class NoApprover(Exception):
    """Some step of the chain resolves to nobody but the requester."""


# ---------------------------------------------------------------- arithmetic


def is_working_day(day: date) -> bool:
    # TODO: public holidays (national, regional and local calendars differ in
    # Spain and Latin America); needs a holiday table per company or per zone,
    # which no issue has asked for yet. Until then only weekends are free.
    return day.weekday() < 5


def day_weights(start: date, end: date, first_half: str, last_half: str) -> Iterator[tuple]:
    """(day, weight) for each working day: 1, or 0.5 for a half first/last day."""
    day = start
    while day <= end:
        if is_working_day(day):
            half = (day == start and first_half) or (day == end and last_half)
            yield day, HALF if half else WHOLE
        day += timedelta(days=1)


def count_days(start: date, end: date, first_half: str = "", last_half: str = "") -> Decimal:
    return sum((weight for _day, weight in day_weights(start, end, first_half, last_half)),
               Decimal(0))  # fmt: skip


def days_by_year(request: VacationRequest) -> dict[int, Decimal]:
    """A request's working days split by calendar year (it may cross New Year)."""
    years: dict[int, Decimal] = defaultdict(Decimal)
    for day, weight in day_weights(
        request.start, request.end, request.first_half, request.last_half
    ):
        years[day.year] += weight
    return dict(years)


@dataclass(frozen=True)
class Balance:
    year: int
    allowance: Decimal
    approved: Decimal
    pending: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.allowance - self.approved - self.pending


def balance(user: User, year: int, *, excluding: int | None = None) -> Balance:
    """The user's allowance for `year` minus approved and pending days in it."""
    query = VacationRequest.select().where(
        VacationRequest.user == user.id,
        VacationRequest.status.in_(OPEN),
        VacationRequest.start <= date(year, 12, 31),
        VacationRequest.end >= date(year, 1, 1),
    )
    if excluding is not None:
        query = query.where(VacationRequest.id != excluding)
    spent = {"approved": Decimal(0), "pending": Decimal(0)}
    for request in query:
        spent[request.status] += days_by_year(request).get(year, Decimal(0))
    return Balance(year, Decimal(user.vacation_days), spent["approved"], spent["pending"])


def today() -> date:
    """Today where the current user is (the company's zone by default)."""
    return datetime.now(ZoneInfo(current_zone.get())).date()


# ---------------------------------------------------------------- approvers


def chain_for(user: User) -> list[dict]:
    """The approval steps a new request of this user goes through.

    Without a chain of its own, a profile's requests go to the users of the
    parent profile; a step with nobody to ask falls to the administrators.
    """
    profile: Profile = user.profile
    parent_step = {"profile": profile.parent_id} if profile.parent_id else {"admins": True}
    steps = (
        ApprovalStep.select()
        .where(ApprovalStep.profile == profile.id)
        .order_by(ApprovalStep.position)
    )
    chain = [{"user": step.approver_id} if step.approver_id else parent_step for step in steps]
    return chain or [parent_step]


class Approvers:
    """Who may act on which step, from the active users read in one query."""

    def __init__(self) -> None:
        active = User.is_active == True  # noqa: E712
        rows = User.select(User.id, User.profile, User.is_admin).where(active)
        self.active = {row.id: row for row in rows}

    def of_step(self, step: dict, requester_id: int) -> set[int]:
        people = [row for row in self.active.values() if row.id != requester_id]
        if "user" in step:
            found = {row.id for row in people if row.id == step["user"]}
        elif "profile" in step:
            found = {row.id for row in people if row.profile_id == step["profile"]}
        else:
            found = set()
        return found or {row.id for row in people if row.is_admin}

    def of_request(self, request: VacationRequest) -> set[int]:
        if request.status != "pending":
            return set()
        steps = json.loads(request.steps)
        return self.of_step(steps[request.step], request.user_id)


def current_approvers(request: VacationRequest) -> list[User]:
    ids = Approvers().of_request(request)
    return list(User.select().where(User.id.in_(ids)).order_by(User.name)) if ids else []


def may_decide(request: VacationRequest, user: User) -> bool:
    return user.id in Approvers().of_request(request)


def waiting_for(user: User) -> list[VacationRequest]:
    """Pending requests whose current step this user may approve."""
    approvers = Approvers()
    pending = (
        VacationRequest.select(VacationRequest, User)
        .join(User, on=(VacationRequest.user == User.id))
        .where(VacationRequest.status == "pending")
        .order_by(VacationRequest.start, VacationRequest.id)
    )
    return [request for request in pending if user.id in approvers.of_request(request)]


# ---------------------------------------------------------------- requests


def delegate_choices(user: User) -> pw.SelectQuery:
    """Active colleagues who may own clients (assistants own none), not the user."""
    assistants = Profile.select(Profile.id).where(Profile.is_assistant == True)  # noqa: E712
    return (
        User.select()
        .where(
            User.is_active == True,  # noqa: E712
            User.id != user.id,
            User.profile.not_in(assistants),
        )
        .order_by(User.name, User.id)
    )


def _parse_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


MAX_SPAN_DAYS = 366


def validate(user: User, raw: dict[str, str], *, on: date) -> tuple[dict, dict[str, str]]:
    """Check a request form; `on` is today. Errors are keyed by field."""
    errors: dict[str, str] = {}
    start, end = _parse_date(raw.get("start", "")), _parse_date(raw.get("end", ""))
    if start is None:
        errors["start"] = _("Enter the first day (for example 2026-08-03).")
    elif start < on:
        errors["start"] = _("Days in the past cannot be requested.")
    if end is None:
        errors["end"] = _("Enter the last day (for example 2026-08-14).")
    elif start is not None and end < start:
        errors["end"] = _("The last day cannot be before the first.")
    elif start is not None and (end - start).days > MAX_SPAN_DAYS:
        # Checked before any counting: a request spans a year at most.
        errors["end"] = _("A request covers at most a year; split longer absences.")
    if start is not None and start > on + timedelta(days=2 * MAX_SPAN_DAYS):
        errors["start"] = _("Requests reach at most two years ahead.")

    first_half, last_half = raw.get("first_half", ""), raw.get("last_half", "")
    if first_half not in ("", *HALF_DAYS):
        errors["first_half"] = _("Choose one of the options.")
    if last_half not in ("", *HALF_DAYS):
        errors["last_half"] = _("Choose one of the options.")
    several = start is not None and end is not None and end > start
    if several and first_half == "morning":
        errors["first_half"] = _("When you take several days, the first can only be whole "
                                 "or its afternoon.")  # fmt: skip
    if several and last_half == "afternoon":
        errors["last_half"] = _("When you take several days, the last can only be whole "
                                "or its morning.")  # fmt: skip
    if not several:
        last_half = ""

    delegate = None
    if raw.get("delegate"):
        key = parse_id(raw["delegate"])
        delegate = delegate_choices(user).where(User.id == key).first() if key else None
        if delegate is None:
            errors["delegate"] = _("Choose one of the options.")
    comment = clean(raw.get("comment", ""))
    if len(comment) > COMMENT_LIMIT:
        errors["comment"] = _("At most %(n)s characters.", n=COMMENT_LIMIT)

    values = {
        "start": start,
        "end": end,
        "first_half": first_half,
        "last_half": last_half,
        "delegate": delegate,
        "comment": comment,
    }
    if errors or start is None or end is None:
        return values, errors
    values["days"] = count_days(start, end, first_half, last_half)
    if not values["days"]:
        errors["end"] = _("These dates hold no working days.")
        return values, errors
    overlap = (
        VacationRequest.select()
        .where(
            VacationRequest.user == user.id,
            VacationRequest.status.in_(OPEN),
            VacationRequest.start <= end,
            VacationRequest.end >= start,
        )
        .order_by(VacationRequest.start)
        .first()
    )
    if overlap is not None:
        errors["start"] = _(
            "You already asked for days off from %(start)s to %(end)s.",
            start=format_date(overlap.start),
            end=format_date(overlap.end),
        )
        return values, errors
    probe = VacationRequest(start=start, end=end, first_half=first_half, last_half=last_half)
    for year, needed in sorted(days_by_year(probe).items()):
        left = balance(user, year).remaining
        if needed > left:
            errors["end"] = _(
                "This takes %(needed)s days of %(year)s and you have %(left)s left.",
                needed=format_number(needed),
                year=year,
                left=format_number(max(left, Decimal(0))),
            )
            break
    return values, errors


def _about(request: VacationRequest, name: str) -> dict[str, str]:
    return {"name": name, "start": request.start.isoformat(), "end": request.end.isoformat()}


def _label(request: VacationRequest, user: User) -> str:
    return f"{user.name}: {request.start.isoformat()} – {request.end.isoformat()}"


def url_of(request: VacationRequest) -> str:
    return f"/vacations/{request.id}"


def submit(user: User, values: dict, *, ip: str = "") -> tuple[VacationRequest, list[Note]]:
    """Record a validated request and notify its first approvers; one transaction."""
    steps = chain_for(user)
    approvers = Approvers()
    if any(not approvers.of_step(step, user.id) for step in steps):
        raise NoApprover
    with db.atomic():
        request = VacationRequest.create(user=user, steps=json.dumps(steps), **values)
        audit.record(
            "vacations.requested",
            actor=user,
            target=request,
            label=_label(request, user),
            after={
                "start": request.start,
                "end": request.end,
                "first_half": request.first_half,
                "last_half": request.last_half,
                "days": request.days,
                "delegate": request.delegate,
            },
            ip=ip,
        )
        notes = [
            Note(person, ASKED, _about(request, user.name), url_of(request))
            for person in current_approvers(request)
        ]
        notifications.notify(notes, kind="vacations.requested")
    return request, notes


class Conflict(Exception):
    """Someone else acted on the request first."""


def decide(
    request: VacationRequest, approver: User, approve: bool, comment: str, *, ip: str = ""
) -> list[Note]:
    """Approve (move on, or grant at the last step) or reject; one transaction."""
    steps = json.loads(request.steps)
    requester: User = request.user
    last = request.step + 1 >= len(steps)
    if not approve:
        changes = {"status": "rejected", "decided_at": utcnow()}
    elif last:
        changes = {"status": "approved", "decided_at": utcnow()}
    else:
        changes = {"step": request.step + 1}
    with db.atomic():
        moved = (
            VacationRequest.update(**changes)
            .where(
                VacationRequest.id == request.id,
                VacationRequest.status == "pending",
                VacationRequest.step == request.step,
            )
            .execute()
        )
        if not moved:
            raise Conflict
        VacationDecision.create(
            request=request,
            step=request.step,
            approver=approver,
            outcome="approved" if approve else "rejected",
            comment=comment,
        )
        before = {"status": request.status, "step": request.step}
        for name, value in changes.items():
            setattr(request, name, value)
        audit.record(
            "vacations.approved" if approve else "vacations.rejected",
            actor=approver,
            target=request,
            label=_label(request, requester),
            before=before,
            after={"status": request.status, "step": request.step, "comment": comment},
            ip=ip,
        )
        if request.status == "pending":
            notes = [
                Note(person, ASKED, _about(request, requester.name), url_of(request))
                for person in current_approvers(request)
            ]
        else:
            text = APPROVED if approve else REJECTED
            # The approver's words travel with the outcome (portal/core/notifications.py
            # quotes them), so a rejection's reason needs no second click.
            values = _about(request, approver.name)
            if comment:
                values[notifications.COMMENT_VALUE] = comment
            notes = [Note(requester, text, values, url_of(request))]
        kind = "requested" if request.status == "pending" else request.status
        notifications.notify(notes, kind=f"vacations.{kind}")
    return notes


def may_cancel(request: VacationRequest, user: User, *, on: date) -> bool:
    """The requester may withdraw a pending request, or an approved one not yet begun."""
    if request.user_id != user.id:
        return False
    return request.status == "pending" or (request.status == "approved" and request.start > on)


def cancel(request: VacationRequest, user: User, *, ip: str = "") -> list[Note]:
    """Withdraw the request and tell whoever was or is deciding it; one transaction."""
    if request.status == "pending":
        told = current_approvers(request)
    else:
        told = list(
            User.select()
            .join(VacationDecision, on=(VacationDecision.approver == User.id))
            .where(VacationDecision.request == request.id, VacationDecision.outcome == "approved")
            .distinct()
        )
    with db.atomic():
        moved = (
            VacationRequest.update(status="cancelled", decided_at=utcnow())
            .where(VacationRequest.id == request.id, VacationRequest.status == request.status)
            .execute()
        )
        if not moved:
            raise Conflict
        audit.record(
            "vacations.cancelled",
            actor=user,
            target=request,
            label=_label(request, user),
            before={"status": request.status},
            after={"status": "cancelled"},
            ip=ip,
        )
        # Approvers who had not decided yet may no longer open it: no link for them.
        link = url_of(request) if request.status == "approved" else ""
        notes = [
            Note(person, CANCELLED, _about(request, user.name), link)
            for person in told
            if person.id != user.id
        ]
        request.status = "cancelled"
        notifications.notify(notes, kind="vacations.cancelled")
    return notes


# ---------------------------------------------------------------- chains


def chain_rows(profile: Profile) -> list[ApprovalStep]:
    """The profile's steps with their approvers, the deactivated ones included."""
    return list(
        ApprovalStep.select(ApprovalStep, User)
        .join(User, pw.JOIN.LEFT_OUTER, on=(ApprovalStep.approver == User.id))
        .where(ApprovalStep.profile == profile.id)
        .order_by(ApprovalStep.position)
    )


def departed(steps: list[ApprovalStep]) -> list[tuple[int, User]]:
    """(step number, person) where a step names someone deactivated; `Approvers.of_step`
    sends such a step to the administrators."""
    return [
        (number, step.approver)
        for number, step in enumerate(steps, start=1)
        if step.approver_id and not step.approver.is_active
    ]


def chains_naming(user: User) -> list[Profile]:
    """The profiles whose requests reach this user at some step of their chain.

    A step names the user, or asks the profile above (a "parent" step, or no
    chain at all) when the user is the only active person holding it: then,
    once the user is deactivated, those requests go to the administrators.
    """
    named = ApprovalStep.select(ApprovalStep.profile).where(ApprovalStep.approver == user.id)
    wanted = Profile.id.in_(named)
    if _alone_in_profile(user):
        chained = ApprovalStep.select(ApprovalStep.profile)
        asks_parent = ApprovalStep.select(ApprovalStep.profile).where(
            ApprovalStep.approver.is_null()
        )
        below = Profile.parent == user.profile_id
        wanted |= below & (Profile.id.not_in(chained) | Profile.id.in_(asks_parent))
    return list(Profile.select().where(wanted).order_by(Profile.name, Profile.id))


def _alone_in_profile(user: User) -> bool:
    others = User.select().where(
        User.profile == user.profile_id,
        User.is_active == True,  # noqa: E712
        User.id != user.id,
    )
    return user.profile_id is not None and not others.exists()


def describe_chain(steps: list[ApprovalStep]) -> list[str]:
    """Steps as the audit log keeps them: a user's email, or "parent"."""
    return [step.approver.email if step.approver_id else "parent" for step in steps]


def save_chain(profile: Profile, approvers: list[User | None], *, actor: User, ip: str) -> bool:
    """Replace the profile's chain (None = head of the profile above); audited."""
    before = describe_chain(chain_rows(profile))
    after = [person.email if person else "parent" for person in approvers]
    if before == after:
        return False
    with db.atomic():
        ApprovalStep.delete().where(ApprovalStep.profile == profile.id).execute()
        for position, person in enumerate(approvers, start=1):
            ApprovalStep.create(profile=profile, position=position, approver=person)
        audit.record(
            "profiles.approvals.changed",
            actor=actor,
            target=profile,
            before={"steps": before},
            after={"steps": after},
            ip=ip,
        )
    return True
