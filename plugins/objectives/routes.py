"""The objectives pages: where I stand, my team ranked, setting and splitting targets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import markupsafe
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plugins.objectives import targets
from plugins.objectives.access import MENU, Access
from plugins.objectives.chart import attainment_chart
from plugins.objectives.models import Objective
from plugins.objectives.periods import KIND_LABELS, KINDS, Period
from plugins.objectives.standing import Figures, Standing, rank, stand
from portal.core.reports import COUNT, DailyTotal, Measure, Sources, daily_totals
from portal.i18n import N_, current_language, format_amount, local_today
from portal.i18n import gettext as _
from portal.text import parse_id
from portal.web.contributions import render_panel
from portal.web.rendering import grants_of, render, see_other
from portal.web.requests import client_ip, form_values, permission_required, scope_of

# The "Objectives" entry of the menu is also the key that opens every page.
menu_required = permission_required(MENU)
# The home widget's title, on the home page and on the widget opened as a page.
WIDGET_TITLE = N_("Objectives")


def _access(request: Request) -> Access:
    found = getattr(request.state, "objectives_access", None)
    if found is None:
        found = Access(request.state.user, scope_of(request), grants_of(request))
        request.state.objectives_access = found
    return found


def _sources(request: Request) -> Sources:
    return request.app.state.report_sources


def _measure(sources: Sources, key: str) -> Measure:
    # A measure whose plugin was disabled still names its objectives.
    return sources.measure(key) or Measure(key, key)


def _charts(request: Request) -> Callable[..., markupsafe.Markup]:
    """Draws the attainment chart of a standing, in the portal's currency."""
    currency = request.app.state.settings.currency

    def chart(standing: Standing, *, compact: bool = False) -> markupsafe.Markup:
        return attainment_chart(
            start=standing.period.start,
            end=standing.period.end,
            today=standing.today,
            target=standing.target,
            daily=standing.daily,
            unit=standing.measure.unit,
            locale=current_language.get(),
            compact=compact,
            currency=currency,
        )

    return chart


# -- reading -----------------------------------------------------------------------


def _who(objective: Objective, access: Access, profiles: dict[int, str]) -> str:
    if objective.user_id is not None:
        return access.team().name.get(objective.user_id, "?")
    return profiles.get(objective.profile_id, "?")


def _period_filter(period: Period | None, today: date) -> object:
    """Objectives of `period`, or of every period that contains today."""
    chosen = [period] if period else [Period.containing(kind, today) for kind in KINDS]
    condition = None
    for one in chosen:
        part = (Objective.period == one.kind) & (Objective.starts_on == one.start)
        condition = part if condition is None else condition | part
    return condition


def board(
    access: Access,
    sources: Sources,
    period: Period | None,
    metric: str,
    today: date,
    *,
    everyone: bool = False,
    mine_only: bool = False,
) -> dict:
    """Everything the page (and the widget) shows, in a fixed number of queries.

    The team is the people one level down (each rolled up with their own
    team) unless `everyone` asks for every person below, at any depth.
    """
    me = access.user.id
    query = Objective.select().where(access.condition() & _period_filter(period, today))
    if mine_only:
        query = query.where(Objective.user == me)
    objectives = list(query.order_by(Objective.starts_on, Objective.id))
    mine = [o for o in objectives if o.user_id == me and not access.assists]
    others = [o for o in objectives if o.user_id != me and (not metric or o.metric == metric)]
    team = access.team()
    if not everyone:
        direct = _direct_profiles(access)
        others = [o for o in others if (o.profile_id or team.profile_of.get(o.user_id)) in direct]
    shown = mine + others
    figures = Figures(_totals(access, sources, shown, today))
    profiles = access.profile_names({o.profile_id for o in others if o.profile_id})

    def standing(objective: Objective, daily: bool) -> Standing:
        who = _who(objective, access, profiles)
        measure = _measure(sources, objective.metric)
        return stand(objective, who, measure, team, figures, today, daily=daily)

    # Each person's curve unfolds on the page: the daily figures are at hand.
    ranked = rank((standing(o, True) for o in others), [m.key for m in sources.measures()])
    return {
        "mine": [standing(o, True) for o in mine],
        "team": ranked,
        "today": today,
        "drift": targets.drift(shown),
    }


def _totals(
    access: Access, sources: Sources, shown: list[Objective], today: date
) -> list[DailyTotal]:
    """Each measure over the days its objectives cover up to today, and no further.

    Measures sharing a span are asked together, so the number of queries
    depends on the periods shown (three at most by default), never on people.
    A period not begun yet has nothing done: it asks for nothing.
    """
    spans: dict[str, tuple[date, date]] = {}
    for objective in shown:
        period = Period(objective.period, objective.starts_on)
        last = min(period.end, today)
        if last < period.start:
            continue
        start, end = spans.get(objective.metric, (period.start, last))
        spans[objective.metric] = (min(start, period.start), max(end, last))
    by_span: dict[tuple[date, date], list[str]] = {}
    for metric, span in spans.items():
        by_span.setdefault(span, []).append(metric)
    rows: list[DailyTotal] = []
    for (start, end), metrics in sorted(by_span.items()):
        rows.extend(daily_totals(sources, access.scope, start, end, metrics))
    return rows


def _direct_profiles(access: Access) -> set[int]:
    """The profiles one level down; for who sees everything, the tree's top too.

    An assistant's first level is the profile it serves, its manager's.
    """
    tree = access.scope.tree
    if access.assists:
        served = tree.parent.get(access.user.profile_id)
        return {served} if served is not None else set()
    below = set(tree.children.get(access.user.profile_id, ()))
    if access.everything:
        below |= set(tree.children.get(None, ())) - {access.user.profile_id}
    return below


def _period_choices(access: Access, today: date) -> list[tuple[str, str]]:
    """Current periods first, then every past or future one holding an objective."""
    current = [Period.containing(kind, today) for kind in KINDS]
    held = (
        Objective.select(Objective.period, Objective.starts_on)
        .where(access.condition())
        .distinct()
        .tuples()
    )
    others = {Period(kind, start) for kind, start in held} - set(current)
    ordered = sorted(others, key=lambda p: (p.start, -p.months), reverse=True)
    return [(p.token, p.label()) for p in [*current, *ordered]]


@menu_required
async def index(request: Request) -> Response:
    access = _access(request)
    sources = _sources(request)
    today = local_today()
    chosen = request.query_params.get("period", "")
    period = Period.parse(chosen) if chosen else None
    metric = request.query_params.get("metric", "")
    if sources.measure(metric) is None:
        metric = ""
    everyone = request.query_params.get("team") == "all"
    context = {
        **board(access, sources, period, metric, today, everyone=everyone),
        "everyone": everyone,
        "period_choices": _period_choices(access, today),
        "chosen_period": period.token if period else "",
        "metric": metric,
        "measures": [(m.key, m.label) for m in sources.measures()],
        "access": access,
        "chart": _charts(request),
        "kind_labels": KIND_LABELS,
    }
    return render(request, "objectives/index.html", context, block="results")


@menu_required
async def widget(request: Request) -> Response:
    access = _access(request)
    context = {
        **board(access, _sources(request), None, "", local_today(), mine_only=True),
        "chart": _charts(request),
    }
    # The home page fetches the fragment; without JavaScript its link opens a page.
    return render_panel(request, "objectives/widget.html", context, title=WIDGET_TITLE)


# -- changing ----------------------------------------------------------------------


def _period_options(
    today: date, kept: Period | None = None
) -> list[tuple[str, list[tuple[str, str]]]]:
    """Last year, this year and next, grouped by kind, for the form's select.

    An objective being changed keeps its own period among them.
    """
    groups = []
    for kind in KINDS:
        periods = [kept] if kept is not None and kept.kind == kind else []
        for year in targets.offered(today):
            day = date(year, 1, 1)
            while day.year == year:
                period = Period.containing(kind, day)
                if period != kept:
                    periods.append(period)
                day = period.end + timedelta(days=1)
        periods.sort()
        groups.append((KIND_LABELS[kind], [(p.token, p.label()) for p in periods]))
    return groups


def _form(
    request: Request,
    form: dict[str, str],
    errors: dict[str, str],
    objective: Objective | None = None,
) -> Response:
    access = _access(request)
    context = {
        "form": form,
        "errors": errors,
        "objective": objective,
        "drift": targets.drift([objective]) if objective else {},
        "unit": _measure(_sources(request), objective.metric).unit if objective else "",
        "people": access.people_to_set(),
        "profiles": access.profiles_to_set(),
        "periods": _period_options(
            local_today(), Period(objective.period, objective.starts_on) if objective else None
        ),
        "measures": [(m.key, m.label) for m in _sources(request).measures()],
    }
    status = 400 if errors else 200
    return render(request, "objectives/form.html", context, status_code=status)


def _name_of(access: Access, values: targets.Values) -> str:
    if values.user_id is not None:
        return access.team().name.get(values.user_id, "?")
    return access.profile_names({values.profile_id or 0}).get(values.profile_id or 0, "?")


@menu_required
async def new(request: Request) -> Response:
    access = _access(request)
    if not access.manages:
        raise HTTPException(403, _("Your profile does not include setting objectives."))
    if request.method == "GET":
        form = {
            "who": request.query_params.get("who", ""),
            "period": Period.containing("month", local_today()).token,
        }
        return _form(request, form, {})
    raw = await form_values(request)
    values = targets.read_form(raw, access, _sources(request), local_today())
    if isinstance(values, dict):
        return _form(request, raw, values)
    user = request.state.user
    done = targets.create(values, _name_of(access, values), user, client_ip(request))
    if isinstance(done, dict):
        return _form(request, raw, done)
    return see_other(f"/objectives?period={values.period.token}")


def _objective(request: Request, *, splitting: bool = False) -> Objective:
    """The objective in the URL if the viewer sees it (404) and may set it (403)."""
    access = _access(request)
    objective = access.objective_or_none(request.path_params["objective_id"])
    if objective is None:
        raise HTTPException(404)
    allowed = access.may_split(objective) if splitting else access.may_manage(objective)
    if not allowed:
        raise HTTPException(403, _("Your profile does not include setting this objective."))
    return objective


def _as_form(objective: Objective) -> dict[str, str]:
    who = f"user:{objective.user_id}" if objective.user_id else f"profile:{objective.profile_id}"
    return {
        "who": who,
        "period": Period(objective.period, objective.starts_on).token,
        "metric": objective.metric,
        # As the user writes numbers, so that saving unchanged reads it back.
        "target": format_amount(objective.target),
    }


@menu_required
async def edit(request: Request) -> Response:
    objective = _objective(request)
    if request.method == "GET":
        return _form(request, _as_form(objective), {}, objective)
    access = _access(request)
    raw = await form_values(request)
    kept = Period(objective.period, objective.starts_on)
    values = targets.read_form(raw, access, _sources(request), local_today(), kept)
    if isinstance(values, dict):
        return _form(request, raw, values, objective)
    was = _name_of(access, targets.current(objective))
    who = _name_of(access, values)
    done = targets.change(objective, values, who, was, request.state.user, client_ip(request))
    if isinstance(done, dict):
        return _form(request, raw, done, objective)
    return see_other(f"/objectives?period={values.period.token}")


@menu_required
async def delete(request: Request) -> Response:
    objective = _objective(request)
    access = _access(request)
    who = _name_of(access, targets.current(objective))
    period = Period(objective.period, objective.starts_on)
    if request.method == "GET":
        context = {
            "objective": objective,
            "who": who,
            "period": period,
            "measure": _measure(_sources(request), objective.metric),
        }
        return render(request, "objectives/delete.html", context)
    targets.delete(objective, who, request.state.user, client_ip(request))
    return see_other(f"/objectives?period={period.token}")


def _confirmed(raw: dict[str, str]) -> frozenset[int]:
    """The ids of the objectives the user ticked the box to replace, as the page listed them."""
    if raw.get("confirm") != "on":
        return frozenset()
    ids = (parse_id(part) for part in raw.get("replacing", "").split(","))
    return frozenset(found for found in ids if found is not None)


@menu_required
async def split(request: Request) -> Response:
    objective = _objective(request, splitting=True)
    access = _access(request)
    team = access.team()
    people = [p for p in team.directly_below(objective) if access.may_set_user(p)]
    measure = _measure(_sources(request), objective.metric)
    period = Period(objective.period, objective.starts_on)
    even = targets.even_shares(objective, people, measure.unit)
    errors: dict[str, str] = {}
    form = {f"share-{p}": format_amount(share) for p, share in even.items()}
    replacing: list[Objective] | None = None
    asked = False
    if request.method == "POST":
        raw = await form_values(request)
        shares = targets.read_shares(raw, objective, people, measure.unit)
        if all(isinstance(v, Decimal) for v in shares.values()):
            names = {p: team.name[p] for p in people}
            typed = {p: Decimal(v) for p, v in shares.items()}
            done = targets.split(
                objective,
                typed,
                names,
                request.state.user,
                client_ip(request),
                visible=access.condition(),
                confirmed=_confirmed(raw),
            )
            if not isinstance(done, targets.Unconfirmed):
                query = urlencode({"period": period.token, "metric": objective.metric})
                return see_other(f"/objectives?{query}")
            replacing, asked = done.replacing, True
        else:
            errors = {k: str(v) for k, v in shares.items()}
        # What was typed by hand stays; an even split leaves the even shares shown.
        if raw.get("mode") == "hand":
            form = raw
    if replacing is None:
        replacing = targets.replacing(objective, people, access.condition())
    listed = sorted(
        ((team.name.get(o.user_id, "?"), o) for o in replacing),
        key=lambda pair: (pair[0].casefold(), pair[1].id),
    )
    context = {
        "objective": objective,
        "who": _name_of(access, targets.current(objective)),
        "period": period,
        "measure": measure,
        "people": [(p, team.name[p]) for p in people],
        "form": form,
        "errors": errors,
        "is_count": measure.unit == COUNT,
        "drift": targets.drift([objective]),
        "replacing": listed,
        "replacing_ids": ",".join(str(o.id) for _name, o in listed),
        "asked": asked,
    }
    status = 400 if errors else 409 if asked else 200
    return render(request, "objectives/split.html", context, status_code=status)


routes = [
    Route("/objectives", index, methods=["GET"]),
    Route("/objectives/widget", widget, methods=["GET"]),
    Route("/objectives/new", new, methods=["GET", "POST"]),
    Route("/objectives/{objective_id:id}/edit", edit, methods=["GET", "POST"]),
    Route("/objectives/{objective_id:id}/delete", delete, methods=["GET", "POST"]),
    Route("/objectives/{objective_id:id}/split", split, methods=["GET", "POST"]),
]
