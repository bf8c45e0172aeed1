"""The client form's owner search, for a manager over more people than one list holds."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from portal.core import owner_picker
from portal.core.models import Client, Profile, User
from tests.conftest import grant, log_in, make_profile, make_user, post_form

pytestmark = pytest.mark.usefixtures("fast_passwords")


@dataclass
class Crowd:
    boss: User  # signed in: manages everyone below "Ventas"
    jose: User  # "José Núñez", below the boss
    josefa: User  # "Josefa Ortiz", below the boss
    outsider: User  # "Jose Fuera", in a peer branch the boss does not manage
    helper: User  # "Jose Ayudante", an assistant: sees clients, owns none
    gone: User  # "Jose Baja", below the boss but deactivated


def add_person(email: str, name: str, profile: Profile, **extra: object) -> User:
    # No password: nobody but the boss signs in.
    return User.create(email=email, name=name, profile=profile, **extra)


def fill(profile: Profile, count: int, start: int = 0) -> None:
    rows = [
        {"email": f"persona{n:03}@example.com", "name": f"Persona {n:03}", "profile": profile}
        for n in range(start, start + count)
    ]
    User.insert_many(rows).execute()


@pytest.fixture
def crowd(http: TestClient) -> Crowd:
    top = make_profile("Dirección")
    sales = make_profile("Ventas", parent=top)
    team = make_profile("Equipo", parent=sales)
    peer = make_profile("Compras", parent=top)
    aides = make_profile("Ayudantes", parent=sales, is_assistant=True)
    grant(sales, "clients.visible_to_all")
    people = Crowd(
        boss=make_user("jefa@example.com", sales, language="en"),
        jose=add_person("jnunez@example.com", "José Núñez", team),
        josefa=add_person("josefa@example.com", "Josefa Ortiz", team),
        outsider=add_person("jfuera@example.com", "Jose Fuera", peer),
        helper=add_person("jayuda@example.com", "Jose Ayudante", aides),
        gone=add_person("jbaja@example.com", "Jose Baja", team, is_active=False),
    )
    # The boss, José, Josefa and these: one more than a single list offers.
    fill(team, owner_picker.THRESHOLD - 2)
    log_in(http, "jefa@example.com")
    return people


def new_client(**changes: object) -> dict[str, object]:
    form = {"name": "Acme Ibérica SL", "kind": "company", "status": "lead", "country": "ES"}
    return {**form, **changes}


def offered(page: str) -> list[int]:
    """Ids of the people a search answer offers to choose."""
    return [int(key) for key in re.findall(r'name="owner" value="(\d+)"', page)]


def candidates(page: str) -> list[int]:
    """Ids in the list of candidates shown after a search that named nobody or several."""
    match = re.search(r'<select name="owner"[^>]*>(.*?)</select>', page, re.DOTALL)
    return [int(key) for key in re.findall(r'value="(\d+)"', match.group(1))] if match else []


def owner_error(page: str) -> str:
    match = re.search(r'<p class="error" id="e-owner">(.*?)</p>', page, re.DOTALL)
    return html.unescape(match.group(1)) if match else ""


# ------------------------------------------------------------ list or search


def test_up_to_the_threshold_the_form_keeps_one_list(http: TestClient, crowd: Crowd) -> None:
    User.delete().where(User.email == "persona000@example.com").execute()

    page = http.get("/clients/new").text

    options = re.findall(r'<option value="(\d+)"', page.split('name="owner"', 1)[1])
    assert len(options) == owner_picker.THRESHOLD
    assert f'<option value="{crowd.boss.id}" selected>' in page
    assert 'name="owner_q"' not in page


def test_above_the_threshold_the_form_shows_the_owner_and_a_search(
    http: TestClient, crowd: Crowd
) -> None:
    page = http.get("/clients/new").text

    assert "<option" not in page.split('name="owner_q"', 1)[1].split("</div>", 1)[0]
    assert "Persona 050" not in page
    assert "Now: Jefa" in page
    assert f'name="owner_kept" value="{crowd.boss.id}"' in page
    assert 'hx-get="/clients/owners" hx-trigger="input changed delay:300ms"' in page


def test_the_edit_form_shows_the_current_owner(http: TestClient, crowd: Crowd) -> None:
    client = Client.create(name="Bodega Sur", owner=crowd.josefa)

    page = http.get(f"/clients/{client.id}/edit").text

    assert "Now: Josefa Ortiz" in page
    assert f'name="owner_kept" value="{crowd.josefa.id}"' in page


# ------------------------------------------------------------ the search endpoint


def test_search_finds_people_in_reach_ignoring_case_and_accents(
    http: TestClient, crowd: Crowd
) -> None:
    for typed in ("jose", "JOSÉ", "  Jose  "):
        answer = http.get("/clients/owners", params={"owner_q": typed})
        assert answer.status_code == 200
        assert sorted(offered(answer.text)) == sorted([crowd.jose.id, crowd.josefa.id]), typed

    by_email = http.get("/clients/owners", params={"owner_q": "jnunez@"})
    assert offered(by_email.text) == [crowd.jose.id]
    by_words = http.get("/clients/owners", params={"owner_q": "nunez jose"})
    assert offered(by_words.text) == [crowd.jose.id]


def test_search_offers_at_most_the_limit(http: TestClient, crowd: Crowd) -> None:
    answer = http.get("/clients/owners", params={"owner_q": "persona"})

    assert len(offered(answer.text)) == owner_picker.LIMIT


def test_search_never_offers_anyone_out_of_reach(http: TestClient, crowd: Crowd) -> None:
    for typed in ("fuera", "ayudante", "baja", "jfuera@example.com"):
        answer = http.get("/clients/owners", params={"owner_q": typed})
        assert offered(answer.text) == [], typed
        assert "Nobody you may give clients to matches." in answer.text
    assert http.get("/clients/owners", params={"owner_q": ""}).text.strip() == ""


def test_search_escapes_names(http: TestClient, crowd: Crowd) -> None:
    User.update(name='<img src=x onerror="alert(1)">').where(User.id == crowd.jose.id).execute()

    answer = http.get("/clients/owners", params={"owner_q": "img"})

    assert offered(answer.text) == [crowd.jose.id]
    assert "<img src=x" not in answer.text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in answer.text


def test_search_needs_the_client_pages(http: TestClient, crowd: Crowd) -> None:
    Profile.update(grants="{}").where(Profile.id == crowd.boss.profile_id).execute()

    assert http.get("/clients/owners", params={"owner_q": "jose"}).status_code == 403


# ------------------------------------------------------------ saving without JavaScript


def test_a_unique_name_typed_without_javascript_becomes_the_owner(
    http: TestClient, crowd: Crowd
) -> None:
    form = new_client(owner_kept=crowd.boss.id, owner_q="nuñez")

    answer = post_form(http, "/clients/new", form)

    assert answer.status_code == 303
    assert Client.get().owner_id == crowd.jose.id


def test_a_person_chosen_from_the_results_wins_over_the_typed_text(
    http: TestClient, crowd: Crowd
) -> None:
    form = new_client(owner_kept=crowd.boss.id, owner_q="jose", owner=crowd.josefa.id)

    answer = post_form(http, "/clients/new", form)

    assert answer.status_code == 303
    assert Client.get().owner_id == crowd.josefa.id


def test_an_empty_search_keeps_the_owner_shown(http: TestClient, crowd: Crowd) -> None:
    client = Client.create(name="Bodega Sur", owner=crowd.josefa)
    form = new_client(name="Bodega Sur", owner_kept=crowd.josefa.id, owner_q="", version=1)

    answer = post_form(http, f"/clients/{client.id}/edit", form)

    assert answer.status_code == 303
    assert Client.get_by_id(client.id).owner_id == crowd.josefa.id


@pytest.mark.parametrize(
    ("typed", "message", "listed"),
    [
        ("jose", "Several people match: choose one or write more of the name.", 2),
        ("nadie", "Nobody you may give clients to matches “nadie”.", 0),
        ("fuera", "Nobody you may give clients to matches “fuera”.", 0),
    ],
)
def test_a_search_naming_none_or_several_returns_the_form(
    http: TestClient, crowd: Crowd, typed: str, message: str, listed: int
) -> None:
    form = new_client(owner_kept=crowd.boss.id, owner_q=typed, city="Écija", notes="Llamar")

    answer = post_form(http, "/clients/new", form)

    assert answer.status_code == 400
    assert Client.select().count() == 0
    assert owner_error(answer.text) == message
    assert len(candidates(answer.text)) == listed
    assert set(candidates(answer.text)) <= {crowd.jose.id, crowd.josefa.id}
    for kept in (f'value="{typed}"', 'value="Acme Ibérica SL"', 'value="Écija"', "Llamar"):
        assert kept in answer.text
    assert "Now: Jefa" in answer.text


def test_the_candidates_list_is_capped(http: TestClient, crowd: Crowd) -> None:
    answer = post_form(http, "/clients/new", new_client(owner_q="persona"))

    assert answer.status_code == 400
    assert len(candidates(answer.text)) == owner_picker.LIMIT


def test_choosing_among_the_candidates_saves(http: TestClient, crowd: Crowd) -> None:
    first = post_form(http, "/clients/new", new_client(owner_kept=crowd.boss.id, owner_q="jose"))
    assert crowd.josefa.id in candidates(first.text)

    again = new_client(owner_kept=crowd.boss.id, owner_q="jose", owner=crowd.josefa.id)
    answer = post_form(http, "/clients/new", again)

    assert answer.status_code == 303
    assert Client.get().owner_id == crowd.josefa.id


def test_a_found_owner_stays_found_when_another_field_fails(http: TestClient, crowd: Crowd) -> None:
    answer = post_form(http, "/clients/new", new_client(name="", owner_q="núñez"))

    assert answer.status_code == 400
    assert owner_error(answer.text) == ""
    assert "Now: José Núñez" in answer.text
    assert f'name="owner_kept" value="{crowd.jose.id}"' in answer.text
    # The search box is emptied, so saving again does not search again.
    assert 'name="owner_q" type="search" value=""' in answer.text


@pytest.mark.parametrize("field", ["owner", "owner_kept"])
def test_a_forged_id_out_of_reach_is_refused(http: TestClient, crowd: Crowd, field: str) -> None:
    for stranger in (crowd.outsider, crowd.helper, crowd.gone):
        answer = post_form(http, "/clients/new", new_client(**{field: stranger.id}))

        assert answer.status_code == 400
        assert owner_error(answer.text) == "Choose an owner among the people you can see."
        assert stranger.name not in answer.text
    assert Client.select().count() == 0


def test_an_owner_who_left_stays_shown_and_kept(http: TestClient, crowd: Crowd) -> None:
    client = Client.create(name="Bodega Sur", owner=crowd.gone)

    page = http.get(f"/clients/{client.id}/edit").text
    form = new_client(name="Bodega Sur", owner_kept=crowd.gone.id, owner_q="", version=1)
    answer = post_form(http, f"/clients/{client.id}/edit", form)

    assert "Now: Jose Baja" in page
    assert answer.status_code == 303
    assert Client.get_by_id(client.id).owner_id == crowd.gone.id


def test_a_whole_name_picks_that_person_among_longer_ones(http: TestClient, crowd: Crowd) -> None:
    team = Profile.get(Profile.name == "Equipo")
    ana = add_person("ana@example.com", "Ana", team)
    add_person("anamaria@example.com", "Ana María Gil", team)

    answer = post_form(http, "/clients/new", new_client(owner_q="ANA"))

    assert answer.status_code == 303
    assert Client.get().owner_id == ana.id
