"""The attainment chart: an objective, the pace that reaches it and the actual sum, in SVG.

The chart is inline markup (no script, no external file, no font) so it works with
JavaScript off and under the portal's content policy. Colours are presentation
attributes, which the policy allows and a stylesheet may override through the classes;
each line also has its own dash pattern so colour is never the only signal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

from markupsafe import Markup

from plugins.objectives.standing import percent as percent_of
from portal import i18n
from portal.i18n import gettext as _

# Drawing units. A phone column is ~300 px wide, so a 320-unit width keeps a 13-unit
# text at 12 px or more there.
WIDTH = 320  # the height grows with the legend's rows
PLOT = (10.0, 24.0, 310.0, 142.0)  # left, top, right, bottom
COMPACT_WIDTH, COMPACT_HEIGHT = 200, 48
COMPACT_PLOT = (2.0, 4.0, 198.0, 44.0)
LEGEND_TOP, LEGEND_ROW = 184, 20
LEGEND = ("actual", "pace", "target")

# Each series: colour (≥ 3:1 on white), dash pattern and width.
SERIES = {
    "actual": ("#0b5fad", "", 3),
    "pace": ("#5b6575", "6 4", 2),
    "target": ("#1f7a3a", "10 3 2 3", 2),
    "today": ("#8a5300", "2 3", 1.5),
    "axis": ("#aab2bf", "", 1),  # decoration only: the zero line
}
INK, MUTED = "#1d2430", "#5b6575"
CENTS = {"money": Decimal("0.01"), "count": Decimal("1")}


@dataclass(frozen=True)
class _Progress:
    """What the chart says, in numbers, before anything is drawn."""

    days: int  # in the period, ≥ 1
    elapsed: int  # days counted so far: 0 before the start, `days` after the end
    cumulative: list[Decimal]  # running sum at the end of each elapsed day, from 0
    target: Decimal
    expected: Decimal  # where the pace stands after `elapsed` days
    running: bool  # today lies inside the period

    @property
    def actual(self) -> Decimal:
        return self.cumulative[-1]


def attainment_chart(
    *,
    start: date,
    end: date,
    today: date,
    target: Decimal,
    daily: Mapping[date, Decimal],
    unit: str,
    locale: str,
    compact: bool = False,
    currency: str = "EUR",
) -> Markup:
    """The period's objective, expected pace and cumulative actual as an inline SVG.

    `daily` maps days to amounts (money in `currency`) or counts; days outside the
    period or after `today` are left out. `locale` ("es" or "en") words and formats
    the labels; callers pass the portal's currency (`Settings.currency`).
    """
    if unit not in CENTS:
        raise ValueError(f"unit must be one of {sorted(CENTS)}, not {unit!r}")
    if end < start:
        raise ValueError("the period ends before it starts")
    progress = _progress(start, end, today, target, daily, unit)
    # The portal's formatting helpers read the language of the request; the chart's
    # own `locale` stands in for it while the labels are written.
    token = i18n.current_language.set(locale)
    try:
        amount = partial(_amount, unit=unit, currency=currency)
        texts = _texts(progress, start, end, today, amount)
        return _svg(progress, texts, compact)
    finally:
        i18n.current_language.reset(token)


def _amount(value: Decimal, *, unit: str, currency: str) -> str:
    if unit == "money":
        return i18n.format_money(value, currency)
    return i18n.format_number(value)


def _progress(
    start: date, end: date, today: date, target: Decimal, daily: Mapping[date, Decimal], unit: str
) -> _Progress:
    days = (end - start).days + 1
    elapsed = max(0, min(days, (today - start).days + 1))
    cumulative = [Decimal(0)]
    for offset in range(elapsed):
        day = date.fromordinal(start.toordinal() + offset)
        cumulative.append(cumulative[-1] + Decimal(daily.get(day, 0)))
    expected = (target * elapsed / days).quantize(CENTS[unit], ROUND_HALF_UP)
    return _Progress(days, elapsed, cumulative, target, expected, start <= today <= end)


def _texts(
    progress: _Progress,
    start: date,
    end: date,
    today: date,
    amount: Callable[[Decimal], str],
) -> dict[str, str]:
    """Every sentence the chart shows or reads out, in the current language."""
    dates = {"start": i18n.format_date(start), "end": i18n.format_date(end)}
    texts = {"title": _("Objective from %(start)s to %(end)s", **dates)}
    has_target = progress.target > 0
    target = amount(progress.target)
    if progress.elapsed == 0:
        texts["note"] = _("Not started yet")
        texts["starts"] = _("Starts on %(start)s", **dates)
        texts["desc"] = (
            _("Starts on %(start)s; objective: %(target)s.", target=target, **dates)
            if has_target
            else _("Starts on %(start)s; no objective set.", **dates)
        )
    else:
        actual = amount(progress.actual)
        day = i18n.format_date(min(today, end))
        if has_target:
            # Rounded as the page rounds it, to a tenth: 99.8 % never reads 100 %.
            percent = i18n.format_percent(percent_of(progress.actual, progress.target))
            texts["actual"] = _("Actual: %(amount)s (%(percent)s)", amount=actual, percent=percent)
            texts["desc"] = _(
                "By %(day)s: %(actual)s of %(target)s (%(percent)s); "
                "expected at this pace: %(expected)s.",
                day=day,
                actual=actual,
                target=target,
                percent=percent,
                expected=amount(progress.expected),
            )
        else:
            texts["actual"] = _("Actual: %(amount)s", amount=actual)
            texts["desc"] = _("By %(day)s: %(actual)s; no objective set.", day=day, actual=actual)
    if has_target:
        texts["pace"] = (
            _("Expected by today: %(amount)s", amount=amount(progress.expected))
            if progress.running
            else _("Expected pace")
        )
        texts["target"] = _("Objective: %(amount)s", amount=target)
    else:
        texts["target"] = _("No objective set")
    texts["today"] = _("Today")
    texts["start"], texts["end"] = dates["start"], dates["end"]
    return texts


def _svg(progress: _Progress, texts: dict[str, str], compact: bool) -> Markup:
    rows = sum(key in texts for key in LEGEND)
    width, height = (
        (COMPACT_WIDTH, COMPACT_HEIGHT) if compact else (WIDTH, LEGEND_TOP + LEGEND_ROW * rows - 10)
    )
    left, top, right, bottom = COMPACT_PLOT if compact else PLOT
    values = [*progress.cumulative, progress.target]
    low, high = min(values + [Decimal(0)]), max(values)
    if high <= low:  # nothing to show yet and no objective: any scale will do
        high = low + 1

    def x(days: int) -> float:
        return left + (right - left) * days / progress.days

    def y(value: Decimal) -> float:
        return bottom - (bottom - top) * float((value - low) / (high - low))

    parts = [
        Markup("<title>{}</title><desc>{}</desc>").format(texts["title"], texts["desc"]),
        _line([(left, y(Decimal(0))), (right, y(Decimal(0)))], "axis"),
    ]
    if progress.target > 0:
        target_y = y(progress.target)
        parts.append(_line([(left, target_y), (right, target_y)], "target"))
        parts.append(_line([(left, y(Decimal(0))), (right, target_y)], "pace"))
    if progress.running:
        parts.append(_line([(x(progress.elapsed), top), (x(progress.elapsed), bottom)], "today"))
    if progress.elapsed:
        points = [(x(day), y(value)) for day, value in enumerate(progress.cumulative)]
        parts.append(_line(points, "actual"))
        if not compact:
            parts.append(
                Markup('<circle class="chart-point" cx="{:.1f}" cy="{:.1f}" r="4" fill="{}"/>')
                .format(*points[-1], SERIES["actual"][0])
            )  # fmt: skip
    if not compact:
        # A white card, so that the letters' white outlines blend in on any page.
        frame = Markup('<rect class="chart-frame" width="{}" height="{}" rx="6" fill="#fff"/>')
        parts.insert(1, frame.format(width, height))
        parts.extend(_labels(progress, texts, x, (left, top, right, bottom)))

    classes = "objective-chart objective-chart--compact" if compact else "objective-chart"
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="{}" width="100%" '
        'viewBox="0 0 {} {}" role="img" aria-label="{}" font-size="13">{}</svg>'
    ).format(classes, width, height, texts["title"], Markup("").join(parts))


def _labels(
    progress: _Progress,
    texts: dict[str, str],
    x: Callable[[int], float],
    plot: tuple[float, float, float, float],
) -> Iterable[Markup]:
    left, top, right, bottom = plot
    if progress.running:
        # Beside the marker, on the side with room, above the plot.
        at = x(progress.elapsed)
        anchor, shift = ("end", -4) if at > (left + right) / 2 else ("start", 4)
        yield _text(at + shift, top - 7, texts["today"], "chart-today-label", anchor)
    if "note" in texts:
        middle = (left + right) / 2
        yield _text(middle, (top + bottom) / 2 - 4, texts["note"], "chart-note", "middle")
        yield _text(middle, (top + bottom) / 2 + 14, texts["starts"], "chart-note", "middle", MUTED)
    yield _text(left, bottom + 18, texts["start"], "chart-date", "start", MUTED)
    yield _text(right, bottom + 18, texts["end"], "chart-date", "end", MUTED)
    # A legend of one row a series, wide enough for long amounts on a phone.
    rows = [(key, texts[key]) for key in LEGEND if key in texts]
    for row, (key, text) in enumerate(rows):
        baseline = LEGEND_TOP + LEGEND_ROW * row
        if not (key == "target" and progress.target <= 0):
            sample = [(left, baseline - 4.0), (left + 24, baseline - 4.0)]
            yield _line(sample, key, f"chart-key chart-key-{key}")
        yield _text(left + 30, baseline, text, f"chart-legend chart-legend-{key}", "start")


def _line(points: list[tuple[float, float]], key: str, classes: str = "") -> Markup:
    colour, dash, width = SERIES[key]
    coordinates = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    dashing = Markup(' stroke-dasharray="{}"').format(dash) if dash else ""
    return Markup(
        '<polyline class="{}" points="{}" fill="none" stroke="{}" stroke-width="{}"'
        ' stroke-linejoin="round"{}/>'
    ).format(classes or f"chart-{key}", coordinates, colour, width, dashing)


def _text(x: float, y: float, text: str, classes: str, anchor: str, colour: str = INK) -> Markup:
    # The white outline drawn under the letters keeps them legible across a line.
    return Markup(
        '<text class="{}" x="{:.1f}" y="{:.1f}" text-anchor="{}" fill="{}"'
        ' stroke="#fff" stroke-width="4" paint-order="stroke">{}</text>'
    ).format(classes, x, y, anchor, colour, text)
