"""The rights of a person over their data: a copy of everything held, and erasure.

A *subject* is a contact, or a client that is a person. The copy gathers the
core's records and every plugin's (`personal_data` hook) into one ZIP with the
data as JSON and one CSV per section. Erasure removes or blanks the personal
data everywhere in one transaction (plugins through `erase_personal_data`,
which keep what the law requires, such as issued invoices) and leaves a hash
of each address in the suppression list so it is never mailed again.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import peewee as pw
import pluggy

from portal.core import audit, consent
from portal.core.models import (
    Activity,
    AuditEntry,
    Client,
    ClientMerge,
    ClientTag,
    ConsentRecord,
    Contact,
    LeadSubmission,
    Opportunity,
    Tag,
    Task,
    User,
)
from portal.database import db, utcnow
from portal.text import fold

# What replaces a name, address or number found inside free text.
ERASED = "[…]"
# Client fields that describe a person; blanked on erasure (the row stays for
# the records that must be kept, such as invoices issued to them).
PERSONAL_CLIENT_FIELDS = (
    "email", "phone", "mobile", "address", "city", "postal_code", "province",
    "website", "notes", "fiscal_id", "fiscal_id_type", "external_id",
)  # fmt: skip
INTERNAL = {"search_text", "sort_name", "version"}
MIN_TERM = 3
# Words of a name that name nobody on their own.
PARTICLES = frozenset({"del", "las", "los", "san", "santa", "von", "van", "der"})


@dataclass(frozen=True)
class Subject:
    """Whose data: `kind` is "contact" or "client", `record_id` its id."""

    kind: str
    record_id: int


def _row(model: pw.Model) -> dict[str, Any]:
    return {
        field.column_name: _plain(getattr(model, field.column_name))
        for field in model._meta.sorted_fields
        if field.name not in INTERNAL
    }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _terms(name: str, *values: str) -> list[str]:
    """The identifying strings of a person worth looking for in free text.

    The whole name, each of its words ("Llamada a Marta"), and the addresses
    and numbers given; words too short or too common to name anyone are left out.
    """
    words = [word for word in re.split(r"[\s,]+", name) if fold(word) not in PARTICLES]
    candidates = [name, *words, *values]
    terms = {value.strip() for value in candidates if value and len(value.strip()) >= MIN_TERM}
    return sorted(terms, key=len, reverse=True)


class _Mentions:
    """Finds the terms in text whatever its case and accents ("Fusion" is "Fusión")."""

    def __init__(self, terms: list[str]) -> None:
        folded = sorted({fold(term) for term in terms}, key=len, reverse=True)
        alternatives = "|".join(re.escape(term) for term in folded)
        self.pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")

    @staticmethod
    def _folded(text: str) -> tuple[str, list[int]]:
        """The folded text, and for each of its characters the original's index."""
        parts, origin = [], []
        for index, char in enumerate(text):
            folded = fold(char)
            parts.append(folded)
            origin.extend([index] * len(folded))
        return "".join(parts), origin

    def search(self, text: str) -> bool:
        return bool(text) and self.pattern.search(self._folded(text)[0]) is not None

    def sub(self, text: str) -> str:
        if not text:
            return text
        folded, origin = self._folded(text)
        pieces, last = [], 0
        for found in self.pattern.finditer(folded):
            start, end = origin[found.start()], origin[found.end() - 1] + 1
            pieces += [text[last:start], ERASED]
            last = end
        return "".join(pieces) + text[last:] if pieces else text


def _mentions(terms: list[str]) -> _Mentions | None:
    return _Mentions(terms) if terms else None


def _former_ids(client_id: int) -> list[int]:
    """The client's id and those of the clients merged into it."""
    merged = ClientMerge.select(ClientMerge.merged_id).where(ClientMerge.survivor == client_id)
    return [client_id, *(merged_id for (merged_id,) in merged.tuples())]


def _audit_about(table: str, record_id: int) -> pw.SelectQuery:
    ids = _former_ids(record_id) if table == "client" else [record_id]
    return AuditEntry.select().where(AuditEntry.object_type == table, AuditEntry.object_id.in_(ids))


# -- the copy ---------------------------------------------------------------------


def personal_data(subject: Subject, plugins: pluggy.PluginManager) -> dict[str, list[dict]]:
    """Every record about the subject, by section."""
    if subject.kind == "contact":
        sections = _contact_data(Contact.get_by_id(subject.record_id))
    else:
        sections = _client_data(Client.get_by_id(subject.record_id))
    for answer in plugins.hook.personal_data(kind=subject.kind, record_id=subject.record_id):
        for name, rows in (answer or {}).items():
            sections.setdefault(name, []).extend(rows)
    return sections


def _contact_data(contact: Contact) -> dict[str, list[dict]]:
    client = Client.get_by_id(contact.client_id)
    pattern = _mentions(_terms(contact.name, contact.email, contact.email_alt,
                               contact.phone, contact.mobile))  # fmt: skip
    mentioned, tasks = [], []
    if pattern is not None:
        for activity in Activity.select().where(Activity.client == client.id):
            if pattern.search(activity.subject) or pattern.search(activity.notes):
                mentioned.append(_row(activity))
        for task in Task.select().where(Task.client == client.id):
            if task.contact_id == contact.id or pattern.search(task.title + task.notes):
                tasks.append(_row(task))
    return {
        "contact": [{**_row(contact), "client_name": client.name}],
        "consent": [
            _row(r) for r in ConsentRecord.select().where(ConsentRecord.contact == contact)
        ],
        "activities": mentioned,
        "tasks": tasks,
        "audit": [_row(entry) for entry in _audit_about("contact", contact.id)],
    }


def _client_data(client: Client) -> dict[str, list[dict]]:
    tags = Tag.select(Tag.name).join(ClientTag).where(ClientTag.client == client.id)
    return {
        "client": [_row(client)],
        "contacts": [_row(c) for c in Contact.select().where(Contact.client == client.id)],
        "consent": [
            _row(r) for r in ConsentRecord.select().where(ConsentRecord.client == client.id)
        ],
        "activities": [_row(a) for a in Activity.select().where(Activity.client == client.id)],
        "tasks": [_row(t) for t in Task.select().where(Task.client == client.id)],
        "opportunities": [
            _row(o) for o in Opportunity.select().where(Opportunity.client == client.id)
        ],
        "tags": [{"name": name} for (name,) in tags.tuples()],
        "web_form_submissions": [
            _row(s) for s in LeadSubmission.select().where(LeadSubmission.client == client.id)
        ],
        "audit": [_row(entry) for entry in _audit_about("client", client.id)],
    }


def as_zip(sections: dict[str, list[dict]]) -> bytes:
    """One download: everything as JSON, and each section as a CSV Excel opens."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "personal-data.json", json.dumps(sections, ensure_ascii=False, indent=2, default=str)
        )
        for name, rows in sections.items():
            archive.writestr(f"{name}.csv", _csv(rows))
    return buffer.getvalue()


def _csv(rows: list[dict]) -> bytes:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return "\ufeff".encode() + text.getvalue().encode()


def _cell(value: Any) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is kept as text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# -- erasure ------------------------------------------------------------------------


def erase(
    subject: Subject, plugins: pluggy.PluginManager, *, actor: User | None, ip: str = ""
) -> None:
    """Remove the subject's personal data everywhere, all or nothing."""
    with db.atomic():
        if subject.kind == "contact":
            contact = Contact.get_by_id(subject.record_id)
            client_id = contact.client_id
            _erase_contact(contact)
        else:
            client_id = subject.record_id
            _erase_client(Client.get_by_id(client_id))
        plugins.hook.erase_personal_data(kind=subject.kind, record_id=subject.record_id)
        audit.record(
            f"gdpr.{subject.kind}.erased",
            actor=actor,
            after={"kind": subject.kind, "id": subject.record_id, "client_id": client_id},
            ip=ip,
        )


def _scrub(pattern: _Mentions | None, text: str) -> str:
    return pattern.sub(text) if pattern is not None else text


def _scrub_mentions(client_id: int, pattern: _Mentions | None) -> None:
    """Take the person out of the client's activities and tasks."""
    if pattern is None:
        return
    for activity in Activity.select().where(Activity.client == client_id):
        subject, notes = _scrub(pattern, activity.subject), _scrub(pattern, activity.notes)
        if (subject, notes) != (activity.subject, activity.notes):
            Activity.update(subject=subject, notes=notes).where(
                Activity.id == activity.id
            ).execute()
    for task in Task.select().where(Task.client == client_id):
        title, notes = _scrub(pattern, task.title), _scrub(pattern, task.notes)
        if (title, notes) != (task.title, task.notes):
            Task.update(title=title, notes=notes).where(Task.id == task.id).execute()


def _blank_evidence(condition: pw.Expression) -> None:
    """Consent history stays as proof of what happened, without who it was."""
    ConsentRecord.update(email="", evidence="", ip="").where(condition).execute()


def _blank_audit(table: str, record_id: int, label: str) -> None:
    about = _audit_about(table, record_id).select(AuditEntry.id)
    AuditEntry.update(before="{}", after="{}", object_label=label).where(
        AuditEntry.id.in_(about)
    ).execute()


def _blank_submissions(client_id: int, emails: Iterable[str] | None = None) -> None:
    """Web-form posts keep what the person typed: forget it, keep that a post came.

    Only the posts made with one of `emails`, or every post of the client (None).
    """
    wanted = {email.casefold() for email in emails or () if email}
    if emails is not None and not wanted:
        return
    for submission in LeadSubmission.select().where(LeadSubmission.client == client_id):
        try:
            values = json.loads(submission.payload).get("values", {})
        except ValueError:
            values = {}
        if emails is None or str(values.get("email", "")).casefold() in wanted:
            LeadSubmission.update(payload="{}", ip="").where(
                LeadSubmission.id == submission.id
            ).execute()


def _erase_contact(contact: Contact) -> None:
    consent.suppress([contact.email, contact.email_alt], reason="erasure")
    _blank_submissions(contact.client_id, [contact.email, contact.email_alt])
    pattern = _mentions(_terms(contact.name, contact.email, contact.email_alt,
                               contact.phone, contact.mobile))  # fmt: skip
    _scrub_mentions(contact.client_id, pattern)
    _blank_evidence(ConsentRecord.contact == contact.id)
    _blank_audit("contact", contact.id, ERASED)
    contact.delete_instance()


def _erase_client(client: Client) -> None:
    contacts = list(Contact.select().where(Contact.client == client.id))
    emails: Iterable[str] = [client.email, *(c.email for c in contacts),
                             *(c.email_alt for c in contacts)]  # fmt: skip
    consent.suppress(emails, reason="erasure")
    for contact in contacts:
        _erase_contact(contact)
    # The activities of a person-client are about that person: keep only what
    # kind of contact happened, when and by whom.
    Activity.update(subject="", notes="").where(Activity.client == client.id).execute()
    pattern = _mentions(_terms(client.name, client.email, client.phone, client.mobile))
    # Tasks keep what is to be done (a title is needed), without the person in it.
    Task.update(notes="").where(Task.client == client.id).execute()
    for task in Task.select().where(Task.client == client.id):
        title = _scrub(pattern, task.title)
        if title != task.title:
            Task.update(title=title).where(Task.id == task.id).execute()
    for opportunity in Opportunity.select().where(Opportunity.client == client.id):
        title = _scrub(pattern, opportunity.title)
        if title != opportunity.title:
            Opportunity.update(title=title).where(Opportunity.id == opportunity.id).execute()
    _blank_evidence(ConsentRecord.client == client.id)
    _blank_submissions(client.id)
    _blank_audit("client", client.id, ERASED)
    for name in PERSONAL_CLIENT_FIELDS:
        setattr(client, name, "")
    client.name = f"{ERASED} #{client.id}"
    client.latitude = client.longitude = None
    client.registered_on = None
    client.marketing_opt_out = True
    client.erased_at = utcnow()
    client.reindex()
    client.version += 1
    client.updated_at = utcnow()
    client.save()
