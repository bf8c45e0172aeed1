"""Public web forms and the rules that hand their leads out: how they are defined.

The administrator picks the fields a form shows from a fixed list (nothing a
visitor posts outside that list is ever read), writes its texts in Spanish and
English and chooses what follows a submission. Assignment rules are an ordered
list; portal/core/leads.py applies them.

A form's page on Cartera (/f/<key>) carries a signed token with the time it was
rendered, which proves the minimum fill time. The snippet pasted into another
site cannot: it carries a fixed token signed for the form instead, so posts
from it are held to the honeypot and the rate limit alone (docs/leads.md).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import peewee as pw

from portal.core import audit
from portal.core.models import (
    SEGMENTS,
    AssignmentRule,
    AssignmentRuleUser,
    Profile,
    User,
    WebForm,
)
from portal.database import db, utcnow
from portal.i18n import gettext as _
from portal.text import clean, is_digits, one_line, parse_id

LANGUAGES = ("es", "en")


@dataclass(frozen=True)
class FieldSpec:
    """A field a form may show: its input type, length limit and default labels."""

    name: str
    kind: str  # text | email | tel | textarea | segment
    limit: int
    label_es: str
    label_en: str


# What a visitor may be asked, in the order a form shows it. The labels are the
# defaults the administrator may reword; they are written in both languages
# here because a form speaks its own language, not the reader's.
FIELDS = (
    FieldSpec("name", "text", 150, "Nombre y apellidos", "Full name"),
    FieldSpec("company", "text", 200, "Empresa", "Company"),
    FieldSpec("position", "text", 100, "Cargo", "Position"),
    FieldSpec("email", "email", 254, "Correo electrónico", "Email"),
    FieldSpec("phone", "tel", 32, "Teléfono", "Phone"),
    FieldSpec("fiscal_id", "text", 40, "NIF / CIF", "Tax ID"),
    FieldSpec("postal_code", "text", 20, "Código postal", "Postal code"),
    FieldSpec("city", "text", 100, "Ciudad", "City"),
    FieldSpec("country", "text", 60, "País", "Country"),
    FieldSpec("segment", "segment", 10, "Tamaño de la empresa", "Company size"),
    FieldSpec("message", "textarea", 2000, "Mensaje", "Message"),
)
SPECS = {spec.name: spec for spec in FIELDS}
# Every form asks for a name and for a way to reach the person.
ALWAYS = ("name", "email")
SEGMENT_CHOICES = {
    "es": {"large": "Grande", "medium": "Mediana", "small": "Pequeña"},
    "en": {"large": "Large", "medium": "Medium", "small": "Small"},
}
# Sent by the page and the snippet besides the chosen fields.
TOKEN_FIELD = "form_token"
CONSENT_FIELD = "consent"
# Hidden from people by the stylesheet; a bot that fills it is told thank you.
HONEYPOT_FIELD = "url"
TEXT_LIMIT = 2000
TITLE_LIMIT = 150
MAX_DUE_HOURS = 24 * 14


# ------------------------------------------------------------------ tokens


def _signature(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def page_token(secret: str, form: WebForm, now: float | None = None) -> str:
    """The token of a form page rendered now: its time, signed for this form."""
    issued = int(time.time() if now is None else now)
    return f"p.{issued}.{_signature(secret, f'lead-page:{form.key}:{issued}')}"


def snippet_token(secret: str, form: WebForm) -> str:
    """The fixed token of the pasted snippet, signed for this form."""
    return f"s.{_signature(secret, f'lead-snippet:{form.key}')}"


@dataclass(frozen=True)
class TokenCheck:
    """What a posted token says: where the post came from and when the page was made."""

    origin: str  # "page" | "snippet" | "" (missing or forged)
    issued: int | None = None


def read_token(secret: str, form: WebForm, token: str) -> TokenCheck:
    parts = token.split(".")
    if len(parts) == 2 and parts[0] == "s":
        if hmac.compare_digest(parts[1].encode(), snippet_token(secret, form)[2:].encode()):
            return TokenCheck("snippet")
    if len(parts) == 3 and parts[0] == "p" and is_digits(parts[1]) and len(parts[1]) < 12:
        expected = _signature(secret, f"lead-page:{form.key}:{parts[1]}")
        if hmac.compare_digest(parts[2].encode(), expected.encode()):
            return TokenCheck("page", int(parts[1]))
    return TokenCheck("")


# ------------------------------------------------------------------ forms


def new_key() -> str:
    """The public part of a form's address: 128 random bits, not guessable."""
    return secrets.token_urlsafe(16)


def chosen_fields(form: WebForm) -> list[dict[str, Any]]:
    """The form's fields as stored, in the order of FIELDS, unknown names dropped."""
    try:
        stored = json.loads(form.fields or "[]")
    except ValueError:
        stored = []
    by_name = {item.get("name"): item for item in stored if isinstance(item, dict)}
    return [by_name[spec.name] for spec in FIELDS if spec.name in by_name]


def text_in(form: WebForm, name: str, language: str) -> str:
    """One of the form's texts in `language`, or in the other one when left empty."""
    other = "en" if language == "es" else "es"
    return getattr(form, f"{name}_{language}", "") or getattr(form, f"{name}_{other}", "")


def title_in(form: WebForm, language: str) -> str:
    """The heading of the form's page in `language`: its title, the other one, or its name."""
    return text_in(form, "title", language) or form.name


def form_values(form: WebForm | None) -> dict[str, str]:
    """The editor's fields for a form (or a new one)."""
    if form is None:
        raw = {"language": "es", "due_hours": "4", "is_active": "on"}
        for spec in FIELDS:
            if spec.name in (*ALWAYS, "phone", "company", "message"):
                raw[f"use_{spec.name}"] = "on"
            if spec.name in ALWAYS:
                raw[f"required_{spec.name}"] = "on"
            raw[f"label_es_{spec.name}"] = spec.label_es
            raw[f"label_en_{spec.name}"] = spec.label_en
        return raw
    raw = {
        "name": form.name,
        "language": form.language,
        "title_es": form.title_es,
        "title_en": form.title_en,
        "consent_es": form.consent_es,
        "consent_en": form.consent_en,
        "thanks_es": form.thanks_es,
        "thanks_en": form.thanks_en,
        "redirect_url": form.redirect_url,
        "due_hours": str(form.due_hours),
        "fallback_owner": str(form.fallback_owner_id or ""),
        "is_active": "on" if form.is_active else "",
    }
    stored = {item["name"]: item for item in chosen_fields(form)}
    for spec in FIELDS:
        item = stored.get(spec.name)
        raw[f"use_{spec.name}"] = "on" if item else ""
        raw[f"required_{spec.name}"] = "on" if item and item.get("required") else ""
        raw[f"label_es_{spec.name}"] = (item or {}).get("label_es") or spec.label_es
        raw[f"label_en_{spec.name}"] = (item or {}).get("label_en") or spec.label_en
    return raw


def owner_choices() -> pw.SelectQuery:
    """Active people who may own clients: not assistants."""
    assistants = Profile.select(Profile.id).where(Profile.is_assistant == True)  # noqa: E712
    return (
        User.select()
        .where(User.is_active == True, User.profile.not_in(assistants))  # noqa: E712
        .order_by(User.name, User.id)
    )


def validate_form(raw: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """A form definition from the editor, or a message per field."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"name": clean(raw.get("name", ""))[:100]}
    if not values["name"]:
        errors["name"] = _("Give it a name.")
    values["language"] = raw.get("language") if raw.get("language") in LANGUAGES else "es"
    for name in ("title_es", "title_en"):
        values[name] = one_line(clean(raw.get(name, "")))
        if len(values[name]) > TITLE_LIMIT:
            errors[name] = _("At most %(n)s characters.", n=TITLE_LIMIT)
    for name in ("consent_es", "consent_en", "thanks_es", "thanks_en"):
        values[name] = clean(raw.get(name, ""))
        if len(values[name]) > TEXT_LIMIT:
            errors[name] = _("At most %(n)s characters.", n=TEXT_LIMIT)

    url = clean(raw.get("redirect_url", ""))
    parts = urlsplit(url)
    if url and (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or re.search(r"[\s\"'<>\\`]", url)
        or len(url) > 255
    ):
        errors["redirect_url"] = _("Give a full web address starting with http:// or https://.")
    values["redirect_url"] = url

    hours = parse_id(raw.get("due_hours", ""))
    if hours is None or not 1 <= hours <= MAX_DUE_HOURS:
        errors["due_hours"] = _("A whole number of hours from 1 to %(n)s.", n=MAX_DUE_HOURS)
    values["due_hours"] = hours or 0
    owner_id = parse_id(raw.get("fallback_owner", ""))
    owner = owner_choices().where(User.id == owner_id).first() if owner_id else None
    if owner is None:
        errors["fallback_owner"] = _("Choose who gets the leads no rule gives to anyone.")
    values["fallback_owner"] = owner
    values["is_active"] = raw.get("is_active") == "on"

    fields = []
    for spec in FIELDS:
        if spec.name not in ALWAYS and raw.get(f"use_{spec.name}") != "on":
            continue
        labels = {}
        for language in LANGUAGES:
            text = clean(raw.get(f"label_{language}_{spec.name}", ""))[:100]
            labels[language] = text or (spec.label_es if language == "es" else spec.label_en)
        fields.append(
            {
                "name": spec.name,
                "required": spec.name in ALWAYS or raw.get(f"required_{spec.name}") == "on",
                "label_es": labels["es"],
                "label_en": labels["en"],
            }
        )
    values["fields"] = json.dumps(fields, ensure_ascii=False)
    return values, errors


def save_form(form: WebForm | None, values: dict[str, Any], *, actor: User, ip: str) -> WebForm:
    with db.atomic():
        if form is None:
            form = WebForm.create(key=new_key(), **values)
            audit.record("leads.form.created", actor=actor, target=form, ip=ip)
            return form
        before = {name: getattr(form, name) for name in values}
        for name, value in values.items():
            setattr(form, name, value)
        form.updated_at = utcnow()
        form.save()
        old, new = audit.changes(before, values)
        audit.record("leads.form.changed", actor=actor, target=form, before=old, after=new, ip=ip)
    return form


def snippet(form: WebForm, *, base_url: str, secret: str, language: str) -> str:
    """Plain HTML to paste into another site: it posts here and needs no script."""
    esc = html.escape
    lines = [
        f'<form method="post" action="{esc(base_url)}/f/{esc(form.key)}" '
        f'accept-charset="utf-8" lang="{language}">',
        f'  <input type="hidden" name="{TOKEN_FIELD}" value="{snippet_token(secret, form)}">',
        f'  <input type="hidden" name="lang" value="{language}">',
    ]
    for item in chosen_fields(form):
        spec = SPECS[item["name"]]
        label = esc(item.get(f"label_{language}") or "")
        required = " required" if item.get("required") else ""
        mark = " *" if required else ""
        lines.append(f'  <p><label for="lead-{spec.name}">{label}{mark}</label><br>')
        attrs = f'id="lead-{spec.name}" name="{spec.name}" maxlength="{spec.limit}"{required}'
        if spec.kind == "textarea":
            lines.append(f'  <textarea {attrs} rows="4"></textarea></p>')
        elif spec.kind == "segment":
            options = "".join(
                f'<option value="{code}">{esc(text)}</option>'
                for code, text in SEGMENT_CHOICES[language].items()
            )
            lines.append(f'  <select id="lead-{spec.name}" name="{spec.name}"{required}>'
                         f'<option value=""></option>{options}</select></p>')  # fmt: skip
        else:
            lines.append(f'  <input type="{spec.kind}" {attrs}></p>')
    consent = text_in(form, "consent", language)
    if consent:
        lines.append(
            f'  <p><label><input type="checkbox" name="{CONSENT_FIELD}" value="yes"> '
            f"{esc(consent)}</label></p>"
        )
    # Off-screen rather than display:none, which some bots know to skip.
    lines.append(
        '  <p style="position:absolute;left:-10000px" aria-hidden="true">'
        f'<input type="text" name="{HONEYPOT_FIELD}" tabindex="-1" autocomplete="off"></p>'
    )
    send = "Enviar" if language == "es" else "Send"
    lines.append(f"  <p><button>{send}</button></p>")
    lines.append("</form>")
    return "\n".join(lines)


# ------------------------------------------------------------------ rules


def rules() -> list[AssignmentRule]:
    return list(
        AssignmentRule.select(AssignmentRule, WebForm)
        .join(WebForm, pw.JOIN.LEFT_OUTER, on=(AssignmentRule.form == WebForm.id))
        .order_by(AssignmentRule.position, AssignmentRule.id)
    )


def members_of(rule_ids: list[int]) -> dict[int, list[User]]:
    """The eligible people of each rule, by name, in one query."""
    found: dict[int, list[User]] = {rule_id: [] for rule_id in rule_ids}
    if not rule_ids:
        return found
    query = (
        AssignmentRuleUser.select(AssignmentRuleUser, User)
        .join(User, on=(AssignmentRuleUser.user == User.id))
        .where(AssignmentRuleUser.rule.in_(rule_ids))
        .order_by(User.name, User.id)
    )
    for link in query:
        found[link.rule_id].append(link.user)
    return found


def rule_values(rule: AssignmentRule | None) -> dict[str, Any]:
    if rule is None:
        return {"position": "10", "members": []}
    return {
        "name": rule.name,
        "position": str(rule.position),
        "form": str(rule.form_id or ""),
        "zone": rule.zone,
        "postal_prefixes": rule.postal_prefixes,
        "countries": rule.countries,
        "segment": rule.segment,
        "members": [str(user.id) for user in members_of([rule.id])[rule.id]],
    }


_PREFIXES = re.compile(r"^[0-9A-Za-z]{1,10}( [0-9A-Za-z]{1,10})*$")
_COUNTRIES = re.compile(r"^[A-Z]{2}( [A-Z]{2})*$")


def validate_rule(raw: dict[str, Any], member_ids: list[str]) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"name": clean(raw.get("name", ""))[:100]}
    if not values["name"]:
        errors["name"] = _("Give it a name.")
    position = parse_id(raw.get("position", "0") or "0")
    if position is None or position > 100000:
        errors["position"] = _("A whole number.")
    values["position"] = position or 0
    form_id = parse_id(raw.get("form", ""))
    values["form"] = WebForm.get_or_none(WebForm.id == form_id) if form_id else None
    if form_id and values["form"] is None:
        errors["form"] = _("Choose one of the options.")
    values["zone"] = clean(raw.get("zone", ""))[:100]
    prefixes = " ".join(clean(raw.get("postal_prefixes", "")).replace(",", " ").split())
    if prefixes and not _PREFIXES.match(prefixes):
        errors["postal_prefixes"] = _(
            "Letters and digits separated by spaces, for example: 28 45 19"
        )
    values["postal_prefixes"] = prefixes
    countries = " ".join(clean(raw.get("countries", "")).upper().replace(",", " ").split())
    if countries and not _COUNTRIES.match(countries):
        errors["countries"] = _("Two-letter codes separated by spaces, for example: ES PT")
    values["countries"] = countries
    segment = raw.get("segment", "")
    if segment and segment not in SEGMENTS:
        errors["segment"] = _("Choose one of the options.")
    values["segment"] = segment if segment in SEGMENTS else ""
    ids = {parse_id(value) for value in member_ids} - {None}
    people = list(owner_choices().where(User.id.in_(ids))) if ids else []
    if len(people) != len(ids) or not people:
        errors["members"] = _("Choose at least one person who may own clients.")
    values["members"] = people
    return values, errors


def save_rule(
    rule: AssignmentRule | None, values: dict[str, Any], *, actor: User, ip: str
) -> AssignmentRule:
    people = values.pop("members")
    with db.atomic():
        if rule is None:
            rule = AssignmentRule.create(**values)
            before: dict[str, Any] = {}
        else:
            before = rule_values(rule)
            for name, value in values.items():
                setattr(rule, name, value)
            rule.save()
            AssignmentRuleUser.delete().where(AssignmentRuleUser.rule == rule.id).execute()
        AssignmentRuleUser.insert_many([{"rule": rule.id, "user": p.id} for p in people]).execute()
        after = {**values, "members": [str(p.id) for p in people]}
        old, new = audit.changes(before, after)
        audit.record("leads.rule.saved", actor=actor, target=rule, before=old, after=new, ip=ip)
    return rule


def delete_rule(rule: AssignmentRule, *, actor: User, ip: str) -> None:
    with db.atomic():
        audit.record("leads.rule.deleted", actor=actor, target=rule, ip=ip)
        rule.delete_instance()
