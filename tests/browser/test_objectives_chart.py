"""The attainment chart on a 360 px phone: it fits, its words stay inside it and readable.

TODO: the objectives page does not exist on this branch yet, so the charts are
served as a static page from a loopback server with the portal's stylesheet and
content policy; once the page exists, open it through the `portal` fixture instead.
"""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from markupsafe import Markup
from playwright.sync_api import Browser

from plugins.objectives.chart import attainment_chart
from portal.web.middleware import _SECURITY_HEADERS
from tests.browser.conftest import REPO
from tests.browser.test_journeys import OVERFLOW_TOLERANCE

pytestmark = pytest.mark.browser

PHONE = 360
# Big amounts make the longest legend lines a period can have.
BIG = Decimal("1234567.89")
SALES = {date(2026, 12, day): Decimal("98765.43") for day in range(1, 32, 2)}


class _Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        # The portal's own headers, so a chart that needs inline style or script fails.
        for name, value in _SECURITY_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # the test reads the browser's console, not the server's


def _charts() -> list[Markup]:
    common = dict(start=date(2026, 12, 1), end=date(2026, 12, 31), daily=SALES, unit="money")
    return [
        attainment_chart(**common, today=date(2026, 12, 10), target=BIG, locale="es"),
        attainment_chart(**common, today=date(2026, 12, 29), target=BIG, locale="en"),
        attainment_chart(**common, today=date(2026, 11, 2), target=BIG, locale="es"),
        attainment_chart(**common, today=date(2027, 1, 9), target=Decimal(0), locale="en"),
        attainment_chart(
            start=date(2026, 12, 31),
            end=date(2026, 12, 31),
            today=date(2026, 12, 31),
            target=Decimal(25),
            daily={date(2026, 12, 31): Decimal(30)},
            unit="count",
            locale="es",
        ),
        attainment_chart(**common, today=date(2026, 12, 10), target=BIG, locale="en", compact=True),
    ]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "site"
    root.mkdir()
    shutil.copyfile(REPO / "static" / "cartera.css", root / "cartera.css")
    (root / "favicon.ico").write_bytes(b"")  # Chromium asks for it; a 404 would be noise
    charts = "".join(f"<section>{chart}</section>" for chart in _charts())
    (root / "index.html").write_text(
        '<!doctype html><html lang="es"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="/cartera.css"><title>Objetivos</title></head>'
        f"<body><main><h1>Objetivos</h1>{charts}</main></body></html>",
        encoding="utf-8",
    )
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(_Handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


MEASURE = """() => [...document.querySelectorAll('svg.objective-chart')].map(svg => {
  const box = svg.viewBox.baseVal;
  const rect = svg.getBoundingClientRect();
  const scale = rect.width / box.width;
  return {
    left: rect.left, right: rect.right, box: [box.width, box.height],
    texts: [...svg.querySelectorAll('text')].map(text => {
      const inner = text.getBBox();
      return {
        words: text.textContent,
        inner: [inner.x, inner.y, inner.x + inner.width, inner.y + inner.height],
        height: text.getBoundingClientRect().height,
        pixels: parseFloat(getComputedStyle(text).fontSize) * scale,
      };
    }),
  };
})"""


def test_the_chart_fits_a_phone_and_its_words_are_readable(
    browser: Browser, site: str, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": PHONE, "height": 740})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        page.goto(site)
        charts = page.evaluate(MEASURE)
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        shot = tmp_path / "objectives-chart-phone.png"
        page.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()

    assert problems == []  # a content-policy violation would show here
    assert len(charts) == 6
    assert scroll_width <= PHONE + OVERFLOW_TOLERANCE
    for chart in charts:
        assert 0 <= chart["left"] and chart["right"] <= PHONE
        width, height = chart["box"]
        for text in chart["texts"]:
            x1, y1, x2, y2 = text["inner"]
            assert 0 <= x1 and x2 <= width and 0 <= y1 and y2 <= height, text["words"]
            assert text["height"] >= 12, text["words"]
            assert text["pixels"] >= 12, text["words"]
    # The full charts have words; the compact one has none, only lines.
    assert all(chart["texts"] for chart in charts[:-1])
    assert charts[-1]["texts"] == []
    assert shot.stat().st_size > 0
    assert shot.read_bytes().startswith(b"\x89PNG")
