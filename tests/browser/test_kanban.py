"""A salesperson moves a card on the opportunities board: dragging it, or its selector."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from portal.core.models import Client, Opportunity, Pipeline, Stage, User
from portal.database import db, open_database
from tests.browser.conftest import SALES_EMAIL, Browsing, Portal, open_page
from tests.browser.test_journeys import log_in

pytestmark = pytest.mark.browser


def _seed_deal(tmp_path: Path, client_id: int) -> tuple[int, dict[str, int]]:
    """An opportunity in Qualification, written straight into the running portal's file."""
    open_database(f"sqlite:///{tmp_path / 'data' / 'cartera.db'}")
    try:
        stages = {stage.name: stage.id for stage in Stage.select()}
        owner = User.get(User.email == SALES_EMAIL)
        deal = Opportunity.create(
            client=Client.get_by_id(client_id), owner=owner, title="Pedido de prueba",
            amount=Decimal("1234.50"), stage=stages["Qualification"],
            pipeline=Stage.get_by_id(stages["Qualification"]).pipeline_id, probability=10,
        )  # fmt: skip
        return deal.id, stages
    finally:
        db.close()


def test_a_card_changes_column(browsing: Browsing, tmp_path: Path) -> None:
    page = browsing.page
    deal, stages = _seed_deal(tmp_path, browsing.portal.client_ids["Muñoz Ibáñez"])
    card = f"#opportunity-{deal}"
    target = f"#stage-{stages['Proposal']}"
    log_in(page, SALES_EMAIL)
    page.goto("/opportunities")
    expect(page.locator(f"#stage-{stages['Qualification']} {card}")).to_be_visible()

    if browsing.js:
        # htmx must have taken in the page before the drop posts through it.
        expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)
        page.drag_and_drop(f"{card} strong", target)
        expect(page.locator(f"{target} {card}")).to_be_visible()
        # The columns were swapped in place: no page load, the URL did not move.
        expect(page).to_have_url(re.compile(r"/opportunities$"))
    else:
        page.locator(f"{card} select[name=stage]").select_option(str(stages["Proposal"]))
        page.locator(card).get_by_role("button", name="Move").click()
        expect(page).to_have_url(re.compile(r"/opportunities\?pipeline=\d+$"))
        expect(page.locator(f"{target} {card}")).to_be_visible()

    shot = "js" if browsing.js else "no-js"
    page.screenshot(path=f"/tmp/cartera-kanban-{shot}.png", full_page=True)
    expect(page.locator(f"{target} .total")).to_have_text("€1,234.50")
    expect(page.locator(f"{target} .weighted")).to_have_text("€617.25")
    expect(page.locator(f"#stage-{stages['Qualification']} {card}")).to_have_count(0)
    page.reload()
    expect(page.locator(f"{target} {card}")).to_be_visible()
    browsing.assert_quiet()


def test_a_card_dropped_on_lost_asks_why_at_the_card(
    browser: Browser, portal: Portal, tmp_path: Path
) -> None:
    deal, stages = _seed_deal(tmp_path, portal.client_ids["Óptica Núñez"])
    card = f"#opportunity-{deal}"
    lost = f"#stage-{stages['Lost']}"
    # Wide enough for every column: a drag does not scroll the board on its way.
    for browsing in open_page(browser, portal, js=True, width=1800):
        page = browsing.page
        log_in(page, SALES_EMAIL)
        page.goto("/opportunities")
        expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)

        page.drag_and_drop(f"{card} strong", lost)

        error = page.locator(f"#stage-{stages['Qualification']} {card} .error")
        expect(error).to_have_text("Say why it was lost.")
        page.locator(f"{card} input[name=lost_reason]").fill("Precio")
        # The card keeps Lost chosen: the reason is all that is left to give.
        expect(page.locator(f"{card} select[name=stage]")).to_have_value(str(stages["Lost"]))
        page.locator(card).get_by_role("button", name="Move").click()
        expect(page.locator(f"{lost} {card}")).to_be_visible()
        expect(page.locator(f"{card} .error")).to_have_count(0)
        browsing.assert_quiet()


def test_on_a_phone_only_the_board_scrolls_sideways(
    browser: Browser, portal: Portal, tmp_path: Path
) -> None:
    deal, _stages = _seed_deal(tmp_path, portal.client_ids["Óptica Núñez"])
    open_database(f"sqlite:///{tmp_path / 'data' / 'cartera.db'}")
    try:  # A long name widens the pipeline selector beyond the screen unless it may shrink.
        Pipeline.create(name="Licitaciones públicas de la administración autonómica", position=5)
        # A card far right: its hidden labels must not widen the whole page.
        late = Opportunity.get_by_id(deal)
        late.id, late.stage = None, Stage.get(Stage.name == "Negotiation")
        late.save(force_insert=True)
    finally:
        db.close()
    for browsing in open_page(browser, portal, js=True, width=360, height=740):
        page = browsing.page
        log_in(page, SALES_EMAIL)
        page.goto("/opportunities")
        expect(page.locator(f"#opportunity-{deal}")).to_be_visible()

        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        board = page.locator(".board")
        assert board.evaluate("e => e.scrollWidth > e.clientWidth")
        for field in page.locator("main select").all():
            if field.evaluate("e => e.closest('.board') !== null"):
                continue  # the board's own selects scroll with it
            box = field.bounding_box()
            assert box is None or box["x"] + box["width"] <= 360
        browsing.assert_quiet()
