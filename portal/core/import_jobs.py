"""Import jobs: match rows to what exists, write in batches, report, and undo.

A job runs a whole file, a batch of rows per transaction, and counts what it
created, updated, skipped and rejected. A dry run ("checking") makes every
decision and writes nothing but the job's counters and report. A job records
each record it created or changed (`ImportChange`), so the last import can be
undone as long as nobody changed those records since.

Rows only ever update what the importing user may change; a row matching a
record outside their scope is rejected with a reason that names no content.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import peewee as pw

from portal import events
from portal.core import (
    audit,
    consent,
    duplicates,
    importing,
    portfolio,
    restrictions,
    tabular,
)
from portal.core.models import (
    Activity,
    Client,
    Contact,
    ImportChange,
    ImportJob,
    Profile,
    User,
)
from portal.core.permissions import Grants
from portal.core.visibility import Scope
from portal.database import db, utcnow
from portal.i18n import current_language, gettext
from portal.text import fold, sort_key

logger = logging.getLogger(__name__)

BATCH_ROWS = 1000
# Files up to this many rows import inside the request; longer ones in the background.
SYNC_LIMIT = 3000
# Rows of the report kept per job; the counters always cover every row.
REPORT_LIMIT = 5000
# New rows of a dry run checked for likely duplicates (similar name in the same
# city, same phone); each check costs a few queries, so a huge file stops there.
DUPLICATE_CHECKS = 5000
# A running job that has not moved for this long may be resumed by its user.
STALLED_AFTER = timedelta(minutes=5)
MATCH_CHOICES = ("update", "skip")
# Statuses: checking -> checked (dry run); queued -> running -> done | failed;
# done -> undone.
ACTIVE = ("checking", "queued", "running")


def upload_path(data_dir: Path, job: ImportJob) -> Path:
    """Where a job's file waits, under the generated name only."""
    return data_dir / "import-jobs" / f"{job.stored_name}.upload"


@dataclass
class Batch:
    """What one batch of rows came to."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    # [line, outcome, column, message, record id?]; outcome is rejected, skipped,
    # warning (a likely duplicate), updated, or created (a client made for a contact).
    report: list[list[Any]] = field(default_factory=list)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _same(stored: Any, new: Any) -> bool:
    """Equal as the field means them: 0 and 0.00 are the same discount, and a
    coordinate SQLite kept as 40.967332999999996 is the 40.967333 exported."""
    numbers = Decimal | int | float
    if (
        isinstance(stored, numbers)
        and isinstance(new, numbers)
        and not isinstance(stored, bool)
        and not isinstance(new, bool)
    ):
        # Far below the finest step of any stored number (coordinates: 0.000001).
        return abs(Decimal(str(stored)) - Decimal(str(new))) < Decimal("1e-9")
    return stored == new


class _Importer:
    """What clients and contacts imports share: scope, owners, the report."""

    def __init__(self, job: ImportJob, user: User, headers: list[str], mapping: dict) -> None:
        self.job = job
        self.user = user
        self.scope = Scope.for_user(user)
        self.duplicate_checks = 0
        self.grants = Grants.of(user)
        self.options = json.loads(job.options)
        self.on_match = self.options.get("on_match", "update")
        self.default_owner_id = int(self.options.get("owner") or user.id)
        self.column_of = {target: headers[column] for column, target in mapping.items()}
        self.labels = importing.IMPORT_FIELDS
        # Key (what, value) -> the file line that first used it.
        self.seen: dict[tuple[str, str], int] = {}
        self._profiles: dict[int, int] | None = None
        self._owners: dict[str, User | None] = {}

    def profile_of(self, user_id: int) -> int:
        if self._profiles is None:
            self._profiles = dict(User.select(User.id, User.profile).tuples())
        return self._profiles.get(user_id, 0)

    def may_change(self, owner_id: int) -> bool:
        return self.scope.covers(owner_id, self.profile_of(owner_id))

    def owner_for(self, text: str) -> User | None:
        """A user the importer may give clients to, named by email or by name."""
        if not text:
            return self.default_owner()
        if text not in self._owners:
            query = self.scope.may_own()
            if "@" in text:
                found = list(query.where(User.email == text.lower()).limit(2))
            else:
                found = [u for u in query.where(User.name == text).limit(2)]
                if not found:
                    folded = fold(text)
                    found = [u for u in self.scope.may_own() if fold(u.name) == folded]
            self._owners[text] = found[0] if len(found) == 1 else None
        return self._owners[text]

    def default_owner(self) -> User | None:
        key = f"#{self.default_owner_id}"
        if key not in self._owners:
            self._owners[key] = self.scope.may_own().where(User.id == self.default_owner_id).first()
        return self._owners[key]

    def column(self, target: str) -> str:
        """The file's header for a field, or the field's name when no column holds it."""
        return self.column_of.get(target) or gettext(self.labels.get(target, target))

    def reject(self, batch: Batch, line: int, target: str, message: str) -> None:
        batch.rejected += 1
        batch.report.append([line, "rejected", self.column(target), message])

    def reject_row(self, batch: Batch, result: importing.RowResult) -> None:
        batch.rejected += 1
        for target, message in result.errors:
            batch.report.append([result.line, "rejected", self.column(target), message])

    def skip(self, batch: Batch, line: int, target: str, message: str) -> None:
        batch.skipped += 1
        batch.report.append([line, "skipped", self.column(target), message])

    def earlier_line(self, keys: list[tuple[str, str]]) -> tuple[str, int] | None:
        """The first key an earlier row of the file already used, and that row."""
        for key in keys:
            if key in self.seen:
                return key[0], self.seen[key]
        return None

    def remember(self, keys: list[tuple[str, str]], line: int) -> None:
        for key in keys:
            self.seen.setdefault(key, line)

    def _keys(self, result: importing.RowResult) -> list[tuple[str, str]]:
        """The keys a row is matched on, strongest first (each import has its own)."""
        raise NotImplementedError

    def fresh_rows(
        self, batch: Batch, results: list[importing.RowResult]
    ) -> Iterator[tuple[importing.RowResult, list[tuple[str, str]]]]:
        """The rows to match and write, with their keys; a row with errors is
        rejected and one repeating an earlier row's key skipped on the way."""
        for result in results:
            if not result.ok:
                self.reject_row(batch, result)
                continue
            keys = self._keys(result)
            earlier = self.earlier_line(keys)
            self.remember(keys, result.line)
            if earlier is not None:
                what, line = earlier
                self.skip(batch, result.line, what, _same_as(what, line))
                continue
            yield result, keys

    def owner_problem(self, text: str) -> str:
        return gettext("Unknown owner, or not one you may choose: %(owner)s", owner=text)

    def _warn_duplicates(self, batch: Batch, result: importing.RowResult, client: Client) -> None:
        """Note likely duplicates of a row the dry run would create; it is still created."""
        self.duplicate_checks += 1
        if self.duplicate_checks > DUPLICATE_CHECKS:
            if self.duplicate_checks == DUPLICATE_CHECKS + 1:
                note = gettext(
                    "From here on, rows are not checked for likely duplicates "
                    "(only the first %(num)s new rows are)",
                    num=DUPLICATE_CHECKS,
                )
                batch.report.append([result.line, "warning", "", note, None])
            return
        candidate = duplicates.Candidate(
            name=client.name,
            city=client.city,
            fiscal_id=client.fiscal_id,
            email=client.email,
            phones=tuple(p for p in (client.phone, client.mobile) if p),
        )
        for match in duplicates.likely_duplicates(candidate, self.scope):
            reason = {
                "fiscal_id": gettext("same fiscal ID"),
                "email": gettext("same email"),
                "phone": gettext("same phone"),
                "name": gettext("very similar name in the same city"),
            }[match.reason]
            if match.visible:
                text = gettext(
                    "May be %(name)s, already a client (%(reason)s)", name=match.name, reason=reason
                )
            else:
                text = gettext(
                    "May be a client you cannot see, already in the portal (%(reason)s)",
                    reason=reason,
                )
            batch.report.append([result.line, "warning", "", text, match.client_id])


def _same_as(what: str, line: int) -> str:
    # One message per key, so each can be translated whole.
    messages = {
        "record_id": gettext("Same Cartera ID as line %(line)s", line=line),
        "external_id": gettext("Same ID in the other system as line %(line)s", line=line),
        "fiscal_id": gettext("Same fiscal ID as line %(line)s", line=line),
        "email": gettext("Same email as line %(line)s", line=line),
    }
    return messages[what]


# ---------------------------------------------------------------- clients

# Client columns written on create, in one order for every row of a batch.
_CREATE_FIELDS = [name for name in Client._meta.sorted_field_names if name != "id"]


class ClientImport(_Importer):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.zones = portfolio.zones()
        self.segment_rule = portfolio.segment_rule()

    def apply(self, results: list[importing.RowResult], *, write: bool) -> Batch:
        batch = Batch()
        ok = [result for result in results if result.ok]
        found = self._existing(ok)
        to_create: list[tuple[importing.RowResult, Client]] = []
        for result, keys in self.fresh_rows(batch, results):
            match = next((found[key] for key in keys if key in found), None)
            if match is None:
                client = self._new_client(batch, result)
                if client is not None:
                    to_create.append((result, client))
                    if not write:
                        self._warn_duplicates(batch, result, client)
            else:
                self._update(batch, result, match, write=write)
        batch.created += len(to_create)
        if write and to_create:
            self._create(to_create)
        return batch

    def _keys(self, result: importing.RowResult) -> list[tuple[str, str]]:
        values = result.values
        keys = []
        if result.record_id is not None:
            keys.append(("record_id", str(result.record_id)))
        for name in ("external_id", "fiscal_id", "email"):
            if values.get(name):
                keys.append((name, values[name]))
        return keys

    def _existing(self, results: list[importing.RowResult]) -> dict[tuple[str, str], Client]:
        """Clients matching any key of the rows, whoever owns them (checked later)."""
        wanted: dict[str, set] = {"record_id": set(), "external_id": set()}
        wanted.update(fiscal_id=set(), email=set())
        for result in results:
            for what, value in self._keys(result):
                wanted[what].add(int(value) if what == "record_id" else value)
        found: dict[tuple[str, str], Client] = {}
        # One query per key, each through its own index: an OR of them makes
        # SQLite scan the whole table.
        for what, values in wanted.items():
            if not values:
                continue
            column = Client.id if what == "record_id" else getattr(Client, what)
            for client in Client.select().where(column.in_(sorted(values))).order_by(Client.id):
                value = str(client.id) if what == "record_id" else getattr(client, what)
                found.setdefault((what, value), client)
        return found

    def _new_client(self, batch: Batch, result: importing.RowResult) -> Client | None:
        owner = self.owner_for(result.owner_email)
        if owner is None:
            self.reject(batch, result.line, "owner_email", self.owner_problem(result.owner_email))
            return None
        refused = restrictions.client_refusals(result.values, self.grants)
        if refused:
            batch.rejected += 1
            for name, message in refused.items():
                batch.report.append([result.line, "rejected", self.column(name), message])
            return None
        values = dict(result.values)
        # New clients get their zone and segment as on the form.
        portfolio.place(values, self.zones, self.segment_rule)
        client = Client(owner=owner.id, **values)
        client.reindex()
        return client

    def _update(
        self, batch: Batch, result: importing.RowResult, client: Client, *, write: bool
    ) -> None:
        key = self._keys(result)[0][0]
        if not self.may_change(client.owner_id):
            if client.visible_to_all:
                # Shared with everyone by another team: seen in an export, not ours to change.
                message = gettext("Shared by another team; left as it was")
                self.skip(batch, result.line, key, message)
                return
            message = gettext("Matches a client you may not change")
            self.reject(batch, result.line, key, message)
            return
        if self.on_match == "skip":
            self.skip(batch, result.line, key, gettext("Already exists; left as it was"))
            return
        changes = {
            name: value
            for name, value in result.values.items()
            if name in result.given and not _same(getattr(client, name), value)
        }
        if result.owner_email:
            owner = self.owner_for(result.owner_email)
            if owner is None:
                problem = self.owner_problem(result.owner_email)
                self.reject(batch, result.line, "owner_email", problem)
                return
            if owner.id != client.owner_id:
                changes["owner"] = owner.id
        refused = restrictions.client_refusals(changes, self.grants, client)
        if refused:
            batch.rejected += 1
            for name, message in refused.items():
                batch.report.append([result.line, "rejected", self.column(name), message])
            return
        new_contact = self._missing_contact(result, client)
        if not changes and new_contact is None:
            self.skip(batch, result.line, key, gettext("No changes"))
            return

        batch.updated += 1
        shown = [self.column(name) or name for name in changes]
        message = gettext("Updates %(name)s", name=client.name)
        if shown:
            message += " (" + ", ".join(shown) + ")"
        batch.report.append([result.line, "updated", "", message, client.id])
        if not write:
            return
        before = {name: _plain(getattr(client, name)) for name in changes}
        if "owner" in changes:
            before["owner"] = client.owner_id
        for name, value in changes.items():
            setattr(client, name, value)
        client.reindex()
        if changes:
            (
                Client.update(
                    **changes,
                    search_text=client.search_text,
                    sort_name=client.sort_name,
                    version=Client.version + 1,
                    updated_at=utcnow(),
                )
                .where(Client.id == client.id)
                .execute()
            )
            client.version += 1
            if "owner" in changes:
                self._audit_owner(client, before["owner"], changes["owner"])
        before["_version"] = client.version
        ImportChange.create(
            job=self.job, table="client", record_id=client.id, action="updated",
            before=json.dumps(before),
        )  # fmt: skip
        if new_contact is not None:
            contact = Contact.create(client=client.id, **new_contact)
            _created(self.job, "contact", [contact.id])

    def _missing_contact(self, result: importing.RowResult, client: Client) -> dict | None:
        """The row's contact, unless the client already has one of that name or email."""
        if not result.contact:
            return None
        email, name = result.contact["email"], fold(result.contact["name"])
        for contact in Contact.select(Contact.name, Contact.email).where(
            Contact.client == client.id
        ):
            if (email and contact.email == email) or fold(contact.name) == name:
                return None
        return result.contact

    def _audit_owner(self, client: Client, before: int, after: int) -> None:
        events.emit(
            "client_reassigned", client_ids=[client.id], owner_id=after, actor_id=self.user.id
        )
        names = dict(User.select(User.id, User.name).where(User.id.in_([before, after])).tuples())
        audit.record(
            "clients.owner.changed",
            actor=self.user,
            target=client,
            before={"owner_id": before, "owner_name": names.get(before, "")},
            after={"owner_id": after, "owner_name": names.get(after, "")},
        )

    def _create(self, rows: list[tuple[importing.RowResult, Client]]) -> None:
        data = [[client.__data__.get(name) for name in _CREATE_FIELDS] for _, client in rows]
        ids = insert_returning_ids(Client, _CREATE_FIELDS, data)
        _created(self.job, "client", ids)
        names = [name for name in Contact._meta.sorted_field_names if name != "id"]
        contacts = [
            [Contact(client=client_id, **result.contact).__data__.get(name) for name in names]
            for (result, _), client_id in zip(rows, ids, strict=True)
            if result.contact
        ]
        if contacts:
            _created(self.job, "contact", insert_returning_ids(Contact, names, contacts))


# Bound values per statement: SQLite allows 32,766, PostgreSQL 65,535.
_MAX_PARAMETERS = 30_000


def insert_returning_ids(
    model: type[pw.Model], names: list[str], rows: list[list[Any]]
) -> list[int]:
    """Insert many rows and return their new ids, in order.

    Builds one multi-row INSERT … RETURNING per chunk, converting each value as
    its field would: peewee's own query builder spends more time per row than
    the database does.
    """
    fields = [model._meta.fields[name] for name in names]
    columns = ", ".join(f'"{field.column_name}"' for field in fields)
    param = db.obj.param
    one_row = "(" + ", ".join([param] * len(fields)) + ")"
    size = max(1, _MAX_PARAMETERS // len(fields))
    ids: list[int] = []
    table = model._meta.table_name
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        sql = (
            f'INSERT INTO "{table}" ({columns}) VALUES '
            + ", ".join([one_row] * len(chunk))
            + ' RETURNING "id"'
        )
        values = [
            field.db_value(value) for row in chunk for field, value in zip(fields, row, strict=True)
        ]
        ids += [row[0] for row in db.execute_sql(sql, values).fetchall()]
    return ids


def _created(job: ImportJob, table: str, ids: Iterable[int]) -> None:
    rows = [(job.id, table, record_id, "created", "{}") for record_id in ids]
    if not rows:
        return
    if table == "client":
        for _job, _table, client_id, *_rest in rows:
            events.emit("client_created", client_id=client_id, actor_id=job.user_id)
    param = db.obj.param
    sql = (
        'INSERT INTO "import_change" ("job_id", "table", "record_id", "action", "before") '
        f"VALUES ({', '.join([param] * 5)})"
    )
    db.cursor().executemany(sql, rows)


# --------------------------------------------------------------- contacts


class ContactImport(_Importer):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.labels = importing.CONTACT_IMPORT_FIELDS
        self._domains: dict[str, list[Client]] | None = None
        # Clients this job created for a company name, by folded name.
        self.new_clients: dict[str, Client] = {}

    def apply(self, results: list[importing.RowResult], *, write: bool) -> Batch:
        batch = Batch()
        ok = [result for result in results if result.ok]
        clients = self._clients_for(ok)
        contacts = self._existing(ok)
        for result, keys in self.fresh_rows(batch, results):
            match = next((contacts[key] for key in keys if key in contacts), None)
            if match is not None:
                self._update(batch, result, match, write=write)
                continue
            client = self._client_of(batch, result, clients, write=write)
            if client is None:
                continue
            batch.created += 1
            self._warn_suppressed(batch, result)
            if write:
                values = dict(result.values)
                values.pop("marketing_consent", None)  # set with its evidence below
                contact = Contact.create(client=client.id, **values)
                _created(self.job, "contact", [contact.id])
                self._record_consent(contact, result)
        return batch

    def _warn_suppressed(self, batch: Batch, result: importing.RowResult) -> None:
        """Say so when a row brings back an address someone asked to be erased."""
        email = result.values.get("email")
        if email and consent.is_suppressed(email):
            message = gettext(
                "This address belonged to someone who asked to be erased; "
                "it will never be sent marketing"
            )
            batch.report.append([result.line, "warning", self.column("email"), message, None])

    def _keys(self, result: importing.RowResult) -> list[tuple[str, str]]:
        keys = []
        if result.record_id is not None:
            keys.append(("record_id", str(result.record_id)))
        for name in ("external_id", "email"):
            if result.values.get(name):
                keys.append((name, result.values[name]))
        return keys

    def _existing(self, results: list[importing.RowResult]) -> dict[tuple[str, str], Contact]:
        """Contacts matching any key of the rows, whoever owns them (checked later)."""
        wanted: dict[str, set] = {"record_id": set(), "external_id": set(), "email": set()}
        for result in results:
            for what, value in self._keys(result):
                wanted[what].add(int(value) if what == "record_id" else value)
        found: dict[tuple[str, str], Contact] = {}
        for what, values in wanted.items():
            if not values:
                continue
            column = Contact.id if what == "record_id" else getattr(Contact, what)
            query = (
                Contact.select(Contact, Client.id, Client.owner)
                .join(Client)
                .where(column.in_(sorted(values)))
                .order_by(Contact.id)
            )
            for contact in query:
                value = str(contact.id) if what == "record_id" else getattr(contact, what)
                found.setdefault((what, value), contact)
        return found

    def _update(
        self, batch: Batch, result: importing.RowResult, contact: Contact, *, write: bool
    ) -> None:
        key = self._keys(result)[0][0]
        if not self.may_change(contact.client.owner_id):
            self.reject(batch, result.line, key, gettext("Matches a contact you may not change"))
            return
        if self.on_match == "skip":
            self.skip(batch, result.line, key, gettext("Already exists; left as it was"))
            return
        changes = {
            name: value
            for name, value in result.values.items()
            if (name in result.given or name == "marketing_consent")
            and name in Contact._meta.fields
            and value != getattr(contact, name)
        }
        if "marketing_consent" not in result.given:
            changes.pop("marketing_consent", None)
        if not changes:
            self.skip(batch, result.line, key, gettext("No changes"))
            return
        batch.updated += 1
        shown = [self.column(name) or name for name in changes]
        message = gettext("Updates %(name)s", name=contact.name) + " (" + ", ".join(shown) + ")"
        batch.report.append([result.line, "updated", "", message, contact.client_id])
        if not write:
            return
        before = {name: _plain(getattr(contact, name)) for name in changes}
        if "marketing_consent" in changes:
            before["consent_at"] = _plain(contact.consent_at)
        consent_changed = changes.pop("marketing_consent", None) is not None
        if changes:
            Contact.update(**changes, updated_at=utcnow()).where(Contact.id == contact.id).execute()
        if consent_changed:
            contact.email = changes.get("email", contact.email)
            self._record_consent(contact, result)
        # Undo checks nobody changed the contact after this moment.
        stamp = Contact.select(Contact.updated_at).where(Contact.id == contact.id).scalar()
        before["_updated_at"] = stamp.isoformat()
        ImportChange.create(
            job=self.job, table="contact", record_id=contact.id, action="updated",
            before=json.dumps(before),
        )  # fmt: skip

    def _record_consent(self, contact: Contact, result: importing.RowResult) -> None:
        """Evidence of a consent the file states: which file, which line, who imported it."""
        if "marketing_consent" not in result.values:
            return
        consent.record(
            contact,
            result.values["marketing_consent"],
            "import",
            evidence=f"{self.job.filename}, line {result.line} (import #{self.job.id})",
            actor=self.user,
        )

    def _clients_for(self, results: list[importing.RowResult]) -> dict[tuple[str, str], list]:
        """Visible clients named by the rows' link columns, by (what, value)."""
        wanted: dict[str, set] = {
            "client_record_id": set(),
            "client_external_id": set(),
            "client_fiscal_id": set(),
            "client_email": set(),
            "company": set(),
        }
        for result in results:
            for what, value in result.link.items():
                if what == "company":
                    wanted[what].add(sort_key(value)[:200])
                elif what == "client_record_id":
                    wanted[what].add(int(value))
                elif what in wanted:
                    wanted[what].add(value)
        columns = {
            "client_record_id": Client.id,
            "client_external_id": Client.external_id,
            "client_fiscal_id": Client.fiscal_id,
            "client_email": Client.email,
            "company": Client.sort_name,
        }
        conditions = [columns[what].in_(sorted(v)) for what, v in wanted.items() if v]
        found: dict[tuple[str, str], list] = {}
        if conditions:
            query = self.scope.clients().where(pw.reduce(lambda a, b: a | b, conditions))
            for client in query.order_by(Client.id):
                for what, value in (
                    ("client_record_id", str(client.id)),
                    ("client_external_id", client.external_id),
                    ("client_fiscal_id", client.fiscal_id),
                    ("client_email", client.email),
                    ("company", client.sort_name),
                ):
                    if value:
                        found.setdefault((what, value), []).append(client)
        return found

    def _by_domain(self, domain: str) -> list[Client]:
        if self._domains is None:
            self._domains = {}
            query = self.scope.clients(
                Client.select(Client.id, Client.name, Client.website, Client.email, Client.owner)
            )
            for client in query:
                hosts = set()
                if client.website:
                    try:
                        hosts.add(importing._domain(client.website))
                    except importing.f.FieldError:
                        pass
                if client.email:
                    hosts.add(client.email.rpartition("@")[2])
                for host in hosts:
                    self._domains.setdefault(host, []).append(client)
        return self._domains.get(domain, [])

    def _client_of(
        self, batch: Batch, result: importing.RowResult, clients: dict, *, write: bool
    ) -> Client | None:
        link = result.link
        for what in (
            "client_record_id",
            "client_external_id",
            "client_fiscal_id",
            "client_email",
            "company",
        ):
            if what not in link:
                continue
            value = sort_key(link[what])[:200] if what == "company" else link[what]
            found = clients.get((what, value), [])
            if what == "company" and not found:
                found = [c for c in [self.new_clients.get(value)] if c is not None]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                message = gettext("Several clients match; add a fiscal ID or email column")
                self.reject(batch, result.line, what, message)
                return None
        if "client_domain" in link:
            found = self._by_domain(link["client_domain"])
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                message = gettext("Several clients match; add a fiscal ID or email column")
                self.reject(batch, result.line, "client_domain", message)
                return None
        if "company" in link:
            return self._new_company(batch, result, write=write)
        first = next(iter(link))
        self.reject(batch, result.line, first, gettext("No client found for this row"))
        return None

    def _new_company(
        self, batch: Batch, result: importing.RowResult, *, write: bool
    ) -> Client | None:
        """A company client for a contact whose company is not in the portal yet."""
        owner = self.owner_for(result.owner_email)
        if owner is None:
            self.reject(batch, result.line, "owner_email", self.owner_problem(result.owner_email))
            return None
        name = result.link["company"]
        client = Client(
            name=name, kind="company", owner=owner.id, country=self.options.get("country", "ES")
        )
        if "client_domain" in result.link:
            client.website = "https://" + result.link["client_domain"]
        client.reindex()
        if not write:
            self._warn_duplicates(batch, result, client)
        if write:
            client.save()
            _created(self.job, "client", [client.id])
        self.new_clients[client.sort_name] = client
        batch.report.append(
            [result.line, "created", self.column("company"),
             gettext("New client %(name)s", name=name), client.id]
        )  # fmt: skip
        return client


# -------------------------------------------------------------- running


def _user_of(job: ImportJob) -> User:
    return User.select(User, Profile).join(Profile).where(User.id == job.user_id).get()


def run_job(job_id: int, data_dir: Path, language: str = "es") -> ImportJob:
    """Run a dry run or an import to its end, resuming after the last stored batch."""
    job = ImportJob.get_or_none(ImportJob.id == job_id)
    if job is None or not _claim(job):
        return job
    dry_run = job.status == "checking"
    user = _user_of(job)
    token = current_language.set(user.language or language)
    try:
        _run(job, user, data_dir, dry_run)
    except Exception as exc:
        logger.exception("import job %s failed", job_id)
        ImportJob.update(status="failed", error=str(exc)[:500], finished_at=utcnow()).where(
            ImportJob.id == job_id
        ).execute()
    finally:
        current_language.reset(token)
    return ImportJob.get_by_id(job_id)


def _claim(job: ImportJob) -> bool:
    """Take the job for this process; False when another one is running it.

    A queued job (or a dry run) is taken by moving its clock; a running one
    only once it has not moved for STALLED_AFTER, so a job queued twice (a
    resume while the first worker still lives) never runs twice at once.
    """
    if job.status not in ACTIVE:
        return False
    now = utcnow()
    busy = job.status == "running" or (job.status == "checking" and job.processed > 0)
    if busy and now - (job.updated_at or job.created_at) < STALLED_AFTER:
        return False
    status = "checking" if job.status == "checking" else "running"
    taken = (
        ImportJob.update(status=status, updated_at=now)
        .where(
            ImportJob.id == job.id,
            ImportJob.status == job.status,
            ImportJob.updated_at.is_null() | (ImportJob.updated_at == job.updated_at),
        )
        .execute()
    )
    job.status, job.updated_at = status, now
    return taken == 1


def _run(job: ImportJob, user: User, data_dir: Path, dry_run: bool) -> None:
    options = json.loads(job.options)
    table = tabular.read_table(upload_path(data_dir, job).read_bytes(), job.filename)
    mapping = {int(column): target for column, target in options["mapping"].items()}
    kind = job.kind
    locale = options.get("number_format", "es")
    day_first = importing.day_first_of(table, mapping, locale)
    importer_class = ContactImport if kind == "contacts" else ClientImport
    importer = importer_class(job, user, table.headers, mapping)

    start = 0 if dry_run else job.processed
    report = json.loads(job.report) if start else []
    counts = {name: getattr(job, name) if start else 0 for name in _COUNTERS}
    for offset in range(start, len(table.rows), BATCH_ROWS):
        part = tabular.Table(
            headers=table.headers,
            rows=table.rows[offset : offset + BATCH_ROWS],
            lines=table.lines[offset : offset + BATCH_ROWS],
        )
        results = importing.convert_rows(
            part,
            mapping,
            locale=locale,
            phone_region=options.get("country", "ES"),
            default_country=options.get("country", "ES"),
            day_first=day_first,
            kind=kind,
        )
        with db.atomic():
            batch = importer.apply(results, write=not dry_run)
            for name in _COUNTERS:
                counts[name] += getattr(batch, name)
            report += batch.report[: max(0, REPORT_LIMIT - len(report))]
            ImportJob.update(
                processed=offset + len(part.rows),
                report=json.dumps(report, ensure_ascii=False),
                updated_at=utcnow(),
                **counts,
            ).where(ImportJob.id == job.id).execute()

    with db.atomic():
        status = "checked" if dry_run else "done"
        ImportJob.update(status=status, finished_at=utcnow(), total=len(table.rows)).where(
            ImportJob.id == job.id
        ).execute()
        if not dry_run:
            job = ImportJob.get_by_id(job.id)
            audit.record(
                f"imports.{kind}",
                actor=user,
                target=job,
                label=job.filename,
                after={name: getattr(job, name) for name in _COUNTERS},
            )
    if not dry_run:
        upload_path(data_dir, job).unlink(missing_ok=True)


_COUNTERS = ("created", "updated", "skipped", "rejected")


# ----------------------------------------------------------------- undo


def last_undoable(user: User) -> ImportJob | None:
    """The user's latest import, if it finished and was not undone."""
    latest = (
        ImportJob.select()
        .where(ImportJob.user == user.id, ImportJob.status.in_(("done", "running", "undone")))
        .order_by(ImportJob.created_at.desc(), ImportJob.id.desc())
        .first()
    )
    return latest if latest is not None and latest.status == "done" else None


def undo(job: ImportJob, actor: User, ip: str = "") -> list[str]:
    """Remove what the import created and restore what it changed, all or nothing.

    Returns the names of records changed since the import (nothing is undone
    then), or an empty list when the import was undone.
    """
    scope = Scope.for_user(actor)
    changes = list(job.changes)
    client_changes = [c for c in changes if c.table == "client"]
    contact_changes = [c for c in changes if c.table == "contact"]
    clients = {
        c.id: c for c in Client.select().where(Client.id.in_([c.record_id for c in client_changes]))
    }
    contacts = {
        c.id: c
        for c in Contact.select().where(Contact.id.in_([c.record_id for c in contact_changes]))
    }
    created_contacts = {c.record_id for c in contact_changes if c.action == "created"}
    profiles = dict(User.select(User.id, User.profile).tuples())
    conflicts: list[str] = []

    for change in client_changes:
        client = clients.get(change.record_id)
        if client is None:
            if change.action == "updated":
                conflicts.append(gettext("A client updated by the import was deleted since"))
            continue
        if not scope.covers(client.owner_id, profiles.get(client.owner_id, 0)):
            conflicts.append(client.name)
            continue
        if change.action == "created":
            extra_contacts = (
                Contact.select(Contact.id)
                .where(Contact.client == client.id, Contact.id.not_in(created_contacts or [0]))
                .exists()
            )
            has_activity = Activity.select().where(Activity.client == client.id).exists()
            if client.version != 1 or extra_contacts or has_activity:
                conflicts.append(client.name)
        elif client.version != json.loads(change.before).get("_version"):
            conflicts.append(client.name)
    for change in contact_changes:
        contact = contacts.get(change.record_id)
        if contact is None or change.action != "updated":
            continue
        stamp = json.loads(change.before).get("_updated_at")
        if contact.updated_at.isoformat() != stamp:
            conflicts.append(contact.name)
    if conflicts:
        return sorted(set(conflicts))

    with db.atomic():
        deleted = restored = 0
        for change in contact_changes:
            if change.record_id not in contacts:
                continue
            if change.action == "created":
                Contact.delete().where(Contact.id == change.record_id).execute()
                deleted += 1
            else:
                before = json.loads(change.before)
                before.pop("_updated_at", None)
                Contact.update(**before, updated_at=utcnow()).where(
                    Contact.id == change.record_id
                ).execute()
                restored += 1
                if before.get("marketing_consent"):
                    # Going back to the earlier consent is a change with its own evidence.
                    consent.record(
                        Contact.get_by_id(change.record_id),
                        before["marketing_consent"],
                        "import",
                        evidence=f"Undo of import #{job.id} ({job.filename})",
                        actor=actor,
                        ip=ip,
                    )
        for change in client_changes:
            client = clients.get(change.record_id)
            if client is None:
                continue
            if change.action == "created":
                Client.delete().where(Client.id == client.id).execute()
                deleted += 1
                continue
            before = json.loads(change.before)
            before.pop("_version", None)
            for name, value in before.items():
                setattr(client, name, value)
            client.reindex()
            Client.update(
                **before,
                search_text=client.search_text,
                sort_name=client.sort_name,
                version=Client.version + 1,
                updated_at=utcnow(),
            ).where(Client.id == client.id).execute()
            restored += 1
        ImportJob.update(status="undone").where(ImportJob.id == job.id).execute()
        audit.record(
            "imports.undone",
            actor=actor,
            target=job,
            label=job.filename,
            after={"deleted": deleted, "restored": restored},
            ip=ip,
        )
    return []
