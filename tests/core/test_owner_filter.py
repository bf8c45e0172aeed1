"""The owner filter offers the people nearest in the tree, and anyone reached by a link."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from portal.core import visibility
from portal.core.models import Client, User
from tests.conftest import log_in, make_profile, make_user

pytestmark = pytest.mark.usefixtures("fast_passwords")


def offered(page: str) -> list[str]:
    select = re.search(r'<select name="owner".*?</select>', page, re.DOTALL)
    assert select, "the list has an owner filter"
    return re.findall(r'<option value="\d+"(?: selected)?>([^<]+)</option>', select.group(0))


@pytest.fixture
def company(http: TestClient, monkeypatch: pytest.MonkeyPatch) -> dict[str, User]:
    monkeypatch.setattr(visibility, "OWNER_CHOICES", 3)
    top = make_profile("Dirección")
    heads = make_profile("Jefatura", parent=top)
    sales = make_profile("Comercial", parent=heads)
    people = {
        "boss": make_user("boss@example.com", top, language="en"),
        "head1": make_user("head1@example.com", heads),
        "head2": make_user("head2@example.com", heads),
    }
    for number in range(4):
        people[f"seller{number}"] = make_user(f"seller{number}@example.com", sales)
    client = Client(owner=people["seller3"], name="Deep SL")
    client.reindex()
    client.save()
    log_in(http, "boss@example.com")
    return people


def test_the_filter_stops_at_the_levels_that_fit(http: TestClient, company: dict) -> None:
    # Two heads fit under the limit of three; the four sellers below would not.
    names = offered(http.get("/clients").text)
    assert names == ["Boss", "Head1", "Head2"]


def test_a_deeper_owner_reached_by_a_link_is_offered_and_chosen(
    http: TestClient, company: dict
) -> None:
    seller = company["seller3"]
    detail = http.get(f"/clients/{Client.get(Client.name == 'Deep SL').id}").text
    assert f'href="/clients?owner={seller.id}"' in detail

    page = http.get("/clients", params={"owner": seller.id}).text
    assert f'<option value="{seller.id}" selected>Seller3</option>' in page
    assert "Deep SL" in page


def test_an_owner_out_of_sight_is_never_offered(http: TestClient, company: dict) -> None:
    stranger = make_user("stranger@example.com", make_profile("Otra empresa"))
    page = http.get("/clients", params={"owner": stranger.id}).text
    assert "Stranger" not in page
