"""Marketing consent: every change recorded with its evidence, and suppressed addresses.

A contact's current state lives on the contact for quick filtering; the
`ConsentRecord` rows are the history that proves it: when, how, the text the
person was shown, and who recorded it. An erased person leaves only a hash of
their address in `Suppression`, so nothing is ever mailed to it again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import peewee as pw

from portal.core.models import CONSENT_STATES, Client, ConsentRecord, Contact, Suppression, User
from portal.database import db, utcnow
from portal.i18n import N_
from portal.i18n import gettext as _
from portal.text import clean

METHODS = {
    "form": N_("Web form"),
    "email": N_("By email"),
    "phone": N_("By phone"),
    "in_person": N_("In person"),
    "paper": N_("Signed on paper"),
    "import": N_("Imported"),
    "merge": N_("Merge of two records"),
}
STATE_LABELS = {
    "given": N_("Consent given"),
    "withdrawn": N_("Consent withdrawn"),
    "": N_("Not asked"),
}
# Methods a person can choose on the form; the others are written by the portal itself.
CHOOSABLE = ("form", "email", "phone", "in_person", "paper")
TEXT_LIMIT = 2000
EVIDENCE_LIMIT = 2000


def validate(raw: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The consent change posted by a user, or a message per field."""
    values = {
        "state": raw.get("state", ""),
        "method": raw.get("method", ""),
        "text_shown": clean(raw.get("text_shown", "")),
        "evidence": clean(raw.get("evidence", "")),
    }
    errors: dict[str, str] = {}
    if values["state"] not in CONSENT_STATES:
        errors["state"] = _("Choose one of the options.")
    if values["method"] not in CHOOSABLE:
        errors["method"] = _("Choose one of the options.")
    if values["state"] == "given" and not values["text_shown"]:
        errors["text_shown"] = _("Consent needs the text the person agreed to.")
    for name, limit in (("text_shown", TEXT_LIMIT), ("evidence", EVIDENCE_LIMIT)):
        if len(values[name]) > limit:
            errors[name] = _("At most %(n)s characters.", n=limit)
    return values, errors


def record(
    contact: Contact,
    state: str,
    method: str,
    *,
    text_shown: str = "",
    evidence: str = "",
    actor: User | None = None,
    ip: str = "",
) -> ConsentRecord:
    """Set the contact's consent and keep the evidence, in one transaction.

    Withdrawing from a company's contact does not opt the whole company out;
    for a person-client the contact is the person, so the client follows.
    """
    with db.atomic():
        entry = ConsentRecord.create(
            client=contact.client_id, contact=contact, email=contact.email, state=state,
            method=method, text_shown=text_shown, evidence=evidence, actor=actor, ip=ip,
        )  # fmt: skip
        Contact.update(marketing_consent=state, consent_at=entry.at, updated_at=utcnow()).where(
            Contact.id == contact.id
        ).execute()
        client = Client.get_by_id(contact.client_id)
        if client.kind == "person" and state == "withdrawn":
            Client.update(marketing_opt_out=True).where(Client.id == client.id).execute()
    return entry


def history(contact: Contact) -> list[ConsentRecord]:
    # Who recorded each change comes in the same query, not one query a row.
    query = (
        ConsentRecord.select(ConsentRecord, User)
        .join(User, pw.JOIN.LEFT_OUTER, on=(ConsentRecord.actor == User.id))
        .where(ConsentRecord.contact == contact)
    )
    return list(query.order_by(ConsentRecord.at.desc(), ConsentRecord.id.desc()))


def email_hash(email: str) -> str:
    return hashlib.sha256(email.strip().casefold().encode()).hexdigest()


def suppress(emails: Iterable[str], reason: str) -> None:
    """Never mail these addresses again (kept only as hashes)."""
    hashes = {email_hash(email) for email in emails if email and email.strip()}
    for value in sorted(hashes):
        Suppression.insert(email_hash=value, reason=reason).on_conflict_ignore().execute()


def is_suppressed(email: str) -> bool:
    return Suppression.select().where(Suppression.email_hash == email_hash(email)).exists()


def may_market_to(contact: Contact) -> bool:
    """Whether a campaign may write to this contact: consent given and not suppressed."""
    if contact.marketing_consent != "given" or not contact.email:
        return False
    client = Client.get_by_id(contact.client_id)
    return not client.marketing_opt_out and not is_suppressed(contact.email)
