"""Core tables. Migrations under portal/migrations must build exactly these."""

from __future__ import annotations

from typing import Any

import peewee as pw

from portal.database import BaseModel, utcnow
from portal.text import fold, sort_key

PROFILE_KINDS = ("hierarchical", "structural")
CLIENT_KINDS = ("company", "person")
CLIENT_STATUSES = ("lead", "prospect", "customer")
SEGMENTS = ("large", "medium", "small")
FISCAL_ID_TYPES = ("nif", "nie", "cif", "other", "foreign")
ACTIVITY_KINDS = ("call", "visit", "email", "note")
TASK_KINDS = ("call", "visit", "email", "meeting", "other")
TASK_STATUSES = ("open", "done", "cancelled")
RECURRENCES = ("", "daily", "weekly", "monthly")
# Marketing consent of a contact: "" when never asked.
CONSENT_STATES = ("given", "withdrawn")
OPPORTUNITY_STATUSES = ("open", "won", "lost")
LEAD_STATUSES = ("received", "processed", "failed", "spam")
# What a new profile holds until the administrator changes it: the client menus,
# the agenda, the opportunities board and funnel, and asking for days off and the
# team calendar.
BASELINE_GRANTS = (
    '{"menu.agenda":"","menu.clients":"","menu.clients.export":"","menu.clients.import":"",'
    '"menu.opportunities":"","menu.opportunities.funnel":"","opportunities.edit":"",'
    '"menu.vacations":"","menu.vacations.calendar":""}'
)
VACATION_STATUSES = ("pending", "approved", "rejected", "cancelled")
HALF_DAYS = ("morning", "afternoon")
# Working days a year unless the user's own allowance says otherwise.
DEFAULT_VACATION_DAYS = 22
# An outgoing mail waits (queued), left (sent) or was given up on (failed).
MAIL_STATUSES = ("queued", "sent", "failed")


class Profile(BaseModel):
    name = pw.CharField(max_length=100, unique=True)
    kind = pw.CharField(max_length=20, default="hierarchical")
    parent = pw.ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    is_assistant = pw.BooleanField(default=False)
    # The permission keys held, as JSON {key: value}; see portal/core/permissions.py.
    grants = pw.TextField(default=BASELINE_GRANTS)

    class Meta:
        table_name = "profile"


class User(BaseModel):
    email = pw.CharField(max_length=254, unique=True)
    name = pw.CharField(max_length=150)
    password_hash = pw.CharField(max_length=255, default="")
    profile = pw.ForeignKeyField(Profile, backref="users", on_delete="RESTRICT")
    language = pw.CharField(max_length=5, default="")
    time_zone = pw.CharField(max_length=64, default="")
    is_active = pw.BooleanField(default=True)
    is_admin = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=utcnow)
    # Working days off a year; half days exist, hence one decimal.
    vacation_days = pw.DecimalField(
        max_digits=5, decimal_places=1, default=DEFAULT_VACATION_DAYS, auto_round=True
    )

    class Meta:
        table_name = "user"


class UserSession(BaseModel):
    # The cookie holds a random token; only its SHA-256 is stored.
    token_hash = pw.CharField(max_length=64, primary_key=True)
    user = pw.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    created_at = pw.DateTimeField(default=utcnow)
    last_seen_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    ip = pw.CharField(max_length=45, default="")
    user_agent = pw.CharField(max_length=255, default="")

    class Meta:
        table_name = "user_session"


class LoginFailure(BaseModel):
    email = pw.CharField(max_length=254, index=True)
    ip = pw.CharField(max_length=45, index=True)
    at = pw.DateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "login_failure"


class Client(BaseModel):
    name = pw.CharField(max_length=200)
    kind = pw.CharField(max_length=10, default="company")
    status = pw.CharField(max_length=10, default="lead")
    is_supplier = pw.BooleanField(default=False)
    segment = pw.CharField(max_length=10, default="")
    zone = pw.CharField(max_length=100, default="")
    owner = pw.ForeignKeyField(User, backref="clients", on_delete="RESTRICT")
    fiscal_id_type = pw.CharField(max_length=10, default="")
    fiscal_id = pw.CharField(max_length=40, default="")
    email = pw.CharField(max_length=254, default="")
    phone = pw.CharField(max_length=32, default="")
    mobile = pw.CharField(max_length=32, default="")
    address = pw.TextField(default="")
    city = pw.CharField(max_length=100, default="")
    postal_code = pw.CharField(max_length=20, default="")
    province = pw.CharField(max_length=100, default="")
    country = pw.CharField(max_length=2, default="ES")
    website = pw.CharField(max_length=255, default="")
    notes = pw.TextField(default="")
    annual_revenue = pw.DecimalField(max_digits=16, decimal_places=2, null=True, auto_round=True)
    employees = pw.IntegerField(null=True)
    registered_on = pw.DateField(null=True)
    latitude = pw.DecimalField(max_digits=9, decimal_places=6, null=True)
    longitude = pw.DecimalField(max_digits=9, decimal_places=6, null=True)
    visible_to_all = pw.BooleanField(default=False)
    # Set when the client (or, for a company, the business) asked for no marketing.
    marketing_opt_out = pw.BooleanField(default=False)
    # Identifier in the system the client was imported from, to update on re-import.
    external_id = pw.CharField(max_length=100, default="")
    # When a person-client's personal data was erased at their request.
    erased_at = pw.DateTimeField(null=True)
    # Percentage off list prices; how much a profile may grant is a permission.
    discount = pw.DecimalField(max_digits=5, decimal_places=2, default=0, auto_round=True)
    # Accent- and case-folded copies kept for search and Spanish-aware sorting.
    search_text = pw.TextField(default="")
    sort_name = pw.CharField(max_length=200, default="")
    version = pw.IntegerField(default=1)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "client"
        indexes = (
            (("sort_name", "id"), False),
            (("owner", "sort_name", "id"), False),
            (("updated_at", "id"), False),
            (("visible_to_all",), False),
            (("fiscal_id",), False),
            (("email",), False),
            (("phone",), False),
            (("mobile",), False),
            (("external_id",), False),
        )

    def reindex(self) -> None:
        """Refresh the folded copies; call before every save."""
        parts = (self.name, self.fiscal_id, self.email, self.city, self.phone, self.mobile)
        self.search_text = fold(" ".join(p for p in parts if p))
        self.sort_name = sort_key(self.name)[:200]


class Contact(BaseModel):
    client = pw.ForeignKeyField(Client, backref="contacts", on_delete="CASCADE")
    name = pw.CharField(max_length=150)
    position = pw.CharField(max_length=100, default="")
    email = pw.CharField(max_length=254, default="")
    email_alt = pw.CharField(max_length=254, default="")
    phone = pw.CharField(max_length=32, default="")
    mobile = pw.CharField(max_length=32, default="")
    # Language the contact prefers to be written to in; "" follows the portal's.
    language = pw.CharField(max_length=5, default="")
    # The latest consent state; its history and evidence are ConsentRecord rows.
    marketing_consent = pw.CharField(max_length=10, default="")
    consent_at = pw.DateTimeField(null=True)
    notes = pw.TextField(default="")
    # Identifier in the system the contact was imported from, to update on re-import.
    external_id = pw.CharField(max_length=100, default="")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "contact"
        indexes = ((("email",), False), (("external_id",), False))


class Activity(BaseModel):
    client = pw.ForeignKeyField(Client, backref="activities", on_delete="CASCADE")
    author = pw.ForeignKeyField(User, backref="activities", on_delete="RESTRICT")
    kind = pw.CharField(max_length=10)
    happened_at = pw.DateTimeField(default=utcnow)
    subject = pw.CharField(max_length=200, default="")
    notes = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "activity"
        indexes = (
            (("client", "happened_at"), False),
            (("author", "happened_at"), False),
        )


class AuditEntry(BaseModel):
    """Business history: who changed what, when, with the values before and after."""

    at = pw.DateTimeField(default=utcnow)
    actor = pw.ForeignKeyField(User, null=True, backref="audit_entries", on_delete="SET NULL")
    # Kept beside the key so the entry still reads right if the user is renamed.
    actor_name = pw.CharField(max_length=150, default="")
    action = pw.CharField(max_length=100)
    object_type = pw.CharField(max_length=50, default="")
    object_id = pw.BigIntegerField(null=True)
    object_label = pw.CharField(max_length=200, default="")
    before = pw.TextField(default="{}")
    after = pw.TextField(default="{}")
    ip = pw.CharField(max_length=45, default="")

    class Meta:
        table_name = "audit_entry"
        indexes = (
            (("at", "id"), False),
            (("action", "at"), False),
            (("object_type", "object_id"), False),
        )


class Tag(BaseModel):
    name = pw.CharField(max_length=50, unique=True)
    colour = pw.CharField(max_length=7, default="#5b6b7f")

    class Meta:
        table_name = "tag"


class ClientTag(BaseModel):
    client = pw.ForeignKeyField(Client, backref="tag_links", on_delete="CASCADE")
    tag = pw.ForeignKeyField(Tag, backref="client_links", on_delete="CASCADE")

    class Meta:
        table_name = "client_tag"
        indexes = ((("client", "tag"), True),)


class ApprovalStep(BaseModel):
    """One step of a profile's vacation approval chain, in `position` order.

    `approver` names a specific person; without one the step belongs to the
    head of the profile above: any active user of the requester's parent profile.
    """

    profile = pw.ForeignKeyField(Profile, backref="approval_steps", on_delete="CASCADE")
    position = pw.IntegerField()
    approver = pw.ForeignKeyField(User, null=True, backref="approval_steps", on_delete="CASCADE")

    class Meta:
        table_name = "approval_step"
        indexes = ((("profile", "position"), True),)


class VacationRequest(BaseModel):
    """Days off asked for by one user, and where the approval stands.

    `steps` is the approval chain as it was when the request was made (JSON
    list of {"user": id} | {"profile": id} | {"admins": true}); `step` is the
    index of the one waiting. Editing a chain later never reroutes a request.
    """

    user = pw.ForeignKeyField(User, backref="vacations", on_delete="CASCADE")
    start = pw.DateField()
    end = pw.DateField()
    # "" for the whole day, else "morning" or "afternoon".
    first_half = pw.CharField(max_length=10, default="")
    last_half = pw.CharField(max_length=10, default="")
    days = pw.DecimalField(max_digits=5, decimal_places=1, auto_round=True)
    delegate = pw.ForeignKeyField(User, null=True, backref="stand_ins", on_delete="SET NULL")
    comment = pw.TextField(default="")
    status = pw.CharField(max_length=10, default="pending")
    steps = pw.TextField(default="[]")
    step = pw.IntegerField(default=0)
    created_at = pw.DateTimeField(default=utcnow)
    decided_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "vacation_request"
        indexes = (
            (("user", "start"), False),
            (("status", "start"), False),
        )


class VacationDecision(BaseModel):
    request = pw.ForeignKeyField(VacationRequest, backref="decisions", on_delete="CASCADE")
    step = pw.IntegerField()
    approver = pw.ForeignKeyField(User, backref="vacation_decisions", on_delete="CASCADE")
    outcome = pw.CharField(max_length=10)  # approved | rejected
    comment = pw.TextField(default="")
    at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "vacation_decision"


class Notification(BaseModel):
    """A note in the portal for one user, rendered in the reader's language.

    `text` is a catalogue msgid and `values` its placeholders as JSON, so the
    same row reads in Spanish or English depending on who opens it.
    """

    user = pw.ForeignKeyField(User, backref="notifications", on_delete="CASCADE")
    text = pw.CharField(max_length=200)
    values = pw.TextField(default="{}")
    url = pw.CharField(max_length=255, default="")
    created_at = pw.DateTimeField(default=utcnow)
    read_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "notification"
        indexes = ((("user", "read_at"), False), (("user", "created_at"), False))


class ConsentRecord(BaseModel):
    """Evidence of one marketing-consent change: what, when, how and the text shown.

    Kept when the contact is erased, with the personal data blanked, because the
    record of a withdrawal is what proves the address must not be mailed.
    """

    client = pw.ForeignKeyField(Client, null=True, backref="consents", on_delete="SET NULL")
    contact = pw.ForeignKeyField(Contact, null=True, backref="consents", on_delete="SET NULL")
    email = pw.CharField(max_length=254, default="")
    state = pw.CharField(max_length=10)
    # How it was obtained: form, email, phone, in person, import, merge, erasure.
    method = pw.CharField(max_length=20)
    text_shown = pw.TextField(default="")
    evidence = pw.TextField(default="")
    actor = pw.ForeignKeyField(User, null=True, backref="consents_recorded", on_delete="SET NULL")
    ip = pw.CharField(max_length=45, default="")
    at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "consent_record"
        indexes = ((("contact", "at"), False), (("client", "at"), False))


class Suppression(BaseModel):
    """An address never to be mailed again, kept as a SHA-256 of its folded form."""

    email_hash = pw.CharField(max_length=64, primary_key=True)
    reason = pw.CharField(max_length=20)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "suppression"


class ClientMerge(BaseModel):
    """A client merged into another: its old address leads to the survivor."""

    merged_id = pw.BigIntegerField(primary_key=True)
    survivor = pw.ForeignKeyField(Client, backref="merged_from", on_delete="CASCADE")
    actor = pw.ForeignKeyField(User, null=True, backref="merges", on_delete="SET NULL")
    at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "client_merge"


class Zone(BaseModel):
    """A sales zone; a new client whose postal code or country matches gets it.

    `postal_prefixes` and `countries` are space-separated lists; the longest
    matching postal prefix wins, then the first zone listing the country.
    """

    name = pw.CharField(max_length=100, unique=True)
    postal_prefixes = pw.TextField(default="")
    countries = pw.TextField(default="")
    position = pw.IntegerField(default=0)

    class Meta:
        table_name = "zone"


class Setting(BaseModel):
    """An administrator's choice stored as JSON under a dotted key."""

    key = pw.CharField(max_length=100, primary_key=True)
    value = pw.TextField(default="null")

    class Meta:
        table_name = "setting"


class SavedView(BaseModel):
    """A named set of client-list filters kept by one user."""

    user = pw.ForeignKeyField(User, backref="saved_views", on_delete="CASCADE")
    name = pw.CharField(max_length=100)
    query = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "saved_view"
        indexes = ((("user", "name"), True),)


# What being in a stage means; an opportunity's status is its stage's kind.
STAGE_KINDS = OPPORTUNITY_STATUSES


class Pipeline(BaseModel):
    """A sales process: its stages, in order, make the columns of the board.

    `translatable` names set by the core (the default pipeline's "Sales") are
    catalogue msgids, shown in the reader's language; names typed by an
    administrator are shown as typed.
    """

    name = pw.CharField(max_length=100)
    position = pw.IntegerField(default=0)
    is_default = pw.BooleanField(default=False)
    translatable = pw.BooleanField(default=False)

    class Meta:
        table_name = "pipeline"


class Stage(BaseModel):
    """One step of a pipeline; `kind` says whether being there means open, won or lost."""

    pipeline = pw.ForeignKeyField(Pipeline, backref="stages", on_delete="CASCADE")
    name = pw.CharField(max_length=100)
    position = pw.IntegerField(default=0)
    # The probability (percent) an opportunity takes when it moves here.
    probability = pw.IntegerField(default=0)
    kind = pw.CharField(max_length=10, default="open")
    translatable = pw.BooleanField(default=False)

    class Meta:
        table_name = "stage"
        indexes = ((("pipeline", "position"), False),)


class Opportunity(BaseModel):
    """A possible sale to a client; won ones make the client's purchase history.

    `status` always follows the stage's kind (open, won, lost); `closed_on` is
    set while it is won or lost.
    """

    client = pw.ForeignKeyField(Client, backref="opportunities", on_delete="CASCADE")
    owner = pw.ForeignKeyField(User, backref="opportunities", on_delete="RESTRICT")
    title = pw.CharField(max_length=200)
    amount = pw.DecimalField(max_digits=16, decimal_places=2, default=0, auto_round=True)
    status = pw.CharField(max_length=10, default="open")
    pipeline = pw.ForeignKeyField(Pipeline, backref="opportunities", on_delete="RESTRICT")
    stage = pw.ForeignKeyField(Stage, backref="opportunities", on_delete="RESTRICT")
    probability = pw.IntegerField(default=0)
    source = pw.CharField(max_length=50, default="")
    expected_close = pw.DateField(null=True)
    closed_on = pw.DateField(null=True)
    lost_reason = pw.CharField(max_length=200, default="")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "opportunity"
        indexes = (
            (("client", "status", "closed_on"), False),
            (("owner", "status"), False),
            (("pipeline", "stage"), False),
        )

    def save(self, *args: Any, **kwargs: Any) -> int | bool:
        if self.stage_id is None:
            self._place_by_status()
        return super().save(*args, **kwargs)

    def _place_by_status(self) -> None:
        """Without a stage: the default pipeline's first stage of the status's kind.

        Lets code that only knows open, won or lost (a plugin, an import) save one.
        """
        stage = (
            Stage.select(Stage.id, Stage.pipeline)
            .join(Pipeline)
            .where(Stage.kind == self.status)
            .order_by(Pipeline.is_default.desc(), Pipeline.position, Stage.position, Stage.id)
            .first()
        )
        if stage is not None:
            self.stage, self.pipeline = stage.id, stage.pipeline_id


class StageChange(BaseModel):
    """An opportunity entering a stage (`from_stage` is empty when it was created).

    The funnel reads these: how long opportunities stay in a stage, and how
    many that reached one went on to the next.
    """

    opportunity = pw.ForeignKeyField(Opportunity, backref="stage_changes", on_delete="CASCADE")
    from_stage = pw.ForeignKeyField(Stage, null=True, backref="changes_from", on_delete="SET NULL")
    to_stage = pw.ForeignKeyField(Stage, backref="changes_to", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, null=True, backref="stage_changes", on_delete="SET NULL")
    at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "stage_change"
        indexes = ((("opportunity", "at"), False),)


class ImportJob(BaseModel):
    """One import of a file, from its dry run to its end (or its undoing).

    `options` holds the column mapping and choices as JSON; `report` the rows
    rejected, with their reasons, as JSON. Counters move while it runs.
    """

    user = pw.ForeignKeyField(User, backref="import_jobs", on_delete="CASCADE")
    kind = pw.CharField(max_length=10, default="clients")
    filename = pw.CharField(max_length=255, default="")
    stored_name = pw.CharField(max_length=64, default="")
    status = pw.CharField(max_length=10, default="pending")
    options = pw.TextField(default="{}")
    total = pw.IntegerField(default=0)
    processed = pw.IntegerField(default=0)
    created = pw.IntegerField(default=0)
    updated = pw.IntegerField(default=0)
    skipped = pw.IntegerField(default=0)
    rejected = pw.IntegerField(default=0)
    report = pw.TextField(default="[]")
    error = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    # When the job last moved; a running job that stopped moving can be resumed.
    updated_at = pw.DateTimeField(null=True)
    finished_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "import_job"
        indexes = ((("user", "created_at"), False),)


class ImportChange(BaseModel):
    """What one import did to one record, so the import can be undone."""

    job = pw.ForeignKeyField(ImportJob, backref="changes", on_delete="CASCADE")
    table = pw.CharField(max_length=50)
    record_id = pw.BigIntegerField()
    action = pw.CharField(max_length=10)  # created | updated
    before = pw.TextField(default="{}")

    class Meta:
        table_name = "import_change"
        indexes = ((("job", "table"), False),)


class BulkJob(BaseModel):
    """A mass action too large for one request, run by the worker with progress."""

    user = pw.ForeignKeyField(User, backref="bulk_jobs", on_delete="CASCADE")
    action = pw.CharField(max_length=20)
    value = pw.CharField(max_length=100, default="")
    label = pw.CharField(max_length=200, default="")
    # The selection as JSON: {"ids": [...]} or {"filters": {...}}.
    selection = pw.TextField(default="{}")
    status = pw.CharField(max_length=10, default="queued")
    total = pw.IntegerField(default=0)
    processed = pw.IntegerField(default=0)
    outcome = pw.TextField(default="{}")
    error = pw.TextField(default="")
    ip = pw.CharField(max_length=45, default="")
    created_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "bulk_job"
        indexes = ((("user", "created_at"), False),)


class Task(BaseModel):
    """Something a person has to do, on a day or at a time, maybe again and again.

    A timed task keeps its start as the wall-clock time in the zone it was
    planned in (`local_start`, `time_zone`) and, derived from them, the instant
    in UTC (`due_at`): a weekly 09:00 meeting stays at 09:00 after a clock
    change. An all-day task has a date (`due_on`) and no instant, so it never
    moves to another day whoever looks at it. `remind_at` is the UTC instant of
    the next reminder; the worker sends it once and sets `reminded_at`.
    """

    kind = pw.CharField(max_length=10, default="call")
    title = pw.CharField(max_length=200)
    client = pw.ForeignKeyField(Client, null=True, backref="tasks", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, null=True, backref="tasks", on_delete="SET NULL")
    assignee = pw.ForeignKeyField(User, backref="tasks", on_delete="RESTRICT")
    created_by = pw.ForeignKeyField(User, null=True, backref="tasks_created", on_delete="SET NULL")
    all_day = pw.BooleanField(default=False)
    due_on = pw.DateField(null=True)
    local_start = pw.DateTimeField(null=True)
    time_zone = pw.CharField(max_length=64, default="")
    due_at = pw.DateTimeField(null=True)
    duration_minutes = pw.IntegerField(default=30)
    notes = pw.TextField(default="")
    status = pw.CharField(max_length=10, default="open")
    recurrence = pw.CharField(max_length=10, default="")
    recurrence_until = pw.DateField(null=True)
    reminder_minutes = pw.IntegerField(null=True)
    remind_at = pw.DateTimeField(null=True)
    reminded_at = pw.DateTimeField(null=True)
    # Where the task came from: "" by hand, "lead" for a web lead's first contact.
    source = pw.CharField(max_length=20, default="")
    completed_at = pw.DateTimeField(null=True)
    outcome = pw.ForeignKeyField(Activity, null=True, backref="tasks", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    version = pw.IntegerField(default=1)

    class Meta:
        table_name = "task"
        indexes = (
            (("assignee", "status", "due_at"), False),
            (("assignee", "status", "due_on"), False),
            (("client", "status"), False),
            (("remind_at",), False),
        )


class WebForm(BaseModel):
    """A public form that turns a visitor into a lead; see portal/core/leads.py.

    `key` is the unguessable part of its public address (/f/<key>). `fields`
    lists the allowed fields it shows as JSON [{"name", "required", "label_es",
    "label_en"}]; texts come in Spanish and English, the visitor's pick.
    """

    name = pw.CharField(max_length=100)
    key = pw.CharField(max_length=40, unique=True)
    language = pw.CharField(max_length=5, default="es")
    # The page's heading per language; the name (the staff's) when left empty.
    title_es = pw.CharField(max_length=150, default="")
    title_en = pw.CharField(max_length=150, default="")
    fields = pw.TextField(default="[]")
    consent_es = pw.TextField(default="")
    consent_en = pw.TextField(default="")
    thanks_es = pw.TextField(default="")
    thanks_en = pw.TextField(default="")
    redirect_url = pw.CharField(max_length=255, default="")
    # Hours the owner has for the first contact.
    due_hours = pw.IntegerField(default=4)
    # Whoever gets the lead when no rule finds an eligible person.
    fallback_owner = pw.ForeignKeyField(
        User, null=True, backref="fallback_forms", on_delete="SET NULL"
    )
    is_active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "web_form"


class AssignmentRule(BaseModel):
    """Who gets a new lead: the first rule (by `position`) whose conditions hold.

    Empty conditions hold for every lead; `form` limits the rule to one form.
    Eligible people take turns; `turn` counts the leads handed out so far.
    """

    position = pw.IntegerField(default=0)
    name = pw.CharField(max_length=100)
    form = pw.ForeignKeyField(WebForm, null=True, backref="rules", on_delete="CASCADE")
    zone = pw.CharField(max_length=100, default="")
    postal_prefixes = pw.TextField(default="")
    countries = pw.TextField(default="")
    segment = pw.CharField(max_length=10, default="")
    turn = pw.IntegerField(default=0)

    class Meta:
        table_name = "assignment_rule"
        indexes = ((("position", "id"), False),)


class AssignmentRuleUser(BaseModel):
    rule = pw.ForeignKeyField(AssignmentRule, backref="members", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, backref="assignment_rules", on_delete="CASCADE")

    class Meta:
        table_name = "assignment_rule_user"
        indexes = ((("rule", "user"), True),)


class LeadSubmission(BaseModel):
    """One post of a web form, stored before anything is made of it.

    It is committed on its own first, so a failure while processing leaves it
    here (status "failed", with the error) to be tried again.
    """

    form = pw.ForeignKeyField(WebForm, backref="submissions", on_delete="CASCADE")
    received_at = pw.DateTimeField(default=utcnow)
    ip = pw.CharField(max_length=45, default="")
    language = pw.CharField(max_length=5, default="")
    payload = pw.TextField(default="{}")
    # received | processed | failed | spam
    status = pw.CharField(max_length=10, default="received")
    error = pw.TextField(default="")
    attempts = pw.IntegerField(default=0)
    client = pw.ForeignKeyField(Client, null=True, backref="lead_submissions", on_delete="SET NULL")
    task = pw.ForeignKeyField(Task, null=True, backref="lead_submissions", on_delete="SET NULL")
    matched = pw.BooleanField(default=False)
    processed_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "lead_submission"
        indexes = (
            (("form", "ip", "received_at"), False),
            (("status", "received_at"), False),
            (("received_at", "id"), False),
        )


class CalendarFeed(BaseModel):
    """The secret address of one user's agenda for phone calendars.

    Only the SHA-256 of the token in the address is stored, as for sessions:
    the address is shown once, when it is made; making a new one ends the old.
    """

    user = pw.ForeignKeyField(User, backref="calendar_feeds", on_delete="CASCADE", unique=True)
    token_hash = pw.CharField(max_length=64, unique=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "calendar_feed"


class SchemaMigration(BaseModel):
    name = pw.CharField(max_length=150, primary_key=True)
    applied_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "schema_migration"


class UserToken(BaseModel):
    """A one-time link sent by email: an invitation or a password reset.

    The email carries a random token; only its SHA-256 is stored, as for sessions.
    """

    token_hash = pw.CharField(max_length=64, primary_key=True)
    user = pw.ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    purpose = pw.CharField(max_length=10)
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "user_token"
        indexes = ((("user", "purpose"), False),)


class ResetRequest(BaseModel):
    """One "forgot your password" request, known email or not, for throttling."""

    email = pw.CharField(max_length=254, index=True)
    ip = pw.CharField(max_length=45, index=True)
    at = pw.DateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "reset_request"


class OutgoingMail(BaseModel):
    """One email on its way out, kept afterwards as the sent log (portal/core/outbox.py).

    `sender` stays empty until sending, which fills in the configured sender it
    used; `next_attempt_at` is both the retry time and, while a worker holds the
    row, the end of its claim.
    """

    kind = pw.CharField(max_length=50)
    recipient = pw.CharField(max_length=254)
    recipient_name = pw.CharField(max_length=200, default="")
    sender = pw.CharField(max_length=300, default="")
    reply_to = pw.CharField(max_length=254, default="")
    subject = pw.CharField(max_length=500)
    text = pw.TextField()
    html = pw.TextField(default="")
    # The body holds a secret (a one-time link): erased once sent or given up.
    secret = pw.BooleanField(default=False)
    message_id = pw.CharField(max_length=255, unique=True)
    status = pw.CharField(max_length=10, default="queued")
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(default=utcnow)
    last_error = pw.TextField(default="")
    created_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "outgoing_mail"
        indexes = (
            (("status", "next_attempt_at"), False),
            (("status", "created_at"), False),
            (("created_at",), False),
        )


CORE_MODELS = (
    Profile,
    User,
    UserSession,
    LoginFailure,
    Client,
    Contact,
    Activity,
    AuditEntry,
    Tag,
    ClientTag,
    ApprovalStep,
    VacationRequest,
    VacationDecision,
    Notification,
    UserToken,
    ResetRequest,
    ConsentRecord,
    Suppression,
    ClientMerge,
    Zone,
    Setting,
    SavedView,
    Pipeline,
    Stage,
    Opportunity,
    StageChange,
    ImportJob,
    ImportChange,
    BulkJob,
    Task,
    WebForm,
    AssignmentRule,
    AssignmentRuleUser,
    LeadSubmission,
    CalendarFeed,
    OutgoingMail,
)
