"""The attainment chart's SVG: its structure in each state of a period, and its words.

Snapshots hold a normalised dump of the structure (element kinds, classes, point
counts, texts); set CARTERA_UPDATE_SNAPSHOTS=1 to rewrite them after an intended change.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from markupsafe import Markup

from plugins.objectives.chart import attainment_chart
from portal import i18n

SNAPSHOTS = Path(__file__).parent / "snapshots"
SVG = "{http://www.w3.org/2000/svg}"
START, END = date(2026, 12, 1), date(2026, 12, 31)
# Two sales, a credit note and a sale dated after "today" (the 10th) in December.
DAILY = {
    date(2026, 12, 1): Decimal("1200.50"),
    date(2026, 12, 3): Decimal("-200.00"),
    date(2026, 12, 4): Decimal("3000.00"),
    date(2026, 12, 9): Decimal("4000.00"),
    date(2026, 12, 20): Decimal("5000.00"),
}


def render(**changes: object) -> ET.Element:
    arguments: dict = dict(
        start=START,
        end=END,
        today=date(2026, 12, 10),
        target=Decimal("10000"),
        daily=DAILY,
        unit="money",
        locale="en",
    )
    arguments.update(changes)
    chart = attainment_chart(**arguments)
    assert isinstance(chart, Markup)
    return ET.fromstring(str(chart))


def structure(svg: ET.Element) -> str:
    """One line an element: kind, classes, and what shape or words it has."""
    lines = [f"svg {svg.get('class')} viewBox={svg.get('viewBox')}"]
    for element in svg.iter():
        kind = element.tag.removeprefix(SVG)
        if element is svg:
            continue
        line = f"  {kind}"
        if element.get("class"):
            line += f" .{element.get('class').replace(' ', '.')}"
        if kind == "polyline":
            line += f" points={len(points(element))} dash={element.get('stroke-dasharray')}"
        if kind in ("text", "title", "desc"):
            line += f" {element.text!r}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def assert_snapshot(svg: ET.Element, name: str) -> None:
    dump = structure(svg)
    snapshot = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("CARTERA_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(dump, encoding="utf-8")
    assert snapshot.exists(), f"no snapshot {snapshot.name}; run with CARTERA_UPDATE_SNAPSHOTS=1"
    assert dump == snapshot.read_text(encoding="utf-8")


def points(element: ET.Element) -> list[tuple[float, float]]:
    pairs = (pair.split(",") for pair in element.get("points", "").split())
    return [(float(x), float(y)) for x, y in pairs]


def one(svg: ET.Element, kind: str, cls: str) -> ET.Element:
    found = [e for e in svg.iter(SVG + kind) if cls in (e.get("class") or "").split()]
    assert len(found) == 1, f"{len(found)} {kind}.{cls}"
    return found[0]


def absent(svg: ET.Element, cls: str) -> bool:
    return all(cls not in (e.get("class") or "").split() for e in svg.iter())


def texts(svg: ET.Element) -> list[str]:
    return [e.text or "" for e in svg.iter(SVG + "text")]


def level(svg: ET.Element, cls: str) -> float:
    """The y of a horizontal line."""
    (_x1, y1), (_x2, y2) = points(one(svg, "polyline", cls))
    assert y1 == y2
    return y1


def test_partial_period_draws_actual_up_to_today_below_the_objective() -> None:
    svg = render()
    actual = points(one(svg, "polyline", "chart-actual"))
    target = level(svg, "chart-target")
    pace = points(one(svg, "polyline", "chart-pace"))
    today = points(one(svg, "polyline", "chart-today"))

    # Ten days elapsed: the start at zero and one point at the end of each day.
    assert len(actual) == 11
    xs = [x for x, _y in actual]
    assert xs == sorted(set(xs))
    assert actual[-1][0] == today[0][0] == today[1][0]
    # SVG's y grows downwards: the actual (8,000.50) is under the objective.
    assert actual[-1][1] > target
    assert actual[0] == pace[0] and pace[-1][1] == target
    assert "Actual: €8,000.50 (80%)" in texts(svg)
    assert "Expected by today: €3,225.81" in texts(svg)
    assert "Objective: €10,000.00" in texts(svg)
    assert_snapshot(svg, "partial")


def test_zero_actual_lies_on_the_zero_line() -> None:
    svg = render(daily={})
    actual = points(one(svg, "polyline", "chart-actual"))
    zero = level(svg, "chart-axis")

    assert {y for _x, y in actual} == {zero}
    assert "Actual: €0.00 (0%)" in texts(svg)
    assert_snapshot(svg, "zero")


def test_exceeded_objective_grows_the_axis_and_keeps_the_objective_visible() -> None:
    svg = render(today=date(2026, 12, 25), target=Decimal("8000"))
    width, height = (float(v) for v in svg.get("viewBox").split()[2:])
    actual = points(one(svg, "polyline", "chart-actual"))
    target = level(svg, "chart-target")

    assert actual[-1][1] < target
    assert all(0 <= x <= width and 0 <= y <= height for x, y in actual)
    # The objective sits inside the plot, not squashed onto its top edge.
    assert min(y for _x, y in actual) < target < level(svg, "chart-axis")
    assert "Actual: €13,000.50 (162.5%)" in texts(svg)
    assert_snapshot(svg, "exceeded")


def test_future_period_says_it_has_not_started() -> None:
    svg = render(today=date(2026, 11, 20))

    assert absent(svg, "chart-actual")
    assert absent(svg, "chart-today")
    assert absent(svg, "chart-legend-actual")
    one(svg, "polyline", "chart-target")
    one(svg, "polyline", "chart-pace")
    assert "Not started yet" in texts(svg)
    assert "Starts on 1 Dec 2026" in texts(svg)
    assert_snapshot(svg, "future")


def test_past_period_draws_the_whole_curve_without_a_today_marker() -> None:
    svg = render(today=date(2027, 2, 1))
    actual = points(one(svg, "polyline", "chart-actual"))
    pace = points(one(svg, "polyline", "chart-pace"))

    assert len(actual) == 32
    assert actual[-1][0] == pace[-1][0]
    assert absent(svg, "chart-today")
    assert "Actual: €13,000.50 (130%)" in texts(svg)
    assert "Expected pace" in texts(svg)
    assert_snapshot(svg, "past")


def test_one_day_period() -> None:
    day = date(2026, 12, 24)
    svg = render(start=day, end=day, today=day, target=Decimal("500"))
    actual = points(one(svg, "polyline", "chart-actual"))
    pace = points(one(svg, "polyline", "chart-pace"))

    assert len(actual) == 2
    assert actual[0][0] == pace[0][0] and actual[1][0] == pace[1][0]
    assert points(one(svg, "polyline", "chart-today"))[0][0] == actual[1][0]
    assert "Actual: €0.00 (0%)" in texts(svg)
    assert_snapshot(svg, "one-day")


def test_days_outside_the_period_or_after_today_are_left_out() -> None:
    noisy = {
        **DAILY,
        date(2026, 11, 30): Decimal("999"),
        date(2027, 1, 1): Decimal("999"),
    }

    assert structure(render(daily=noisy)) == structure(render())
    assert "Actual: €8,000.50 (80%)" in texts(render(daily=noisy))


def test_credit_notes_pull_the_curve_down_and_below_zero() -> None:
    svg = render(daily={date(2026, 12, 2): Decimal("100"), date(2026, 12, 5): Decimal("-400")})
    actual = points(one(svg, "polyline", "chart-actual"))
    zero = level(svg, "chart-axis")

    assert actual[2][1] < zero  # +100 after the 2nd
    assert actual[5][1] > zero  # -300 after the 5th, under the zero line
    assert max(y for _x, y in actual) <= 142.0  # still inside the plot
    assert "Actual: -€300.00 (-3%)" in texts(svg)


def test_objective_zero_draws_no_objective_and_divides_by_nothing() -> None:
    svg = render(target=Decimal("0"))

    assert absent(svg, "chart-target")
    assert absent(svg, "chart-pace")
    assert "No objective set" in texts(svg)
    assert "Actual: €8,000.50" in texts(svg)
    assert render(target=Decimal("0"), daily={}).find(SVG + "desc") is not None


def test_amounts_are_decimal_sums_without_float_noise() -> None:
    cents = {date(2026, 12, day): Decimal("0.10") for day in range(1, 4)}
    svg = render(daily=cents, target=Decimal("0.30"), today=END)

    assert "Actual: €0.30 (100%)" in texts(svg)


def test_counts_are_plain_numbers() -> None:
    visits = {date(2026, 12, day): Decimal(2) for day in range(1, 11)}
    svg = render(unit="count", daily=visits, target=Decimal(40))

    assert "Actual: 20 (50%)" in texts(svg)
    assert "Expected by today: 13" in texts(svg)  # 40 × 10 / 31, rounded half up
    assert "Objective: 40" in texts(svg)


def test_labels_are_formatted_for_the_locale() -> None:
    english = " ".join(texts(render(locale="en")))
    spanish = " ".join(texts(render(locale="es")))

    assert "€10,000.00" in english and "1 Dec 2026" in english and "80%" in english
    # Babel keeps an amount and its sign together with a no-break space.
    assert "10.000,00\N{NO-BREAK SPACE}€" in spanish and "1 dic 2026" in spanish
    assert "80\N{NO-BREAK SPACE}%" in spanish


def test_the_language_of_the_request_is_left_as_it_was() -> None:
    token = i18n.current_language.set("en")
    try:
        render(locale="es")
        assert i18n.current_language.get() == "en"
    finally:
        i18n.current_language.reset(token)


def test_every_text_is_escaped() -> None:
    svg = attainment_chart(
        start=START,
        end=END,
        today=date(2026, 12, 10),
        target=Decimal("10"),
        daily={},
        unit="money",
        locale="en",
        currency='<script>"',
    )

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    ET.fromstring(str(svg))


def test_it_describes_itself_to_screen_readers() -> None:
    svg = render()
    title = svg.find(SVG + "title")
    desc = svg.find(SVG + "desc")

    assert svg.get("role") == "img"
    assert svg.get("width") == "100%"
    assert svg.get("aria-label") == title.text == "Objective from 1 Dec 2026 to 31 Dec 2026"
    assert desc.text == (
        "By 10 Dec 2026: €8,000.50 of €10,000.00 (80%); expected at this pace: €3,225.81."
    )
    assert float(svg.get("font-size")) >= 13


def test_every_line_has_its_own_dash_pattern() -> None:
    svg = render()
    dashes = {
        cls: one(svg, "polyline", cls).get("stroke-dasharray")
        for cls in ("chart-actual", "chart-pace", "chart-target", "chart-today")
    }

    assert len(set(dashes.values())) == 4


def test_compact_is_a_sparkline_without_words() -> None:
    svg = render(compact=True)

    assert "objective-chart--compact" in svg.get("class").split()
    assert texts(svg) == []
    assert svg.find(SVG + "title").text
    assert len(points(one(svg, "polyline", "chart-actual"))) == 11
    assert_snapshot(svg, "compact")


def test_an_unknown_unit_or_an_inverted_period_is_refused() -> None:
    with pytest.raises(ValueError):
        render(unit="kg")
    with pytest.raises(ValueError):
        render(start=END, end=START)


def test_the_percentage_is_rounded_as_the_page_rounds_it() -> None:
    """99.8 % is not yet the objective: the chart must not read 100 %."""
    done = {date(2026, 12, 2): Decimal("998")}
    english = render(daily=done, target=Decimal("1000"))
    spanish = render(daily=done, target=Decimal("1000"), locale="es")

    assert "(99.8%)" in (english.find(SVG + "desc").text or "")
    assert "Actual: €998.00 (99.8%)" in texts(english)
    assert "(99,8\N{NO-BREAK SPACE}%)" in (spanish.find(SVG + "desc").text or "")
