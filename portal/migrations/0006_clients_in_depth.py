"""Clients in depth: consent evidence, suppressions, merges, zones, settings,
saved views, opportunities and import jobs; contact details and client flags.

Frozen copy of the definitions as they were at this migration.
"""

from __future__ import annotations

from datetime import UTC, datetime

import peewee as pw
from playhouse.migrate import SchemaMigrator, migrate


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(pw.Model):
    class Meta:
        legacy_table_names = False


class User(BaseModel):
    class Meta:
        table_name = "user"


class Client(BaseModel):
    class Meta:
        table_name = "client"


class Contact(BaseModel):
    class Meta:
        table_name = "contact"


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


class Opportunity(BaseModel):
    """A possible sale to a client; won ones make the client's purchase history."""

    client = pw.ForeignKeyField(Client, backref="opportunities", on_delete="CASCADE")
    owner = pw.ForeignKeyField(User, backref="opportunities", on_delete="RESTRICT")
    title = pw.CharField(max_length=200)
    amount = pw.DecimalField(max_digits=16, decimal_places=2, default=0, auto_round=True)
    status = pw.CharField(max_length=10, default="open")
    stage = pw.CharField(max_length=50, default="")
    probability = pw.IntegerField(default=0)
    source = pw.CharField(max_length=50, default="")
    expected_close = pw.DateField(null=True)
    closed_on = pw.DateField(null=True)
    lost_reason = pw.CharField(max_length=200, default="")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "opportunity"
        indexes = ((("client", "status", "closed_on"), False), (("owner", "status"), False))


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


NEW_TABLES = (
    ConsentRecord,
    Suppression,
    ClientMerge,
    Zone,
    Setting,
    SavedView,
    Opportunity,
    ImportJob,
    ImportChange,
)


def apply(database: pw.Database) -> None:
    migrator = SchemaMigrator.from_database(database)
    migrate(
        migrator.add_column("client", "marketing_opt_out", pw.BooleanField(default=False)),
        migrator.add_column("client", "external_id", pw.CharField(max_length=100, default="")),
        migrator.add_column("client", "erased_at", pw.DateTimeField(null=True)),
        migrator.add_index("client", ("email",), False),
        migrator.add_index("client", ("phone",), False),
        migrator.add_index("client", ("mobile",), False),
        migrator.add_index("client", ("external_id",), False),
        migrator.add_column("contact", "email_alt", pw.CharField(max_length=254, default="")),
        migrator.add_column("contact", "mobile", pw.CharField(max_length=32, default="")),
        migrator.add_column("contact", "language", pw.CharField(max_length=5, default="")),
        migrator.add_column(
            "contact", "marketing_consent", pw.CharField(max_length=10, default="")
        ),
        migrator.add_column("contact", "consent_at", pw.DateTimeField(null=True)),
        migrator.add_column("contact", "updated_at", pw.DateTimeField(default=utcnow)),
        migrator.add_index("contact", ("email",), False),
    )
    with database.bind_ctx([User, Client, Contact, *NEW_TABLES]):
        database.create_tables(NEW_TABLES)
