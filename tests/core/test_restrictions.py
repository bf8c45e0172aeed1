"""Content restrictions on clients, for every way of writing one.

Each restriction is tried with a profile that holds its key (the change is
saved) and with one that does not (refused with a message at the field or row,
and the database unchanged): on the create form, the edit form, the import and
the tags of the client's page.
"""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from portal.core.models import AuditEntry, Client, ClientTag, Profile, Tag, User
from portal.core.permissions import read_grants
from tests.conftest import grant, log_in, make_profile, make_user, post_form
from tests.core.test_import_pages import review_and_import

pytestmark = pytest.mark.usefixtures("fast_passwords")

# restriction key -> (form changes it allows, the field its refusal names)
RESTRICTED = {
    "clients.visible_to_all": ({"visible_to_all": "on"}, "visible_to_all"),
    "clients.supplier": ({"is_supplier": "on"}, "is_supplier"),
    "clients.coordinates": ({"latitude": "40.4168", "longitude": "-3.7038"}, "latitude"),
    "clients.fiscal_id_other": (
        {"fiscal_id_type": "other", "fiscal_id": "ABC-77"},
        "fiscal_id_type",
    ),
}


@pytest.fixture
def sales(http: TestClient) -> Profile:
    return make_profile("Ventas", grants='{"menu.clients":"","menu.clients.import":""}')


@pytest.fixture
def rep(http: TestClient, sales: Profile) -> User:
    user = make_user("rep@example.com", sales, language="en")
    log_in(http, "rep@example.com")
    return user


def client_form(owner: User, **changes: str) -> dict[str, object]:
    form = {"name": "Acme SL", "kind": "company", "status": "lead", "owner": owner.id}
    return {**form, "country": "ES", **changes}


def field_error(page: str, name: str) -> str:
    match = re.search(rf'<p class="error" id="e-{name}">(.*?)</p>', page, re.DOTALL)
    return html.unescape(match.group(1)) if match else ""


def add_client(owner: User, **values: object) -> Client:
    client = Client(owner=owner, name="Existente SA", **values)
    client.reindex()
    client.save()
    return client


def stored(client: Client) -> dict:
    row = Client.get_by_id(client.id)
    return {name: getattr(row, name) for name in ("visible_to_all", "is_supplier", "latitude",
            "longitude", "fiscal_id_type", "fiscal_id", "discount", "version")}  # fmt: skip


# ----------------------------------------------------------------- forms


@pytest.mark.parametrize("key", sorted(RESTRICTED))
def test_create_with_the_key_saves_the_field(
    http: TestClient, sales: Profile, rep: User, key: str
) -> None:
    grant(sales, key)
    changes, _field = RESTRICTED[key]

    answer = post_form(http, "/clients/new", client_form(rep, **changes))

    assert answer.status_code == 303, field_error(answer.text, _field)
    assert Client.select().count() == 1


@pytest.mark.parametrize("key", sorted(RESTRICTED))
def test_create_without_the_key_is_refused_at_the_field(
    http: TestClient, rep: User, key: str
) -> None:
    changes, field = RESTRICTED[key]

    answer = post_form(http, "/clients/new", client_form(rep, **changes))

    assert answer.status_code == 400
    assert field_error(answer.text, field).startswith("Your profile may")
    assert Client.select().count() == 0


@pytest.mark.parametrize("key", sorted(RESTRICTED))
def test_edit_without_the_key_is_refused_and_changes_nothing(
    http: TestClient, rep: User, key: str
) -> None:
    client = add_client(rep)
    before = stored(client)
    changes, field = RESTRICTED[key]

    answer = post_form(http, f"/clients/{client.id}/edit", client_form(rep, version="1", **changes))

    assert answer.status_code == 400
    assert field_error(answer.text, field).startswith("Your profile may")
    assert stored(client) == before


@pytest.mark.parametrize("key", sorted(RESTRICTED))
def test_edit_with_the_key_saves_the_field(
    http: TestClient, sales: Profile, rep: User, key: str
) -> None:
    grant(sales, key)
    client = add_client(rep)
    changes, _field = RESTRICTED[key]

    answer = post_form(http, f"/clients/{client.id}/edit", client_form(rep, version="1", **changes))

    assert answer.status_code == 303
    assert stored(client)["version"] == 2


def test_values_set_by_someone_else_survive_an_edit_without_the_keys(
    http: TestClient, rep: User
) -> None:
    client = add_client(
        rep,
        visible_to_all=True,
        is_supplier=True,
        latitude=Decimal("41.3874"),
        longitude=Decimal("2.1686"),
        fiscal_id_type="other",
        fiscal_id="ZZ-1",
        discount=Decimal("12.5"),
    )
    before = stored(client)
    page = http.get(f"/clients/{client.id}/edit").text

    # The locked fields are shown, but not as inputs the browser would send.
    for name in ("visible_to_all", "is_supplier", "latitude", "longitude", "discount"):
        assert f'name="{name}"' not in page
    assert "Your profile may not change this." in page
    answer = post_form(
        http,
        f"/clients/{client.id}/edit",
        client_form(
            rep, version="1", name="Renombrado SA", fiscal_id_type="other", fiscal_id="ZZ-1"
        ),
    )

    assert answer.status_code == 303, answer.text
    after = stored(client)
    assert Client.get_by_id(client.id).name == "Renombrado SA"
    assert {**after, "version": 1} == before


def test_the_other_fiscal_id_type_is_offered_only_with_its_key(
    http: TestClient, sales: Profile, rep: User
) -> None:
    without = http.get("/clients/new").text
    grant(sales, "clients.fiscal_id_other")
    with_key = http.get("/clients/new").text

    assert '<option value="other"' not in without
    assert '<option value="other"' in with_key


@pytest.mark.parametrize(
    ("limit", "asked", "status"),
    [(None, "5", 400), ("10", "10", 303), ("10", "10,5", 400), ("10", "2,5", 303)],
)
def test_a_discount_goes_up_to_the_profiles_limit(
    http: TestClient,
    sales: Profile,
    rep: User,
    limit: str | None,
    asked: str,
    status: int,
) -> None:
    if limit is not None:
        grant(sales, discount=limit)

    answer = post_form(http, "/clients/new", client_form(rep, discount=asked))

    assert answer.status_code == status
    if status == 303:
        assert Client.get().discount == Decimal(asked.replace(",", "."))
    else:
        assert field_error(answer.text, "discount").startswith("Your profile may")
        assert Client.select().count() == 0


def test_the_form_says_how_much_discount_the_profile_may_grant(
    http: TestClient, sales: Profile, rep: User
) -> None:
    grant(sales, discount="7.5")

    assert "Up to 7.5 %" in http.get("/clients/new").text


# ----------------------------------------------------------------- import

# The report names the file's column that holds the refused value.
IMPORT_ROWS = {
    "clients.supplier": ("Nombre;Proveedor\nAcme SL;sí\n", "Proveedor"),
    "clients.coordinates": ("Nombre;Latitud;Longitud\nAcme SL;40,41;-3,70\n", "Latitud"),
    "clients.discount": ("Nombre;Descuento\nAcme SL;5\n", "Descuento"),
}


@pytest.mark.parametrize("key", sorted(IMPORT_ROWS))
def test_an_import_row_without_the_key_is_rejected(http: TestClient, rep: User, key: str) -> None:
    rows, label = IMPORT_ROWS[key]

    _review, report = review_and_import(http, "clientes.csv", rows.encode())

    assert "0 clients created." in report.text
    problems = re.findall(r'<tr class="rejected"><td>(\d+)</td><td>(.*?)</td>', report.text)
    reported = [(line, html.unescape(text).split(":")[0]) for line, text in problems]
    assert ("2", label) in reported
    assert {line for line, _text in reported} == {"2"}
    assert Client.select().count() == 0


@pytest.mark.parametrize("key", sorted(IMPORT_ROWS))
def test_an_import_row_with_the_key_is_imported(
    http: TestClient, sales: Profile, rep: User, key: str
) -> None:
    grant(sales, key, discount="10") if key == "clients.discount" else grant(sales, key)
    rows, _label = IMPORT_ROWS[key]

    _review, report = review_and_import(http, "clientes.csv", rows.encode())

    assert "1 client created." in report.text
    client = Client.get()
    assert client.is_supplier or client.latitude is not None or client.discount == 5


# ------------------------------------------------------------------- tags


@pytest.fixture
def tags(http: TestClient) -> dict[str, Tag]:
    return {name: Tag.create(name=name, colour="#336699") for name in ("VIP", "Moroso")}


def tagged(client: Client) -> set[str]:
    query = Tag.select().join(ClientTag).where(ClientTag.client == client.id)
    return {tag.name for tag in query}


def test_a_profile_assigns_and_removes_its_tags(
    http: TestClient, sales: Profile, rep: User, tags: dict[str, Tag]
) -> None:
    grant(sales, f"clients.tag.{tags['VIP'].id}")
    client = add_client(rep)
    vip = tags["VIP"].id

    added = post_form(http, f"/clients/{client.id}/tags", {"offered": vip, "tag": vip})
    assert added.status_code == 303
    assert tagged(client) == {"VIP"}
    assert AuditEntry.get(AuditEntry.action == "clients.tags.changed").object_id == client.id

    removed = post_form(http, f"/clients/{client.id}/tags", {"offered": vip})
    assert removed.status_code == 303
    assert tagged(client) == set()


def test_a_tag_the_profile_may_not_use_is_shown_but_not_offered(
    http: TestClient, sales: Profile, rep: User, tags: dict[str, Tag]
) -> None:
    grant(sales, f"clients.tag.{tags['VIP'].id}")
    client = add_client(rep)
    ClientTag.create(client=client, tag=tags["Moroso"])

    page = http.get(f"/clients/{client.id}").text
    # Saving the VIP box alone keeps Moroso, which the form did not offer.
    post_form(
        http, f"/clients/{client.id}/tags", {"offered": tags["VIP"].id, "tag": tags["VIP"].id}
    )

    assert f'name="offered" value="{tags["VIP"].id}"' in page
    assert f'name="offered" value="{tags["Moroso"].id}"' not in page
    assert tagged(client) == {"VIP", "Moroso"}


@pytest.mark.parametrize("attempt", ["add", "remove"])
def test_crafted_changes_to_a_tag_not_held_are_refused(
    http: TestClient, sales: Profile, rep: User, tags: dict[str, Tag], attempt: str
) -> None:
    grant(sales, f"clients.tag.{tags['VIP'].id}")
    client = add_client(rep)
    moroso = tags["Moroso"].id
    if attempt == "remove":
        ClientTag.create(client=client, tag=moroso)
    before = tagged(client)
    fields = {"offered": moroso, "tag": moroso} if attempt == "add" else {"offered": moroso}

    answer = post_form(http, f"/clients/{client.id}/tags", fields)

    assert answer.status_code == 400
    assert "Your profile may not assign or remove: Moroso." in html.unescape(answer.text)
    assert tagged(client) == before
    assert AuditEntry.select().count() == 0


def test_tags_of_a_client_outside_the_scope_answer_not_found(
    http: TestClient, sales: Profile, rep: User, tags: dict[str, Tag]
) -> None:
    grant(sales, f"clients.tag.{tags['VIP'].id}")
    stranger = make_user("otro@example.com", make_profile("Otra rama"))
    client = add_client(stranger)

    answer = post_form(
        http, f"/clients/{client.id}/tags", {"offered": tags["VIP"].id, "tag": tags["VIP"].id}
    )

    assert answer.status_code == 404
    assert tagged(client) == set()


def test_the_tag_list_is_managed_by_whoever_holds_its_menu(
    http: TestClient, sales: Profile, rep: User
) -> None:
    refused = post_form(http, "/admin/tags/new", {"name": "VIP", "colour": "#112233"})
    grant(sales, "menu.admin", "menu.admin.tags")
    bad = post_form(http, "/admin/tags/new", {"name": "", "colour": "red"})
    created = post_form(http, "/admin/tags/new", {"name": "VIP", "colour": "#112233"})
    tag = Tag.get(Tag.name == "VIP")
    ClientTag.create(client=add_client(rep), tag=tag)
    confirm = http.get(f"/admin/tags/{tag.id}/delete").text
    deleted = post_form(http, f"/admin/tags/{tag.id}/delete")

    assert refused.status_code == 403
    assert bad.status_code == 400
    assert field_error(bad.text, "name") == "The name is required."
    assert field_error(bad.text, "colour") == "A colour such as #1f6feb."
    assert created.status_code == 303
    assert "It will be removed from 1 client." in confirm
    assert deleted.status_code == 303
    assert Tag.select().count() == 0 and ClientTag.select().count() == 0
    actions = [e.action for e in AuditEntry.select().order_by(AuditEntry.id)]
    assert actions == ["tags.created", "tags.deleted"]


def test_deleting_a_tag_takes_its_key_from_every_profile(
    http: TestClient, sales: Profile, rep: User, tags: dict[str, Tag]
) -> None:
    moroso = tags["Moroso"]
    grant(sales, f"clients.tag.{moroso.id}", "menu.admin", "menu.admin.tags")

    post_form(http, f"/admin/tags/{moroso.id}/delete")

    assert f"clients.tag.{moroso.id}" not in read_grants(Profile.get_by_id(sales.id))
    entry = AuditEntry.get(AuditEntry.action == "tags.deleted")
    assert json.loads(entry.before)["profiles"] == ["Ventas"]


def test_a_refused_tag_change_through_htmx_answers_with_the_message(
    http: TestClient, sales: Profile, rep: User, tags: dict[str, Tag]
) -> None:
    client = add_client(rep)
    moroso = tags["Moroso"].id

    answer = post_form(
        http,
        f"/clients/{client.id}/tags",
        {"offered": moroso, "tag": moroso},
        headers={"HX-Request": "true"},
    )

    assert answer.status_code == 400
    assert answer.text.lstrip().startswith('<section id="tags">')
    assert "Your profile may not assign or remove: Moroso." in html.unescape(answer.text)
    assert tagged(client) == set()
