"""Spanish and English: complete catalogues, and the language each visitor sees."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po
from starlette.testclient import TestClient

from portal.config import Settings
from portal.core import notifications, tokens, webforms
from portal.core.models import (
    Activity,
    AssignmentRule,
    AssignmentRuleUser,
    Client,
    Contact,
    LeadSubmission,
    Notification,
    Opportunity,
    Pipeline,
    SavedView,
    Stage,
    Tag,
    Task,
    User,
    VacationRequest,
    WebForm,
    Zone,
)
from portal.i18n import current_language
from portal.web import emails
from portal.web.rendering import build_environment
from tests.conftest import csrf_from, log_in, make_profile, make_user, post_form, token

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "portal" / "translations"
TEMPLATE = CATALOGUES / "messages.pot"
TEMPLATES = ROOT / "templates"
PLACEHOLDER = re.compile(r"%\((\w+)\)")


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _po(language: str) -> Catalog:
    return _read(CATALOGUES / language / "LC_MESSAGES" / "messages.po", language)


def _messages(catalogue: Catalog) -> list[Message]:
    return [message for message in catalogue if message.id]


def _template_ids() -> set[str | tuple[str, ...]]:
    return {message.id for message in _messages(_read(TEMPLATE))}


def _forms(text: str | tuple[str, ...]) -> tuple[str, ...]:
    return text if isinstance(text, tuple) else (text,)


def _placeholders(texts: tuple[str, ...]) -> set[str]:
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


# ---------------------------------------------------------------- catalogues


def test_every_source_string_has_a_spanish_translation() -> None:
    spanish = _po("es")
    assert (spanish.num_plurals, spanish.plural_expr) == (2, "(n != 1)")

    problems = []
    for source in _messages(_read(TEMPLATE)):
        message = spanish.get(source.id)
        if message is None or message.fuzzy:
            problems.append((source.id, "missing or fuzzy"))
            continue
        forms = _forms(message.string)
        expected = _placeholders(_forms(source.id))
        if len(forms) != len(_forms(source.id)) or not all(forms):
            problems.append((source.id, "empty"))
        for form in forms:
            if _placeholders((form,)) != expected:
                problems.append((source.id, form))
            try:
                # Templates always %-format, so a stray "%" breaks a page.
                form % dict.fromkeys(expected, "x")
            except (KeyError, ValueError, TypeError) as error:
                problems.append((source.id, repr(error)))
    assert problems == []
    assert list(spanish.check()) == []


def test_every_user_error_literal_is_marked_for_the_catalogue() -> None:
    # UserError is not an extraction keyword (its subclasses FieldError and
    # TableError are): a bare literal would reach the catalogue never, and
    # Spanish readers would get the English.
    import ast

    unmarked = []
    for path in sorted((ROOT / "portal").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "UserError"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                unmarked.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert unmarked == []


def test_the_english_catalogue_lists_every_string_as_itself() -> None:
    english = _messages(_po("en"))

    assert {message.id for message in english} == _template_ids()
    for message in english:
        # An empty msgstr shows the msgid, which is already the English text.
        sources, forms = _forms(message.id), _forms(message.string)
        assert not message.fuzzy
        assert forms in {("",) * len(sources), sources}


def _extracted_from_sources(
    folder: Path = ROOT, mapping: Path = ROOT / "babel.cfg"
) -> set[str | tuple[str, ...]]:
    """What scripts/update-catalogues would extract now, with its own keywords."""
    script = (ROOT / "scripts" / "update-catalogues").read_text()
    keywords = parse_keywords(re.findall(r"-k (\S+)", script))
    with mapping.open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = extract_from_dir(folder, method_map, options_map, keywords=keywords)
    return {message for _file, _line, message, _comments, _context in found}


def test_the_catalogue_template_matches_the_sources() -> None:
    in_sources = _extracted_from_sources()
    in_template = _template_ids()

    # A string added or changed without running scripts/update-catalogues.
    assert in_sources - in_template == set()
    assert in_template - in_sources == set()


def _plugin_catalogue_problems(folder: Path) -> list[str]:
    """The core's catalogue checks, for a bundled plugin's own catalogues.

    A plugin without strings yet still has its (empty) catalogues, so adding its
    first string cannot go unnoticed.
    """
    translations = folder / "translations"
    stale = f"{folder.name}: run scripts/update-catalogues"
    if not (translations / "messages.pot").exists():
        return [f"{stale} (no messages.pot)"]
    in_template = {message.id for message in _messages(_read(translations / "messages.pot"))}
    problems = []
    if in_template != _extracted_from_sources(folder, ROOT / "babel-plugins.cfg"):
        problems.append(f"{stale} (messages.pot does not match the sources)")
    catalogues = {}
    for language in ("es", "en"):
        po_file = translations / language / "LC_MESSAGES" / "messages.po"
        if not po_file.exists():
            return [*problems, f"{stale} (no {language} messages.po)"]
        catalogues[language] = _read(po_file, language)
    for msgid in sorted(in_template, key=str):
        message = catalogues["es"].get(msgid)
        if message is None or message.fuzzy or not all(_forms(message.string)):
            problems.append(f"{folder.name}: no Spanish for {msgid!r}")
    if {message.id for message in _messages(catalogues["en"])} != in_template:
        problems.append(f"{stale} (the English catalogue differs from messages.pot)")
    return problems


def _bundled_plugins() -> list[Path]:
    return sorted(p for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists())


def test_every_bundled_plugin_has_complete_catalogues_of_its_own() -> None:
    problems = [
        problem for folder in _bundled_plugins() for problem in _plugin_catalogue_problems(folder)
    ]

    assert problems == []


def test_a_plugin_catalogue_check_finds_a_stale_template_and_missing_spanish(
    tmp_path: Path,
) -> None:
    from babel.messages.pofile import write_po

    plugin = tmp_path / "loyalty"
    (plugin / "templates").mkdir(parents=True)
    (plugin / "__init__.py").write_text('from portal.i18n import gettext as _\n_("Points")\n')
    (plugin / "templates" / "panel.html").write_text('{{ _("Points this month") }}')
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "__init__.py").write_text("")

    def write(folder: Path, name: str, messages: dict[str, str], locale: str | None) -> None:
        catalogue = Catalog(locale=locale)
        for msgid, msgstr in messages.items():
            catalogue.add(msgid, msgstr)
        target = folder / "translations" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            write_po(handle, catalogue)

    write(plugin, "messages.pot", {"Points": ""}, None)  # the template's string is missing
    write(plugin, "es/LC_MESSAGES/messages.po", {"Points": ""}, "es")
    write(plugin, "en/LC_MESSAGES/messages.po", {"Points": ""}, "en")
    for name, locale in (("messages.pot", None), ("es/LC_MESSAGES/messages.po", "es"),
                         ("en/LC_MESSAGES/messages.po", "en")):  # fmt: skip
        write(empty, name, {}, locale)

    assert _plugin_catalogue_problems(plugin) == [
        "loyalty: run scripts/update-catalogues (messages.pot does not match the sources)",
        "loyalty: no Spanish for 'Points'",
    ]
    assert _plugin_catalogue_problems(empty) == []
    assert _plugin_catalogue_problems(tmp_path) == [
        f"{tmp_path.name}: run scripts/update-catalogues (no messages.pot)"
    ]


def test_template_plurals_keep_the_number_formatting_of_the_language(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, database_url="sqlite://")
    text = build_environment([], settings).from_string(
        '{{ ngettext("%(num)s client", "%(num)s clients", n, num=(n|number)) }}'
    )
    for language, one, many in (
        ("es", "1 cliente", "12.345 clientes"),
        ("en", "1 client", "12,345 clients"),
    ):
        reset = current_language.set(language)
        try:
            assert (text.render(n=1), text.render(n=12345)) == (one, many)
        finally:
            current_language.reset(reset)


# ------------------------------------------------------------- what users see


def _client_of(email: str, language: str) -> tuple[User, Client]:
    user = make_user(email, make_profile("Dirección"), language=language, is_admin=True)
    client = Client(
        name="Ñandú Soluciones SL",
        owner=user,
        city="Cáceres",
        annual_revenue=Decimal("1234567.89"),
    )
    client.reindex()
    client.save()
    # 13:30 UTC is 14:30 in Madrid, the default zone.
    changed = datetime(2024, 1, 5, 13, 30)
    Client.update(updated_at=changed).where(Client.id == client.id).execute()
    return user, client


@pytest.mark.parametrize(
    ("language", "in_list", "in_detail"),
    [
        ("es", ["<h1>Clientes</h1>", "5 ene 2024", "1 cliente", "Cerrar sesión"],
         ["1.234.567,89\xa0€", "5/1/24, 14:30", "Facturación anual"]),
        ("en", ["<h1>Clients</h1>", "5 Jan 2024", "1 client", "Log out"],
         ["€1,234,567.89", "05/01/2024, 14:30", "Annual revenue"]),
    ],
)  # fmt: skip
def test_a_user_sees_words_numbers_and_dates_in_their_language(
    http: TestClient, language: str, in_list: list[str], in_detail: list[str]
) -> None:
    _user, client = _client_of("ana@example.com", language)
    log_in(http, "ana@example.com")

    listing = http.get("/clients", headers={"Accept-Language": "fr"}).text
    detail = http.get(f"/clients/{client.id}").text

    assert f'<html lang="{language}">' in listing
    assert [text for text in in_list if text not in listing] == []
    assert [text for text in in_detail if text not in detail] == []


@pytest.mark.parametrize(
    ("accept_language", "language", "words"),
    [
        ("en-US,en;q=0.9", "en", ["<h1>Log in</h1>", "Password"]),
        ("es-MX", "es", ["<h1>Iniciar sesión</h1>", "Contraseña"]),
        ("fr-FR,en;q=0.5", "en", ["<h1>Log in</h1>"]),
        ("fr-FR", "es", ["<h1>Iniciar sesión</h1>"]),  # the portal's default
    ],
)
def test_an_anonymous_visitor_gets_the_login_page_in_the_browser_language(
    http: TestClient, accept_language: str, language: str, words: list[str]
) -> None:
    page = http.get("/login", headers={"Accept-Language": accept_language}).text

    assert f'<html lang="{language}">' in page
    assert [word for word in words if word not in page] == []


@pytest.mark.parametrize(
    ("language", "id_type", "message"),
    [
        ("es", "", "No es un NIF, NIE o CIF español válido"),
        ("es", "nif", "No es un NIF español válido"),
        ("en", "nif", "Not a valid Spanish NIF"),
    ],
)
def test_a_field_error_is_shown_in_the_user_language(
    http: TestClient, language: str, id_type: str, message: str
) -> None:
    user, _client = _client_of("ana@example.com", language)
    log_in(http, "ana@example.com")

    answer = http.post(
        "/clients/new",
        data={
            "csrf_token": token(http, "/clients/new"),
            "name": "Talleres Úbeda SL",
            "kind": "company",
            "status": "lead",
            "owner": str(user.id),
            "fiscal_id_type": id_type,
            "fiscal_id": "12345678A",  # the check letter for 12345678 is Z
        },
    )

    assert answer.status_code == 400
    assert f'<p class="error" id="e-fiscal_id">{message}</p>' in answer.text


class _RecordingLoader(jinja2.BaseLoader):
    """Notes the name of every template the portal loads."""

    def __init__(self, inner: jinja2.BaseLoader) -> None:
        self.inner = inner
        self.names: set[str] = set()

    def get_source(self, environment: jinja2.Environment, template: str) -> Any:
        self.names.add(template)
        return self.inner.get_source(environment, template)


def _english_phrases() -> set[str]:
    """Source phrases whose Spanish differs, to spot any left untranslated."""
    return {
        message.id
        for message in _messages(_po("es"))
        if isinstance(message.id, str)
        and " " in message.id
        and "%" not in message.id
        and message.string != message.id
    }


def test_every_template_renders_in_spanish(http: TestClient) -> None:
    environment = http.app.state.templates  # type: ignore[attr-defined]
    recorder = _RecordingLoader(environment.loader)
    environment.loader = recorder
    user, client = _client_of("ana@example.com", "es")
    contact = Contact.create(client=client, name="Íñigo Ortiz", position="Gerente")
    Activity.create(client=client, author=user, kind="visit", subject="Primera visita")
    # Two purchases, so every figure of the purchases panel is shown.
    for days_ago in (400, 40):
        Opportunity.create(
            client=client, owner=user, title="Pedido", amount=Decimal("1500.50"),
            status="won", closed_on=date.today() - timedelta(days=days_ago),
        )  # fmt: skip
    tag = Tag.create(name="Preferente", colour="#336699")
    zone = Zone.create(name="Centro", postal_prefixes="28 45", countries="ES")
    SavedView.create(user=user, name="Mis clientes", query="status=customer")
    log_in(http, "ana@example.com")

    pages = [
        "/",
        "/clients",
        "/clients?q=ñandú",
        "/clients/new",
        f"/clients/{client.id}",
        f"/clients/{client.id}/edit",
        f"/clients/{client.id}/delete",
        f"/clients/{client.id}/timeline",
        f"/clients/{client.id}/contacts/{contact.id}/edit",
        f"/clients/{client.id}/contacts/{contact.id}/delete",
        f"/clients/{client.id}/contacts/{contact.id}/erase",
        "/clients/import",
        "/admin/profiles",
        "/admin/profiles/new",
        f"/admin/profiles/{user.profile_id}",
        f"/admin/profiles/{user.profile_id}/delete",
        "/admin/audit",
        "/admin/plugins",
        "/admin/users",
        "/admin/users/new",
        f"/admin/users/{user.id}",
        "/admin/permissions",
        "/admin/permissions?tab=clients",
        "/admin/tags",
        "/admin/tags/new",
        f"/admin/tags/{tag.id}",
        f"/admin/tags/{tag.id}/delete",
        "/admin/portfolio",
        "/admin/portfolio/reapply",
        "/admin/zones/new",
        f"/admin/zones/{zone.id}",
        f"/admin/zones/{zone.id}/delete",
        "/account",
    ]
    answers = {path: http.get(path) for path in pages}
    answers["fragment"] = http.get("/clients", headers={"HX-Request": "true"})
    answers["autocomplete"] = http.get("/clients/autocomplete?q=nandu")
    answers["owner search"] = http.get("/clients/owners?owner_q=ana")
    # A plugin's widget opened without JavaScript: a page around the fragment.
    answers["widget page"] = http.get("/objectives/widget")
    # A test email and a note by email (their templates), and the sent log listing them.
    post_form(http, "/admin/mail/test", {"to": "ana@example.com"})
    notifications.notify([notifications.Note(user, "Saved.", {}, "/")], kind="test")
    answers["mail log"] = http.get("/admin/mail?status=sent")
    answers.update(_import_pages(http, user))
    answers.update(_vacation_pages(http, user))
    answers.update(_lifetime_pages(http, user))
    answers.update(_merge_pages(http, user, client))
    answers.update(_lead_pages(http, user, client))
    answers.update(_agenda_pages(http, user, client))
    answers.update(_opportunity_pages(http, user, client))
    twin = {"name": client.name, "kind": "company", "status": "lead", "owner": user.id,
            "country": "ES", "email": client.email or "x@example.com"}  # fmt: skip
    Client.update(email=twin["email"]).where(Client.id == client.id).execute()
    answers["duplicate"] = post_form(http, "/clients/new", twin)
    chosen = {"id": [client.id], "action": "status", "value_status": "customer"}
    answers["bulk"] = post_form(http, "/clients/bulk", chosen)
    selection = f'{{"ids": [{client.id}]}}'
    applied = {"selection": selection, "action": "status", "value": "customer"}
    answers["bulk done"] = post_form(http, "/clients/bulk/apply", applied)
    missing = http.get("/clients/999999")

    statuses = {path: answer.status_code for path, answer in answers.items()}
    refused = {"duplicate": 409, "lead too large": 413, "lead invalid": 400}
    assert statuses == {**dict.fromkeys(answers, 200), **refused}
    assert missing.status_code == 404
    assert "<h1>No encontrado</h1>" in missing.text
    # Plural forms get the Spanish number format too: 1.235 rows, 1.234 clients.
    assert "1.235 filas encontradas." in answers["review"].text
    assert "1.234 clientes creados." in answers["report"].text
    assert "1 fila no se ha importado" in answers["report"].text

    english = _english_phrases()
    # A web form's English labels are meant to be English, whoever edits them.
    english_labels = re.compile(r'name="label_en_[a-z_]+"[^>]*>')
    leftovers = {
        path: [phrase for phrase in english if phrase in english_labels.sub("", answer.text)]
        for path, answer in [*answers.items(), ("404", missing)]
    }
    assert {path: found for path, found in leftovers.items() if found} == {}
    every_template = {p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")}
    assert every_template - recorder.names == set()


def _lead_pages(http: TestClient, user: User, client: Client) -> dict[str, Any]:
    """A web form with a rule, a processed lead on the client and a failed one."""
    fields = '[{"name": "name", "required": true}, {"name": "email", "required": true}, ' + (
        '{"name": "segment", "required": false}, {"name": "message", "required": false}]'
    )
    form = WebForm.create(name="Contacto", key="clave-publica", fields=fields,
                          consent_es="Acepto.", fallback_owner=user)  # fmt: skip
    rule = AssignmentRule.create(name="Centro", zone="Centro", countries="ES")
    AssignmentRuleUser.create(rule=rule, user=user)
    task = Task.create(title="Primer contacto", assignee=user, client=client, source="lead")
    LeadSubmission.create(form=form, client=client, task=task, status="processed")
    LeadSubmission.create(form=form, status="failed", error="RuntimeError: caída")
    paths = [
        "/admin/webforms",
        "/admin/webforms/new",
        f"/admin/webforms/{form.id}",
        f"/admin/webforms/{form.id}/snippet",
        "/admin/lead-rules",
        "/admin/lead-rules/new",
        f"/admin/lead-rules/{rule.id}",
        f"/admin/lead-rules/{rule.id}/delete",
        "/admin/lead-submissions",
        "/leads",
        "/f/clave-publica",
    ]
    answers = {path: http.get(path) for path in paths}
    post = {"form_token": webforms.page_token("test-secret-key", form, time.time() - 10)}
    answers["lead invalid"] = http.post("/f/clave-publica", data=post)
    answers["lead thanks"] = http.post("/f/clave-publica", data={**post, "url": "x"})
    answers["lead too large"] = http.post("/f/clave-publica", data={"name": "x" * 30000})
    return answers


def _agenda_pages(http: TestClient, user: User, client: Client) -> dict[str, Any]:
    """The agenda's three views, a task's pages and the calendar feed page."""
    from portal.core import tasks

    start = datetime.combine(date.today(), datetime.min.time()).replace(hour=10)
    weekly = tasks.create(
        user, "Reunión semanal", tasks.When.at(start, "Europe/Madrid"), kind="meeting",
        client=client, recurrence="weekly", reminder_minutes=15,
    )  # fmt: skip
    tasks.create(user, "Feria", tasks.When.all_day(date.today() - timedelta(days=3)))
    paths = [
        "/agenda",
        "/agenda?view=day&who=team",
        "/agenda?view=month",
        "/agenda/tasks/new",
        f"/agenda/tasks/{weekly.id}",
        f"/agenda/tasks/{weekly.id}/edit",
        f"/agenda/tasks/{weekly.id}/delete",
        "/agenda/feed",
    ]
    answers = {path: http.get(path) for path in paths}
    answers["feed address"] = post_form(http, "/agenda/feed")
    return answers


def _opportunity_pages(http: TestClient, user: User, client: Client) -> dict[str, Any]:
    """The board, a card moved through htmx, the form, the funnel and the pipelines."""
    deal = Opportunity.create(
        client=client, owner=user, title="Reforma", amount=Decimal("2500.00"), probability=10,
        expected_close=date.today() + timedelta(days=20),
    )  # fmt: skip
    stage = Stage.get(Stage.name == "Proposal")
    empty = Pipeline.create(name="Licitaciones", position=9)
    Stage.create(pipeline=empty, name="Oferta", position=0, probability=50, kind="open")
    paths = [
        "/opportunities",
        "/opportunities/funnel",
        f"/opportunities/funnel?days=&user={user.id}&team=0",
        "/opportunities/new?q=ñandú",
        f"/clients/{client.id}/opportunities/new",
        f"/opportunities/{deal.id}/edit",
        f"/opportunities/{deal.id}/delete",
        "/admin/pipelines",
        f"/admin/stages/{stage.id}/delete",
        f"/admin/pipelines/{empty.id}/delete",
    ]
    answers = {path: http.get(path) for path in paths}
    answers["move"] = http.post(
        f"/opportunities/{deal.id}/move",
        data={"stage": stage.id},
        headers={"HX-Request": "true", "X-CSRF-Token": token(http)},
    )
    return answers


def _vacation_pages(http: TestClient, user: User) -> dict[str, Any]:
    """A request waiting for the user's decision, one of their own, a notification."""
    seller = make_user("eva@example.com", make_profile("Ventas", user.profile), language="es")
    start = date.today() + timedelta(days=30)
    theirs = VacationRequest.create(
        user=seller, start=start, end=start, days=1, steps=f'[{{"profile": {user.profile_id}}}]'
    )
    mine = VacationRequest.create(
        user=user, start=start, end=start + timedelta(days=3), last_half="morning",
        days=Decimal("3.5"), status="approved",
    )  # fmt: skip
    Notification.create(
        user=user, text="%(name)s asks for days off from %(start)s to %(end)s.",
        values=f'{{"name": "Eva", "start": "{start}", "end": "{start}"}}', url="/vacations",
    )  # fmt: skip
    paths = [
        "/vacations",
        "/vacations/new",
        "/vacations/calendar?month=" + start.strftime("%Y-%m"),
        "/vacations/approvals",
        f"/vacations/{theirs.id}",
        f"/vacations/{mine.id}",
        f"/vacations/{mine.id}/cancel",
        "/notifications",
        f"/admin/profiles/{user.profile_id}/approvals",
        f"/admin/users/{user.id}/vacation-days",
    ]
    return {path: http.get(path) for path in paths}


def _lifetime_pages(http: TestClient, admin: User) -> dict[str, Any]:
    """Invitation, deactivation and password pages, and the two emails, in Spanish."""
    leo = make_user("leo@example.com", admin.profile, language="es")
    link = tokens.issue(leo, tokens.RESET)
    answers = {
        path: http.get(path)
        for path in (
            "/admin/users/invite",
            f"/admin/users/{leo.id}/deactivate",
            "/password/forgot",
            "/password/forgot?sent=1",
            f"/password/new/{link}",
        )
    }
    for name in ("invite", "reset"):
        parts = emails.compose(
            http.app,
            f"email/{name}.html",
            "es",
            name="Leo",
            sender="Ana",
            link="/x",
            days=7,
            minutes=60,
        )
        answers[f"email {name}"] = SimpleNamespace(status_code=200, text="\n".join(parts))
    return answers


def _merge_pages(http: TestClient, user: User, client: Client) -> dict[str, Any]:
    """Picking the other client, choosing the values and the confirmation."""
    other = Client(name="Nandu Soluciones", owner=user, city="Caceres", marketing_opt_out=True)
    other.reindex()
    other.save()
    Contact.create(client=other, name="Íñigo Ortiz", position="Gerente")
    path = f"/clients/{client.id}/merge"
    choices = http.get(path, params={"with": other.id})
    confirmation = http.post(
        path,
        data={
            "csrf_token": csrf_from(choices.text),
            "with": str(other.id),
            "version": str(client.version),
            "other_version": str(other.version),
            "pick_name": "other",
            "step": "review",
        },
    )
    return {
        "merge picker": http.get(path, params={"q": "nandu"}),
        "merge choices": choices,
        "merge confirmation": confirmation,
        "merge autocomplete": http.get(
            "/clients/autocomplete", params={"q": "n", "merge": client.id}
        ),
    }


def _import_pages(http: TestClient, owner: User) -> dict[str, Any]:
    """Upload, review and import a CSV with 1,234 good rows and one bad row."""
    rows = [f"Cliente {number};cliente{number}@example.com" for number in range(1234)]
    data = "\n".join(["Nombre;Email", *rows, "Roto;esto-no-es-un-correo"]).encode()
    upload = http.post(
        "/clients/import",
        data={"csrf_token": token(http, "/clients/import")},
        files={"file": ("clientes.csv", data, "text/csv")},
        follow_redirects=False,
    )
    assert upload.status_code == 303, upload.text
    review = http.get(upload.headers["location"])

    report = http.post(
        upload.headers["location"],
        data={
            "csrf_token": csrf_from(review.text),
            "column_0": "name",
            "column_1": "email",
            "owner": str(owner.id),
            "action": "import",
        },
    )
    history = http.get("/imports")
    job_url = re.search(r'href="(/imports/\d+)"', history.text)
    assert job_url, history.text
    job = http.get(job_url.group(1))
    return {"review": review, "report": report, "history": history, "job": job}
