"""Vacations: requests and balance, decisions, the team calendar, notifications,
and the two administration pages they need (approval chains, allowances).

Approvers need no menu key to act: being named by the requester's approval
chain is what entitles them, so the email link and the "Waiting for you" list
on /vacations work for them whatever their profile holds. The "To approve"
entry (menu.vacations.approvals) only adds a page with their past decisions.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal, InvalidOperation

from babel import dates
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import absences, audit, notifications, vacations
from portal.core import people as user_reach
from portal.core import profiles as profile_reach
from portal.core.models import (
    HALF_DAYS,
    Profile,
    User,
    VacationDecision,
    VacationRequest,
)
from portal.database import db
from portal.i18n import current_language
from portal.i18n import gettext as _
from portal.text import clean, parse_id
from portal.web.rendering import render, see_other
from portal.web.requests import (
    client_ip,
    form_values,
    login_required,
    permission_required,
    scope_of,
)

MAX_ALLOWANCE = Decimal(366)
MAX_STEPS = 10
PAST_DECISIONS = 50


# ---------------------------------------------------------------- requests


@permission_required("menu.vacations")
async def overview(request: Request) -> Response:
    user: User = request.state.user
    year = vacations.today().year
    mine = list(
        VacationRequest.select()
        .where(VacationRequest.user == user.id)
        .order_by(VacationRequest.start.desc(), VacationRequest.id.desc())
        .limit(100)
    )
    context = {
        "balances": [vacations.balance(user, year), vacations.balance(user, year + 1)],
        "mine": mine,
        "waiting": vacations.waiting_for(user),
        "sent": request.query_params.get("sent") == "1",
    }
    return render(request, "vacations/overview.html", context)


def _request_form(
    request: Request, raw: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> Response:
    user: User = request.state.user
    context = {
        "form": raw,
        "errors": errors,
        "halves": HALF_DAYS,
        "delegates": list(vacations.delegate_choices(user)),
        "balances": [vacations.balance(user, vacations.today().year)],
    }
    return render(request, "vacations/form.html", context, status_code=status_code)


@permission_required("menu.vacations")
async def request_new(request: Request) -> Response:
    if request.method == "GET":
        return _request_form(request, {}, {})
    user: User = request.state.user
    raw = await form_values(request)
    values, errors = vacations.validate(user, raw, on=vacations.today())
    if errors:
        return _request_form(request, raw, errors, 400)
    try:
        created, _notes = vacations.submit(user, values, ip=client_ip(request))
    except vacations.NoApprover:
        errors["form"] = _(
            "Nobody can approve this request yet: ask an administrator to set the "
            "approval chain of your profile."
        )
        return _request_form(request, raw, errors, 400)
    return see_other(f"/vacations/{created.id}?sent=1")


def _request_or_404(request: Request) -> VacationRequest:
    found = VacationRequest.get_or_none(VacationRequest.id == request.path_params["request_id"])
    if found is None:
        raise HTTPException(404)
    return found


@login_required
async def request_detail(request: Request) -> Response:
    """The request for its requester, its current approvers and whoever decided it."""
    user: User = request.state.user
    shown = _request_or_404(request)
    decisions = list(
        VacationDecision.select(VacationDecision, User)
        .join(User)
        .where(VacationDecision.request == shown.id)
        .order_by(VacationDecision.at, VacationDecision.id)
    )
    deciding = vacations.may_decide(shown, user)
    involved = shown.user_id == user.id or any(d.approver_id == user.id for d in decisions)
    if not (deciding or involved):
        raise HTTPException(404)
    context = {
        "shown": shown,
        "decisions": decisions,
        "deciding": deciding,
        "approvers": vacations.current_approvers(shown),
        "cancellable": vacations.may_cancel(shown, user, on=vacations.today()),
        "sent": request.query_params.get("sent") == "1",
        "form": {},
        "errors": {},
    }
    return render(request, "vacations/detail.html", context)


@login_required
async def request_decide(request: Request) -> Response:
    user: User = request.state.user
    shown = _request_or_404(request)
    if not vacations.may_decide(shown, user):
        raise HTTPException(404)
    raw = await form_values(request)
    approve = raw.get("outcome") == "approve"
    comment = clean(raw.get("comment", ""))
    errors = {}
    if raw.get("outcome") not in ("approve", "reject"):
        errors["comment"] = _("Choose approve or reject.")
    elif not approve and not comment:
        errors["comment"] = _("Say why you reject it; the requester will read it.")
    elif len(comment) > vacations.COMMENT_LIMIT:
        errors["comment"] = _("At most %(n)s characters.", n=vacations.COMMENT_LIMIT)
    if errors:
        context = {
            "shown": shown,
            "decisions": list(shown.decisions.order_by(VacationDecision.at)),
            "deciding": True,
            "approvers": vacations.current_approvers(shown),
            "cancellable": False,
            "sent": False,
            "form": raw,
            "errors": errors,
        }
        return render(request, "vacations/detail.html", context, status_code=400)
    try:
        vacations.decide(shown, user, approve, comment, ip=client_ip(request))
    except vacations.Conflict:
        raise HTTPException(404) from None
    return see_other(f"/vacations/{shown.id}")


@login_required
async def request_cancel(request: Request) -> Response:
    user: User = request.state.user
    shown = _request_or_404(request)
    if not vacations.may_cancel(shown, user, on=vacations.today()):
        raise HTTPException(404)
    if request.method == "GET":
        return render(request, "vacations/cancel.html", {"shown": shown})
    try:
        vacations.cancel(shown, user, ip=client_ip(request))
    except vacations.Conflict:
        raise HTTPException(404) from None
    return see_other(f"/vacations/{shown.id}")


@permission_required("menu.vacations.approvals")
async def approvals(request: Request) -> Response:
    user: User = request.state.user
    decided = list(
        VacationDecision.select(VacationDecision, VacationRequest, User)
        .join(VacationRequest)
        .join(User, on=(VacationRequest.user == User.id))
        .where(VacationDecision.approver == user.id)
        .order_by(VacationDecision.at.desc(), VacationDecision.id.desc())
        .limit(PAST_DECISIONS)
    )
    context = {"waiting": vacations.waiting_for(user), "decided": decided}
    return render(request, "vacations/approvals.html", context)


# ---------------------------------------------------------------- calendar


def _month(raw: str | None) -> date:
    """The first day of `YYYY-MM`, or of this month when absent or malformed."""
    if raw and len(raw) == 7 and raw[4] == "-":
        try:
            return date(int(raw[:4]), int(raw[5:]), 1)
        except ValueError:
            pass
    return vacations.today().replace(day=1)


def _shift(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_label(first: date) -> str:
    return dates.format_skeleton("yMMMM", first, locale=current_language.get())


def _day_label(day: date) -> str:
    return dates.format_skeleton("MMMEd", day, locale=current_language.get())


@permission_required("menu.vacations.calendar")
async def team_calendar(request: Request) -> Response:
    user: User = request.state.user
    first = _month(request.query_params.get("month"))
    if not 1900 < first.year < 9999:
        first = vacations.today().replace(day=1)
    # The viewer's own absences show too, though an assistant's scope leaves them out.
    people = User.select().where(
        User.id.in_(scope_of(request).users().select(User.id)) | (User.id == user.id)
    )
    names = dates.get_day_names("abbreviated", locale=current_language.get())
    context = {
        "first": first,
        "days": absences.month_days(people, first),
        "previous": _shift(first, -1),
        "next": _shift(first, 1),
        "today": vacations.today(),
        "month_label": _month_label,
        "day_label": _day_label,
        "weekday_names": [names[n] for n in range(7)],
    }
    return render(request, "vacations/calendar.html", context)


# ---------------------------------------------------------------- notifications


@login_required
async def notification_list(request: Request) -> Response:
    """The latest notes; opening the list marks them read (they stay highlighted once)."""
    user: User = request.state.user
    rows = notifications.recent(user)
    items = [(row, notifications.render_row(row)) for row in rows]
    notifications.mark_read(user)
    return render(request, "notifications.html", {"items": items})


# ---------------------------------------------------------------- administration


@permission_required("menu.admin.profiles")
async def profile_approvals(request: Request) -> Response:
    """Edit a profile's chain: one select per step, blank rows to add, blank to remove."""
    profile = Profile.get_or_none(Profile.id == request.path_params["profile_id"])
    if profile is None:
        raise HTTPException(404)
    if not profile_reach.Reach.of(request.state.user).may_change(profile.id):
        # The chain decides who approves: the same rule as editing the profile.
        raise HTTPException(403, _("You may change only the profiles below your own."))
    people = list(User.select().where(User.is_active == True).order_by(User.name))  # noqa: E712
    steps = vacations.chain_rows(profile)
    departed = vacations.departed(steps)
    # Someone deactivated stays on offer only where the chain names them already, so
    # saving other steps keeps theirs (it works again if they are reactivated).
    former = {person.id: person for _number, person in departed}
    chosen = [f"user:{s.approver_id}" if s.approver_id else "parent" for s in steps]
    errors: dict[str, str] = {}
    if request.method == "POST":
        raw = await form_values(request)
        chosen = [raw.get(f"step-{n}", "") for n in range(MAX_STEPS)]
        by_id = {person.id: person for person in people}
        # As many steps as name them now, wherever those steps move to: never more.
        left = Counter(person.id for _number, person in departed)
        approvers: list[User | None] = []
        for number, value in enumerate(chosen):
            key = parse_id(value[5:]) if value.startswith("user:") else None
            if value == "parent":
                approvers.append(None)
            elif key in by_id:
                approvers.append(by_id[key])
            elif key in former and left[key] > 0:
                left[key] -= 1
                approvers.append(former[key])
            elif value:
                errors[f"step-{number}"] = _("Choose one of the options.")
        if not errors:
            vacations.save_chain(
                profile, approvers, actor=request.state.user, ip=client_ip(request)
            )
            return see_other(f"/admin/profiles/{profile.id}/approvals?saved=1")
        while chosen and not chosen[-1]:
            chosen.pop()
    context = {
        "profile": profile,
        "people": people,
        "former": sorted(former.values(), key=lambda person: person.name),
        "departed": departed,
        "rows": [*chosen, "", ""][:MAX_STEPS],
        "errors": errors,
        "saved": request.query_params.get("saved") == "1",
    }
    status_code = 400 if errors else 200
    return render(request, "vacations/chain.html", context, status_code=status_code)


@permission_required("menu.admin.users")
async def user_allowance(request: Request) -> Response:
    """The yearly allowance of one user, for whoever may edit that user."""
    edited = user_reach.Reach(request.state.user).user_or_none(request.path_params["user_id"])
    if edited is None:
        raise HTTPException(404)
    raw = {"vacation_days": str(edited.vacation_days)}
    errors: dict[str, str] = {}
    if request.method == "POST":
        raw = await form_values(request)
        text = raw.get("vacation_days", "").strip().replace(",", ".")
        try:
            days = Decimal(text)
        except InvalidOperation:
            days = Decimal(-1)
        if not days.is_finite() or not 0 <= days <= MAX_ALLOWANCE or days * 2 % 1:
            errors["vacation_days"] = _(
                "A number of days between 0 and %(max)s, in whole or half days.",
                max=MAX_ALLOWANCE,
            )
        else:
            before = edited.vacation_days
            if days != before:
                with db.atomic():
                    User.update(vacation_days=days).where(User.id == edited.id).execute()
                    audit.record(
                        "users.vacation_days.changed",
                        actor=request.state.user,
                        target=edited,
                        before={"vacation_days": before},
                        after={"vacation_days": days},
                        ip=client_ip(request),
                    )
            return see_other(f"/admin/users/{edited.id}/vacation-days?saved=1")
    context = {
        "edited": edited,
        "form": raw,
        "errors": errors,
        "saved": request.query_params.get("saved") == "1",
    }
    status_code = 400 if errors else 200
    return render(request, "vacations/allowance.html", context, status_code=status_code)


routes = [
    Route("/vacations", overview, name="vacations"),
    Route("/vacations/new", request_new, methods=["GET", "POST"]),
    Route("/vacations/calendar", team_calendar),
    Route("/vacations/approvals", approvals),
    Route("/vacations/{request_id:id}", request_detail),
    Route("/vacations/{request_id:id}/decide", request_decide, methods=["POST"]),
    Route("/vacations/{request_id:id}/cancel", request_cancel, methods=["GET", "POST"]),
    Route("/notifications", notification_list),
    Route("/admin/profiles/{profile_id:id}/approvals", profile_approvals, methods=["GET", "POST"]),
    Route("/admin/users/{user_id:id}/vacation-days", user_allowance, methods=["GET", "POST"]),
]
