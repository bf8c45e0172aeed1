"""Web leads: from a visitor's post to a client, a task and an owner who knows.

A post is read (allowed fields only, limits, honeypot, fill time), stored on
its own as a `LeadSubmission`, and then processed in one transaction: match an
existing client or contact, or create a lead client; pick the owner by the
assignment rules (round robin, a person away replaced by their stand-in); open
the first-contact task with its reminder; record the consent; post the
notification, queue the owner's email in the outbox and write the audit entry.
If any step fails the transaction leaves nothing behind (the email included)
and the submission stays, marked failed, to be tried again.

Matching reads every client, whoever owns it: the lead comes from outside, and
nothing of what is found goes back to the visitor.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import peewee as pw

from portal import events
from portal.config import Settings
from portal.core import absences, audit, consent, notifications, portfolio, tasks, webforms
from portal.core.fields import (
    FieldError,
    fiscal_id_spellings,
    normalise_country,
    normalise_email,
    normalise_fiscal_id,
    normalise_phone,
)
from portal.core.models import (
    SEGMENTS,
    Activity,
    AssignmentRule,
    AssignmentRuleUser,
    Client,
    Contact,
    LeadSubmission,
    Profile,
    Task,
    User,
    WebForm,
)
from portal.core.notifications import Note
from portal.core.permissions import Grants
from portal.core.visibility import Scope
from portal.database import db, utcnow
from portal.i18n import N_, UserError
from portal.i18n import gettext as _
from portal.text import clean, one_line

logger = logging.getLogger(__name__)

# Posts one address may make to one form in the window before it is refused.
RATE_LIMIT = 5
RATE_WINDOW = timedelta(minutes=10)
# A person needs at least this long to fill a form in; a bot does not.
MIN_FILL_SECONDS = 3
# A page left open longer than this must be reloaded (its token is too old).
PAGE_TOKEN_MAX_AGE = 24 * 3600
BODY_LIMIT = 20 * 1024
MAX_FIELDS = 60
REMINDER_MINUTES = 15
# The worker gives up on a failed submission after this many attempts.
MAX_ATTEMPTS = 5
STATES = ("new", "overdue", "contacted", "closed")
STATE_NAMES = {
    "new": N_("New"),
    "overdue": N_("First contact overdue"),
    "contacted": N_("Contacted"),
    "closed": N_("Closed"),
}
NEW_LEAD = N_("New lead assigned: %(name)s")
LEAD_FAILED = N_("A web lead from the form %(form)s could not be processed.")
# Who is told when a lead cannot be placed: whoever looks after the forms.
ADMIN_KEY = "menu.admin.webforms"
SPAM_REASONS = {
    "honeypot": N_("hidden field filled in"),
    "too_fast": N_("sent too fast"),
    "token": N_("no valid form token"),
}


class LeadError(UserError):
    """Processing cannot go on (no one to give the lead to, say); worded for the log."""


# ------------------------------------------------------------------ reading a post


@dataclass
class Reading:
    """What a post holds once read: clean values, messages per field, or spam."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    spam: str = ""  # why it was taken for a bot: honeypot | token | too_fast
    expired: bool = False
    origin: str = ""
    raw: dict[str, str] = field(default_factory=dict)


def read_post(form: WebForm, pairs: list[tuple[str, str]], *, secret: str, now: float) -> Reading:
    """Read a posted form; fields the form does not ask for are ignored."""
    chosen = {item["name"]: item for item in webforms.chosen_fields(form)}
    known = {*chosen, webforms.TOKEN_FIELD, webforms.CONSENT_FIELD, webforms.HONEYPOT_FIELD}
    raw: dict[str, str] = {}
    for name, value in pairs:
        if name in known and name not in raw:
            raw[name] = clean(value)
    reading = Reading(raw={k: v for k, v in raw.items() if k in chosen})

    if raw.get(webforms.HONEYPOT_FIELD):
        reading.spam = "honeypot"
        return reading
    token = webforms.read_token(secret, form, raw.get(webforms.TOKEN_FIELD, ""))
    reading.origin = token.origin
    if not token.origin:
        reading.spam = "token"
        return reading
    if token.issued is not None:
        age = now - token.issued
        if age < MIN_FILL_SECONDS:
            reading.spam = "too_fast"
            return reading
        if age > PAGE_TOKEN_MAX_AGE:
            reading.expired = True

    reading.values, reading.errors = _validated(chosen, raw)
    consent_ticked = raw.get(webforms.CONSENT_FIELD, "") != ""
    reading.values["consent"] = consent_ticked and bool(form_consent(form))
    # Asked and left unticked: no consent state says "declined", so this stays
    # with the submission and the lead's note (docs/leads.md).
    reading.values["consent_declined"] = bool(form_consent(form)) and not consent_ticked
    return reading


def _validated(
    chosen: dict[str, dict[str, Any]], raw: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's fields checked and normalised, or a message per field."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, item in chosen.items():
        spec = webforms.SPECS[name]
        text = raw.get(name, "")
        if not text:
            if item.get("required"):
                errors[name] = _("Please fill this in.")
            continue
        if len(text) > spec.limit:
            errors[name] = _("At most %(n)s characters.", n=spec.limit)
            continue
        # A line break in a name would follow it into task titles and emails.
        values[name] = text if spec.kind == "textarea" else one_line(text)
    _normalise(values, errors)
    return values, errors


def form_consent(form: WebForm) -> str:
    return form.consent_es or form.consent_en


def _normalise(values: dict[str, Any], errors: dict[str, str]) -> None:
    try:
        values["country"] = normalise_country(values.get("country", "")) or "ES"
    except FieldError as problem:
        errors["country"] = problem.translated()
        values["country"] = "ES"
    steps = (
        ("email", normalise_email),
        ("phone", lambda text: normalise_phone(text, values["country"])),
    )
    for name, normalise in steps:
        if values.get(name):
            try:
                values[name] = normalise(values[name])
            except FieldError as problem:
                errors[name] = problem.translated()
    if values.get("fiscal_id"):
        # Outside Spain the ID is that country's, checked as the client form does.
        country = "" if values["country"] == "ES" else values["country"]
        try:
            values["fiscal_id_type"], values["fiscal_id"] = normalise_fiscal_id(
                values["fiscal_id"], "", country=country
            )
        except FieldError as problem:
            errors["fiscal_id"] = problem.translated()
    if values.get("segment") and values["segment"] not in SEGMENTS:
        errors["segment"] = _("Choose one of the options.")
    if values.get("postal_code"):
        values["postal_code"] = values["postal_code"].upper()


def too_many(form: WebForm, ip: str) -> bool:
    """Whether this address has posted to this form too often lately."""
    since = utcnow() - RATE_WINDOW
    recent = LeadSubmission.select().where(
        LeadSubmission.form == form.id,
        LeadSubmission.ip == ip,
        LeadSubmission.received_at >= since,
    )
    return recent.count() >= RATE_LIMIT


def receive(form: WebForm, reading: Reading, *, ip: str, language: str) -> LeadSubmission:
    """Store the post on its own, committed before anything is made of it."""
    if reading.spam:
        payload = {"spam": reading.spam, "values": reading.raw}
    else:
        text_shown = (
            webforms.text_in(form, "consent", language) if reading.values["consent"] else ""
        )
        payload = {"values": reading.values, "consent_text": text_shown, "origin": reading.origin}
    with db.atomic():
        return LeadSubmission.create(
            form=form,
            ip=ip[:45],
            language=language,
            payload=json.dumps(payload, ensure_ascii=False, sort_keys=True),
            status="spam" if reading.spam else "received",
        )


# ------------------------------------------------------------------ processing


@dataclass(frozen=True)
class Outcome:
    client: Client
    task: Task
    owner: User
    matched: bool
    note: Note


def process(submission_id: int, settings: Settings) -> Outcome | None:
    """Make the client, task, consent and notes of a stored submission.

    Returns None when the submission was already processed (or is spam), or when
    processing failed; then it is marked failed with the error and nothing of it
    is left in the database.
    """
    try:
        with db.atomic():
            # Claiming it first takes the write lock, and a second worker finds
            # nothing to claim.
            claimed = (
                LeadSubmission.update(
                    status="processed",
                    attempts=LeadSubmission.attempts + 1,
                    processed_at=utcnow(),
                    error="",
                )
                .where(
                    LeadSubmission.id == submission_id,
                    LeadSubmission.status.in_(("received", "failed")),
                )
                .execute()
            )
            if not claimed:
                return None
            submission = LeadSubmission.get_by_id(submission_id)
            outcome = _capture(submission, settings)
            LeadSubmission.update(
                client=outcome.client, task=outcome.task, matched=outcome.matched
            ).where(LeadSubmission.id == submission_id).execute()
    except Exception as problem:
        logger.exception("web lead %s could not be processed", submission_id)
        before = LeadSubmission.get_or_none(LeadSubmission.id == submission_id)
        failed = (
            LeadSubmission.update(
                status="failed",
                attempts=LeadSubmission.attempts + 1,
                error=_stored_error(problem),
            )
            .where(
                LeadSubmission.id == submission_id,
                LeadSubmission.status.in_(("received", "failed")),
            )
            .execute()
        )
        # Told once, when it first fails: the worker's retries stay quiet.
        if failed and before is not None and before.status == "received":
            _tell_administrators(before)
        return None
    return outcome


def _stored_error(problem: Exception) -> str:
    """The error as a msgid and its values, so the log shows it in its reader's language."""
    if isinstance(problem, UserError):
        text, values = problem.template, {k: str(v) for k, v in problem.values.items()}
    else:
        detail = f"{type(problem).__name__}: {problem}"[:1500]
        text, values = (
            N_("Processing stopped on an unexpected error: %(detail)s"),
            {"detail": detail},
        )
    return json.dumps({"text": text, "values": values}, ensure_ascii=False)


def error_text(stored: str) -> str:
    """A submission's stored error in the current language (older rows are plain text)."""
    try:
        error = json.loads(stored)
        return _(str(error["text"]), **{str(k): str(v) for k, v in error["values"].items()})
    except (ValueError, TypeError, KeyError, AttributeError):
        return stored


def administrators() -> list[User]:
    """Active people who look after the web forms (administrators included)."""
    people = User.select(User, Profile).join(Profile).where(User.is_active == True)  # noqa: E712
    return [user for user in people.order_by(User.id) if Grants.of(user).has(ADMIN_KEY)]


def _tell_administrators(submission: LeadSubmission) -> None:
    """A note in the portal for each of them, pointing at the failed submissions."""
    try:
        with db.atomic():
            form_name = WebForm.get_by_id(submission.form_id).name
            notes = [
                Note(
                    user, LEAD_FAILED, {"form": form_name}, "/admin/lead-submissions?status=failed"
                )
                for user in administrators()
            ]
            notifications.post(notes)
    except Exception:
        # The failure is in the log already; a note that cannot be posted must
        # not hide it.
        logger.exception("no note about failed web lead %s", submission.id)


def _capture(submission: LeadSubmission, settings: Settings) -> Outcome:
    form = submission.form
    payload = json.loads(submission.payload)
    values: dict[str, Any] = payload.get("values", {})
    today = datetime.now(ZoneInfo(settings.time_zone)).date()

    match = find_match(values)
    if match is not None:
        client, contact = match
        owner = client.owner if _may_own(client.owner) else assign(form, _placing(client))[0]
        owner = absences.stand_in(owner, today)
        if contact is None:
            contact = _contact_for(client, values)
    else:
        place = _placing_values(values)
        owner = absences.stand_in(assign(form, place)[0], today)
        client = _new_client(values, place, owner)
        events.emit("client_created", client_id=client.id, actor_id=None)
        contact = _contact_for(client, values)

    language = owner.language or settings.language
    with notifications.speaking(language):
        subject = _("Web form: %(form)s", form=form.name)
        title = _("First contact: %(name)s", name=values.get("name") or client.name)
        summary = _summary(values)
        if values.get("consent_declined"):
            summary += "\n\n" + _("Asked for commercial consent: not given.")
    activity = Activity.create(
        client=client, author=owner, kind="note", subject=subject[:200], notes=summary,
    )  # fmt: skip
    events.emit("activity_logged", activity_id=activity.id, client_id=client.id, actor_id=None)
    zone = owner.time_zone or settings.time_zone
    due = tasks.to_local(utcnow() + timedelta(hours=form.due_hours), zone)
    task = tasks.create(
        owner,
        title,
        tasks.When.at(due.replace(second=0, microsecond=0), zone),
        kind="call",
        client=client,
        contact=contact,
        reminder_minutes=REMINDER_MINUTES,
        notes=values.get("message", ""),
        source="lead",
    )
    if payload.get("consent_text") and contact.email and not consent.is_suppressed(contact.email):
        evidence = f"{form.name} (/f/{form.key}), #{submission.id}"
        consent.record(
            contact, "given", "form", text_shown=payload["consent_text"],
            evidence=evidence, ip=submission.ip,
        )  # fmt: skip
    note = Note(owner, NEW_LEAD, {"name": client.name}, f"/clients/{client.id}")
    # The email is queued in this transaction: it leaves only if all of this commits.
    notifications.notify([note], kind="lead")
    audit.record(
        "leads.captured",
        actor=None,
        target=client,
        after={
            "form": form.id,
            "submission": submission.id,
            "matched": match is not None,
            "owner": owner.id,
            "task": task.id,
        },
        ip=submission.ip,
    )
    events.emit(
        "lead_captured", submission_id=submission.id, client_id=client.id, owner_id=owner.id
    )
    return Outcome(client, task, owner, match is not None, note)


def _summary(values: dict[str, Any]) -> str:
    shown = [
        f"{name}: {values[name]}"
        for name in webforms.SPECS
        if name != "message" and values.get(name)
    ]
    if values.get("message"):
        shown += ["", values["message"]]
    return "\n".join(shown)


def _may_own(user: User) -> bool:
    if not user.is_active:
        return False
    return not Profile.get_by_id(user.profile_id).is_assistant


# ------------------------------------------------------------------ matching


def find_match(values: dict[str, Any]) -> tuple[Client, Contact | None] | None:
    """The existing client the lead is, by fiscal ID, email or phone, strongest first.

    The contact is the one whose email or phone matched, if it was a contact's.
    """
    alive = Client.erased_at.is_null()
    if values.get("fiscal_id"):
        spellings = fiscal_id_spellings(
            values["fiscal_id"], values.get("fiscal_id_type", ""), values.get("country", "")
        )
        found = Client.select().where(alive, Client.fiscal_id.in_(spellings))
        client = found.order_by(Client.id).first()
        if client is not None:
            return client, None
    tests = []
    if values.get("email"):
        email = values["email"]
        tests.append(
            (Client.email == email, (Contact.email == email) | (Contact.email_alt == email))
        )
    if values.get("phone"):
        phone = values["phone"]
        tests.append(
            (
                (Client.phone == phone) | (Client.mobile == phone),
                (Contact.phone == phone) | (Contact.mobile == phone),
            )
        )
    for on_client, on_contact in tests:
        client = Client.select().where(alive, on_client).order_by(Client.id).first()
        if client is not None:
            return client, None
        contact = (
            Contact.select(Contact, Client)
            .join(Client)
            .where(alive, on_contact)
            .order_by(Contact.id)
            .first()
        )
        if contact is not None:
            return contact.client, contact
    return None


def _contact_for(client: Client, values: dict[str, Any]) -> Contact:
    """The client's contact with the lead's email or phone, or a new one."""
    conditions = []
    if values.get("email"):
        conditions.append(Contact.email == values["email"])
    if values.get("phone"):
        conditions.append((Contact.phone == values["phone"]) | (Contact.mobile == values["phone"]))
    if conditions:
        either = conditions[0] if len(conditions) == 1 else conditions[0] | conditions[1]
        found = Contact.select().where(Contact.client == client.id, either).first()
        if found is not None:
            return found
    return Contact.create(
        client=client,
        name=(values.get("name") or client.name)[:150],
        position=values.get("position", "")[:100],
        email=values.get("email", ""),
        phone=values.get("phone", ""),
    )


def _placing_values(values: dict[str, Any]) -> dict[str, str]:
    postal = values.get("postal_code", "")
    country = values.get("country", "ES")
    zone = portfolio.zone_for(postal, country, portfolio.zones())
    return {
        "zone": zone,
        "postal_code": postal,
        "country": country,
        "segment": values.get("segment", ""),
    }


def _placing(client: Client) -> dict[str, str]:
    return {
        "zone": client.zone,
        "postal_code": client.postal_code,
        "country": client.country,
        "segment": client.segment,
    }


def _new_client(values: dict[str, Any], place: dict[str, str], owner: User) -> Client:
    company = values.get("company", "")
    client = Client(
        name=(company or values.get("name") or values.get("email") or "?")[:200],
        kind="company" if company else "person",
        status="lead",
        owner=owner,
        zone=place["zone"],
        segment=place["segment"],
        fiscal_id=values.get("fiscal_id", ""),
        city=values.get("city", "")[:100],
        postal_code=place["postal_code"][:20],
        country=place["country"],
    )
    if values.get("fiscal_id"):
        # Submissions stored before the type was kept with them: detect it.
        client.fiscal_id_type = (
            values.get("fiscal_id_type") or normalise_fiscal_id(values["fiscal_id"], "")[0]
        )
    if not company:
        # A person is reached at their own address; a company through its contact.
        client.email = values.get("email", "")
        client.phone = values.get("phone", "")
    client.reindex()
    client.save(force_insert=True)
    return client


# ------------------------------------------------------------------ assignment


def rule_holds(rule: AssignmentRule, place: dict[str, str]) -> bool:
    """Whether every condition the rule sets holds for the lead's placing."""
    if rule.zone and rule.zone.casefold() != place["zone"].casefold():
        return False
    code = place["postal_code"].replace(" ", "").upper()
    prefixes = rule.postal_prefixes.split()
    if prefixes and not any(code.startswith(prefix.upper()) for prefix in prefixes):
        return False
    if rule.countries and place["country"] not in rule.countries.split():
        return False
    return not rule.segment or rule.segment == place["segment"]


def eligible(rule: AssignmentRule) -> list[User]:
    """The rule's people who may receive leads, in a fixed order for the turns."""
    assistants = Profile.select(Profile.id).where(Profile.is_assistant == True)  # noqa: E712
    return list(
        User.select()
        .join(AssignmentRuleUser, on=(AssignmentRuleUser.user == User.id))
        .where(
            AssignmentRuleUser.rule == rule.id,
            User.is_active == True,  # noqa: E712
            User.profile.not_in(assistants),
        )
        .order_by(User.id)
    )


def assign(form: WebForm, place: dict[str, str]) -> tuple[User, AssignmentRule | None]:
    """The person whose turn it is under the first rule that holds; else the fallback.

    Call inside the processing transaction: the turn moves with one UPDATE, so
    two leads processed at once never get the same turn.
    """
    candidates = (
        AssignmentRule.select()
        .where(AssignmentRule.form.is_null() | (AssignmentRule.form == form.id))
        .order_by(AssignmentRule.position, AssignmentRule.id)
    )
    for rule in candidates:
        if not rule_holds(rule, place):
            continue
        people = eligible(rule)
        if not people:
            continue
        AssignmentRule.update(turn=AssignmentRule.turn + 1).where(
            AssignmentRule.id == rule.id
        ).execute()
        turn = AssignmentRule.select(AssignmentRule.turn).where(AssignmentRule.id == rule.id)
        return people[(turn.scalar() - 1) % len(people)], rule
    owner = form.fallback_owner
    if owner is not None and _may_own(owner):
        return owner, None
    # Say why the fallback cannot take it: the admin who reads the failure must
    # know whom to replace, not only that someone is missing.
    if owner is not None and not owner.is_active:
        raise LeadError(
            N_(
                "No assignment rule gives this lead to anyone and the form's fallback "
                "owner, %(name)s, is no longer active: choose another fallback owner for "
                "the form, then retry."
            ),
            name=owner.name,
        )
    if owner is not None:
        raise LeadError(
            N_(
                "No assignment rule gives this lead to anyone and the form's fallback "
                "owner, %(name)s, has an assistant profile, and assistants own no clients: "
                "choose another fallback owner for the form, then retry."
            ),
            name=owner.name,
        )
    raise LeadError(
        N_(
            "No assignment rule gives this lead to anyone and the form has no active "
            "fallback owner: give the form one, then retry."
        )
    )


# ------------------------------------------------------------------ retries and mistakes


def accept(submission_id: int, settings: Settings, *, actor: User, ip: str) -> str:
    """Process a post taken for spam after all (a person who typed fast, say).

    Its values are checked as a post's are; the consent box is not kept with
    spam, so none is recorded. Returns a message when it cannot be processed.
    """
    submission = LeadSubmission.get_or_none(
        LeadSubmission.id == submission_id, LeadSubmission.status == "spam"
    )
    if submission is None:
        return _("Only a submission taken for spam can be accepted.")
    raw = json.loads(submission.payload).get("values", {})
    chosen = {item["name"]: item for item in webforms.chosen_fields(submission.form)}
    values, errors = _validated(chosen, {k: clean(v) for k, v in raw.items() if k in chosen})
    if errors:
        problem = "; ".join(f"{name}: {text}" for name, text in sorted(errors.items()))
        LeadSubmission.update(error=problem).where(LeadSubmission.id == submission.id).execute()
        return problem
    values["consent"] = False
    payload = {"values": values, "consent_text": "", "origin": "accepted"}
    with db.atomic():
        LeadSubmission.update(
            payload=json.dumps(payload, ensure_ascii=False, sort_keys=True), status="received"
        ).where(LeadSubmission.id == submission.id).execute()
        audit.record("leads.accepted", actor=actor, target=submission, ip=ip)
    if process(submission.id, settings) is None:
        return _("It could not be processed; it waits among the failed ones.")
    return ""


def retry_failed(settings: Settings) -> int:
    """Process the failed submissions again (the worker's periodic job); return how many."""
    waiting = (
        LeadSubmission.select(LeadSubmission.id)
        .where(LeadSubmission.status == "failed", LeadSubmission.attempts < MAX_ATTEMPTS)
        .order_by(LeadSubmission.id)
        .limit(100)
    )
    done = 0
    for (submission_id,) in waiting.tuples():
        if process(submission_id, settings) is not None:
            done += 1
    return done


# ------------------------------------------------------------------ the manager's view


@dataclass(frozen=True)
class LeadRow:
    submission: LeadSubmission
    client: Client
    task: Task | None
    assignee: str
    state: str


def _state_condition(state: str, now: datetime) -> pw.Expression:
    is_open = Task.status == "open"
    if state == "new":
        return is_open & (Task.due_at.is_null() | (Task.due_at >= now))
    if state == "overdue":
        return is_open & (Task.due_at < now)
    if state == "contacted":
        return Task.status == "done"
    return Task.id.is_null() | (Task.status == "cancelled")


def _team_query(scope: Scope, form_id: int | None) -> pw.SelectQuery:
    query = (
        LeadSubmission.select(LeadSubmission, Client, Task, WebForm, User.name)
        .join(Client, on=(LeadSubmission.client == Client.id))
        .switch(LeadSubmission)
        .join(WebForm, on=(LeadSubmission.form == WebForm.id))
        .switch(LeadSubmission)
        .join(Task, pw.JOIN.LEFT_OUTER, on=(LeadSubmission.task == Task.id))
        .join(User, pw.JOIN.LEFT_OUTER, on=(Task.assignee == User.id))
        .where(LeadSubmission.status == "processed")
    )
    if form_id is not None:
        query = query.where(LeadSubmission.form == form_id)
    return scope.clients(query)


def team_leads(
    scope: Scope, *, state: str = "", form_id: int | None = None, limit: int = 200
) -> tuple[list[LeadRow], dict[str, int]]:
    """The leads whose client the scope covers, newest first, and how many in each state."""
    now = utcnow()
    counts = {
        name: _team_query(scope, form_id).where(_state_condition(name, now)).count()
        for name in STATES
    }
    query = _team_query(scope, form_id)
    if state in STATES:
        query = query.where(_state_condition(state, now))
    rows = []
    ordered = query.order_by(LeadSubmission.received_at.desc(), LeadSubmission.id.desc())
    for submission in ordered.limit(limit):
        task = submission.task if submission.task_id else None
        rows.append(
            LeadRow(
                submission,
                submission.client,
                task,
                submission.task.assignee.name if task else "",
                _state_of(task, now),
            )
        )
    return rows, counts


def _state_of(task: Task | None, now: datetime) -> str:
    if task is None or task.status == "cancelled":
        return "closed"
    if task.status == "done":
        return "contacted"
    return "overdue" if task.due_at is not None and task.due_at < now else "new"
