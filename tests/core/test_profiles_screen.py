"""Administration → Profiles over HTTP: detail, removal, tree, export, delegation, audit."""

from __future__ import annotations

import html
import io
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser

import openpyxl
import pytest
from starlette.testclient import TestClient

from portal.core.models import AuditEntry, Profile, Tag, User
from portal.core.permissions import read_grants, write_grants
from tests.conftest import count_queries, log_in, make_profile, make_user, post_form

pytestmark = pytest.mark.usefixtures("fast_passwords")


def grant(profile: Profile, **held: str) -> Profile:
    write_grants(
        profile, {**read_grants(profile), **{k.replace("__", "."): v for k, v in held.items()}}
    )
    profile.save()
    return profile


@dataclass
class Org:
    """Dirección (admin) → Comercial (a delegate) → Zona Norte → Ventas Norte;
    Dirección → Marketing, the delegate's peer."""

    top: Profile
    commercial: Profile
    north: Profile
    sales: Profile
    marketing: Profile
    admin: User
    delegate: User


@pytest.fixture
def org(http: TestClient) -> Org:
    top = make_profile("Dirección", kind="structural")
    commercial = make_profile("Comercial", parent=top)
    north = make_profile("Zona Norte", parent=commercial)
    sales = make_profile("Ventas Norte", parent=north)
    marketing = make_profile("Marketing", parent=top)
    grant(commercial, menu__admin="", menu__admin__profiles="")
    admin = make_user("admin@example.com", top, is_admin=True, language="en")
    delegate = make_user("delegate@example.com", commercial, language="en")
    log_in(http, "admin@example.com")
    return Org(top, commercial, north, sales, marketing, admin, delegate)


@pytest.fixture
def delegate_http(http: TestClient, org: Org) -> TestClient:
    with TestClient(http.app, base_url="http://testserver") as browser:
        log_in(browser, "delegate@example.com")
        yield browser


def field_error(page: str, name: str) -> str:
    match = re.search(rf'<p class="error" id="e-{name}">(.*?)</p>', page, re.DOTALL)
    return html.unescape(match.group(1)) if match else ""


def form(**fields: object) -> dict[str, object]:
    return {"name": "Nuevo", "kind": "hierarchical", "parent": "", **fields}


def snapshot() -> tuple:
    profiles = tuple(Profile.select().order_by(Profile.id).tuples())
    users = tuple(User.select(User.id, User.profile).order_by(User.id).tuples())
    return profiles, users, AuditEntry.select().count()


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.id))


# ------------------------------------------------------------ create and edit


def test_creating_a_profile_is_audited(http: TestClient, org: Org) -> None:
    answer = post_form(http, "/admin/profiles/new", form(parent=org.north.id, is_assistant="on"))

    assert answer.status_code == 303
    created = Profile.get(Profile.name == "Nuevo")
    [entry] = entries("profiles.created")
    assert (entry.actor_id, entry.object_type, entry.object_id) == (
        org.admin.id,
        "profile",
        created.id,
    )
    assert json.loads(entry.after) == {
        "name": "Nuevo",
        "kind": "hierarchical",
        "parent": org.north.id,
        "parent_name": "Zona Norte",
        "is_assistant": True,
    }


def test_editing_audits_only_the_changed_fields(http: TestClient, org: Org) -> None:
    answer = post_form(
        http,
        f"/admin/profiles/{org.sales.id}",
        form(name="Ventas Norte", parent=org.commercial.id),
    )
    unchanged = post_form(
        http,
        f"/admin/profiles/{org.sales.id}",
        form(name="Ventas Norte", parent=org.commercial.id),
    )

    assert answer.status_code == unchanged.status_code == 303
    assert answer.headers["location"] == f"/admin/profiles/{org.sales.id}?saved=1"
    assert Profile.get_by_id(org.sales.id).parent_id == org.commercial.id
    [entry] = entries("profiles.updated")  # saving the same values again writes nothing
    assert json.loads(entry.before) == {"parent": org.north.id, "parent_name": "Zona Norte"}
    assert json.loads(entry.after) == {"parent": org.commercial.id, "parent_name": "Comercial"}


# ------------------------------------------------------------ detail


def test_detail_lists_users_and_the_permissions_held(http: TestClient, org: Org) -> None:
    grant(org.sales, clients__discount="15", clients__coordinates="")
    ana = make_user("ana@example.com", org.sales)
    make_user("old@example.com", org.sales, is_active=False)

    page = http.get(f"/admin/profiles/{org.sales.id}").text

    assert f'<a href="/admin/users/{ana.id}">Ana</a>' in page
    assert "Old" in page and "inactive" in page
    assert 'value="Ventas Norte"' in page  # the edit form
    held = page.split('id="permissions"', 1)[1]
    assert "<h3>Menus</h3>" in held and "<h3>Clients</h3>" in held
    assert "Grant discounts to a client — up to 15%" in held
    assert "Change a client's coordinates" in html.unescape(held)
    assert "Convert a client into a supplier" not in held  # not held
    assert "Import clients" in held  # a baseline key
    assert f'href="/admin/permissions?profile={org.sales.id}"' in page
    assert f'href="/admin/profiles/{org.sales.id}/approvals"' in page
    assert f'href="/admin/profiles/{org.sales.id}/delete"' in page


def test_detail_without_the_users_menu_or_permissions_menu(
    delegate_http: TestClient, org: Org
) -> None:
    ana = make_user("ana@example.com", org.sales)

    page = delegate_http.get(f"/admin/profiles/{org.sales.id}").text

    assert "Ana" in page
    assert f"/admin/users/{ana.id}" not in page  # the delegate may not open users
    assert "/admin/permissions" not in page
    assert f'href="/admin/profiles/{org.sales.id}/approvals"' in page


def test_detail_shows_limits_in_spanish(http: TestClient, org: Org) -> None:
    org.admin.language = "es"
    org.admin.save()
    grant(org.sales, clients__discount="12.5")

    page = http.get(f"/admin/profiles/{org.sales.id}").text

    # As the language writes a percentage everywhere else: the sign kept on the line.
    spanish = "Conceder descuentos a un cliente — hasta el 12,5\N{NO-BREAK SPACE}%"
    assert spanish in html.unescape(page)


# ------------------------------------------------------------ removal


def test_removal_asks_then_removes_and_audits(http: TestClient, org: Org) -> None:
    grant(org.marketing, clients__discount="5")

    confirm = http.get(f"/admin/profiles/{org.marketing.id}/delete")
    answer = post_form(http, f"/admin/profiles/{org.marketing.id}/delete")

    assert confirm.status_code == 200
    assert "Remove the profile Marketing?" in confirm.text
    assert f'action="/admin/profiles/{org.marketing.id}/delete"' in confirm.text
    assert Profile.get_or_none(Profile.id == org.marketing.id) is None
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/profiles"
    [entry] = entries("profiles.deleted")
    before = json.loads(entry.before)
    assert (entry.object_id, entry.object_label, entry.actor_id) == (
        org.marketing.id,
        "Marketing",
        org.admin.id,
    )
    assert before["name"] == "Marketing" and before["parent"] == org.top.id
    assert before["grants"]["clients.discount"] == "5"


def test_removal_is_refused_while_users_have_the_profile(http: TestClient, org: Org) -> None:
    make_user("ana@example.com", org.sales)
    make_user("luis@example.com", org.sales, is_active=False)
    before = snapshot()

    page = http.get(f"/admin/profiles/{org.sales.id}/delete")
    answer = post_form(http, f"/admin/profiles/{org.sales.id}/delete")

    assert snapshot() == before
    assert answer.status_code == 409
    for text in (page.text, answer.text):
        assert "Ventas Norte cannot be removed" in text
        assert "2 users have this profile." in text
        assert "Ana" in text and "Luis" in text  # inactive users still hold it
        assert "Yes, remove" not in text


def test_removal_is_refused_while_profiles_depend_on_it(http: TestClient, org: Org) -> None:
    make_profile("Zona Noroeste", parent=org.commercial)
    before = snapshot()

    answer = post_form(http, f"/admin/profiles/{org.commercial.id}/delete")

    assert snapshot() == before
    assert answer.status_code == 409
    text = html.unescape(answer.text)
    assert "2 profiles depend on it." in text
    assert "Zona Norte" in text and "Zona Noroeste" in text
    assert "users have this profile" not in text


# ------------------------------------------------------------ tree


class _TreeReader(HTMLParser):
    """Each profile of the tree with the profile it is nested in and its users."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[dict] = []  # one per open <li>
        self.nodes: dict[str, dict] = {}
        self.href = ""
        self.opened: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        values = dict(attrs)
        if tag == "li":
            self.stack.append({"name": "", "users": [], "kind": ""})
        if tag == "a":
            self.href = values.get("href", "")
        if tag == "details":
            self.opened.append("open" in values)

    def handle_endtag(self, tag: str) -> None:
        if tag == "li" and self.stack:
            self.stack.pop()
        if tag == "a":
            self.href = ""

    def handle_data(self, data: str) -> None:
        if not self.href or not self.stack:
            return
        if re.fullmatch(r"/admin/profiles/\d+", self.href):
            node = self.stack[-1]
            node["name"] = data
            owners = [n["name"] for n in self.stack[:-1] if n["name"]]
            self.nodes[data] = {"parent": owners[-1] if owners else None, "users": node["users"]}
        elif self.href.startswith("/admin/users/"):
            owner = next(n for n in reversed(self.stack) if n["name"])
            owner["users"].append(data)


def read_tree(page: str) -> _TreeReader:
    reader = _TreeReader()
    reader.feed(page.split('<ul class="tree">', 1)[1])
    return reader


def test_tree_nests_profiles_with_their_users(http: TestClient, org: Org) -> None:
    make_user("ana@example.com", org.sales)
    make_user("bea@example.com", org.sales)
    make_user("carlos@example.com", org.north)

    reader = read_tree(http.get("/admin/profiles").text)

    nodes = reader.nodes
    assert {name: node["parent"] for name, node in nodes.items()} == {
        "Dirección": None,
        "Comercial": "Dirección",
        "Zona Norte": "Comercial",
        "Ventas Norte": "Zona Norte",
        "Marketing": "Dirección",
    }
    assert nodes["Ventas Norte"]["users"] == ["Ana", "Bea"]
    assert nodes["Zona Norte"]["users"] == ["Carlos"]
    assert nodes["Dirección"]["users"] == ["Admin"]
    assert nodes["Comercial"]["users"] == ["Delegate"]
    # Rendered open, so the page prints whole; "collapse all" closes every branch.
    assert reader.opened and all(reader.opened)
    collapsed = read_tree(http.get("/admin/profiles?collapsed=1").text)
    assert collapsed.opened and not any(collapsed.opened)


def test_tree_escapes_names(http: TestClient, org: Org) -> None:
    make_profile("<b>Ventas</b> & Co", parent=org.top)

    page = http.get("/admin/profiles").text

    assert "&lt;b&gt;Ventas&lt;/b&gt; &amp; Co" in page
    assert "<b>Ventas</b>" not in page


# ------------------------------------------------------------ export


def test_export_has_a_row_per_profile_and_a_column_per_key(http: TestClient, org: Org) -> None:
    grant(org.sales, clients__discount="15", tasks__delete="")
    make_user("ana@example.com", org.sales)
    make_user("bea@example.com", org.sales)
    make_profile('=HYPERLINK("http://x")', parent=org.marketing, is_assistant=True)

    answer = http.get("/admin/profiles/export.xlsx")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = rows[0]
    keys = http.app.state.permissions.permissions
    assert header[:5] == ["Name", "Kind", "Depends on", "Assistant", "Users"]
    assert len(header) == 5 + len(keys)
    assert "Clients › Grant discounts to a client" in header
    assert "Menus › Import clients" in header
    by_name = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert [row[0] for row in rows[1:]] == [
        "Dirección",
        "Comercial",
        "Zona Norte",
        "Ventas Norte",
        "Marketing",
        '=HYPERLINK("http://x")',
    ]
    sales = by_name["Ventas Norte"]
    assert (sales["Kind"], sales["Depends on"], sales["Assistant"], sales["Users"]) == (
        "Hierarchical",
        "Zona Norte",
        False,
        2,
    )
    assert sales["Clients › Grant discounts to a client"] == 15
    assert sales["Tasks › Delete tasks created in the CRM"] == "✓"
    assert sales["Clients › Convert a client into a supplier"] is None
    assert by_name["Comercial"]["Menus › Profiles"] == "✓"
    assert by_name["Dirección"]["Depends on"] is None
    assert by_name["Dirección"]["Kind"] == "Structural"
    assert by_name['=HYPERLINK("http://x")']["Assistant"] is True
    # The name is text, never a formula.
    formula_cell = sheet.cell(row=7, column=1)
    assert formula_cell.data_type == "s"


def test_export_headers_follow_the_language(http: TestClient, org: Org) -> None:
    org.admin.language = "es"
    org.admin.save()

    answer = http.get("/admin/profiles/export.xlsx")

    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    header = [cell.value for cell in next(sheet.iter_rows())]
    assert header[:5] == ["Nombre", "Tipo", "Depende de", "Asistente", "Usuarios"]
    assert "Clientes › Conceder descuentos a un cliente" in header
    kinds = [row[1].value for row in sheet.iter_rows(min_row=2)]
    assert kinds[0] == "Estructural"


# ------------------------------------------------------------ delegation


def test_delegate_sees_the_whole_tree(delegate_http: TestClient, org: Org) -> None:
    page = delegate_http.get("/admin/profiles")

    assert page.status_code == 200
    assert set(read_tree(page.text).nodes) == {
        "Dirección",
        "Comercial",
        "Zona Norte",
        "Ventas Norte",
        "Marketing",
    }


def test_delegate_creates_below_their_own_profile(delegate_http: TestClient, org: Org) -> None:
    write_grants(org.commercial, {"menu.admin": "", "menu.admin.profiles": "", "menu.clients": ""})
    org.commercial.save()
    page = delegate_http.get("/admin/profiles/new").text
    offered = re.findall(
        r'<option value="(\d*)"', page.split('name="parent"', 1)[1].split("</select>")[0]
    )

    direct = post_form(
        delegate_http, "/admin/profiles/new", form(name="A", parent=org.commercial.id)
    )
    deeper = post_form(delegate_http, "/admin/profiles/new", form(name="B", parent=org.sales.id))

    assert sorted(map(int, offered)) == sorted([org.commercial.id, org.north.id, org.sales.id])
    assert direct.status_code == deeper.status_code == 303
    a = Profile.get(Profile.name == "A")
    assert a.parent_id == org.commercial.id
    # The new profile holds only the baseline keys its creator holds.
    assert read_grants(a) == {"menu.clients": ""}
    assert entries("profiles.created")[0].actor_id == org.delegate.id


@pytest.mark.parametrize(
    ("fields", "name", "message"),
    [
        ({"parent": "marketing"}, "parent", "Choose your own profile or one below it."),
        ({"parent": "top"}, "parent", "Choose your own profile or one below it."),
        ({"parent": ""}, "parent", "Choose your own profile or one below it."),
        (
            {"parent": "commercial", "kind": "structural"},
            "kind",
            "Only an administrator can make a profile structural.",
        ),
    ],
)
def test_delegate_cannot_create_outside_their_subtree(
    delegate_http: TestClient, org: Org, fields: dict, name: str, message: str
) -> None:
    fields = {k: getattr(org, v).id if k == "parent" and v else v for k, v in fields.items()}
    before = snapshot()

    answer = post_form(delegate_http, "/admin/profiles/new", form(**fields))

    assert answer.status_code == 400
    assert field_error(answer.text, name) == message
    assert snapshot() == before


@pytest.mark.parametrize("target", ["commercial", "marketing", "top"])
def test_delegate_cannot_change_or_remove_their_own_or_others(
    delegate_http: TestClient, org: Org, target: str
) -> None:
    profile = getattr(org, target)
    before = snapshot()

    page = delegate_http.get(f"/admin/profiles/{profile.id}")
    edit = post_form(
        delegate_http,
        f"/admin/profiles/{profile.id}",
        form(name="Hacked", parent=org.commercial.id),
    )
    confirm = delegate_http.get(f"/admin/profiles/{profile.id}/delete")
    remove = post_form(delegate_http, f"/admin/profiles/{profile.id}/delete")

    assert snapshot() == before
    assert page.status_code == 200
    assert "You may change only the profiles below your own." in page.text
    assert 'name="name"' not in page.text and "/delete" not in page.text
    for answer in (edit, confirm, remove):
        assert answer.status_code == 403
        assert "You may change only the profiles below your own." in answer.text


def test_delegate_cannot_move_a_profile_out_of_their_subtree(
    delegate_http: TestClient, org: Org
) -> None:
    before = snapshot()

    outside = post_form(
        delegate_http,
        f"/admin/profiles/{org.sales.id}",
        form(name="Ventas Norte", parent=org.marketing.id),
    )
    to_top = post_form(
        delegate_http, f"/admin/profiles/{org.sales.id}", form(name="Ventas Norte", parent="")
    )
    structural = post_form(
        delegate_http,
        f"/admin/profiles/{org.sales.id}",
        form(name="Ventas Norte", parent=org.north.id, kind="structural"),
    )

    assert snapshot() == before
    for answer in (outside, to_top):
        assert answer.status_code == 400
        assert field_error(answer.text, "parent") == "Choose your own profile or one below it."
    assert field_error(structural.text, "kind") == (
        "Only an administrator can make a profile structural."
    )


def test_delegate_edits_and_removes_below_their_own(delegate_http: TestClient, org: Org) -> None:
    moved = post_form(
        delegate_http,
        f"/admin/profiles/{org.sales.id}",
        form(name="Ventas", parent=org.commercial.id, is_assistant="on"),
    )
    removed = post_form(delegate_http, f"/admin/profiles/{org.sales.id}/delete")

    assert moved.status_code == 303 and removed.status_code == 303
    assert Profile.get_or_none(Profile.id == org.sales.id) is None
    updated, deleted = entries("profiles.updated")[0], entries("profiles.deleted")[0]
    assert json.loads(updated.after)["name"] == "Ventas"
    assert (updated.actor_id, deleted.actor_id) == (org.delegate.id, org.delegate.id)


def test_removal_and_export_need_the_profiles_menu(http: TestClient, org: Org) -> None:
    make_user("rep@example.com", org.sales, language="en")
    before = snapshot()
    with TestClient(http.app, base_url="http://testserver") as browser:
        log_in(browser, "rep@example.com")
        answers = [
            browser.get("/admin/profiles/export.xlsx"),
            browser.get(f"/admin/profiles/{org.marketing.id}/delete"),
            post_form(browser, f"/admin/profiles/{org.marketing.id}/delete"),
        ]

    assert [a.status_code for a in answers] == [403, 403, 403]
    assert snapshot() == before


def test_limit_values_are_read_as_decimals(http: TestClient, org: Org) -> None:
    grant(org.sales, clients__discount="7.25")

    sheet = openpyxl.load_workbook(io.BytesIO(http.get("/admin/profiles/export.xlsx").content))
    rows = list(sheet.active.iter_rows(values_only=True))
    column = rows[0].index("Clients › Grant discounts to a client")
    sales = next(row for row in rows if row[0] == "Ventas Norte")
    assert Decimal(str(sales[column])) == Decimal("7.25")


def test_a_bigger_tree_runs_no_more_queries(http: TestClient, org: Org) -> None:
    def tree_queries() -> int:
        with count_queries() as seen:
            assert http.get("/admin/profiles").status_code == 200
        return len(seen)

    small = tree_queries()
    for i in range(12):
        profile = make_profile(f"Equipo {i}", parent=org.sales)
        make_user(f"rep{i}@example.com", profile)

    assert tree_queries() == small


def test_tag_keys_show_on_the_profile_page_and_in_the_export(http: TestClient, org: Org) -> None:
    vip = Tag.create(name="VIP", colour="#112233")
    Tag.create(name="Moroso", colour="#332211")
    grant(org.sales, **{f"clients__tag__{vip.id}": ""})

    page = http.get(f"/admin/profiles/{org.sales.id}").text
    sheet = openpyxl.load_workbook(io.BytesIO(http.get("/admin/profiles/export.xlsx").content))
    rows = [[cell.value for cell in row] for row in sheet.active.iter_rows()]
    by_name = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}

    held = page.split('id="permissions"', 1)[1]
    assert "VIP" in held and "Moroso" not in held
    assert by_name["Ventas Norte"]["Clients › VIP"] == "✓"
    assert by_name["Ventas Norte"]["Clients › Moroso"] is None
