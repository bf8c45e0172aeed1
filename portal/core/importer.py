"""Importing clients: upload, mapping, preview, then a per-row report.

The upload is kept under a generated name in the data folder between steps, so
nothing the visitor names reaches the file system.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.config import Settings
from portal.core import importing, restrictions, tabular
from portal.core.models import Profile, User
from portal.core.permissions import Grants
from portal.core.visibility import Scope
from portal.database import utcnow
from portal.i18n import current_language
from portal.i18n import gettext as _
from portal.web.rendering import grants_of, render, see_other
from portal.web.requests import permission_required, scope_of

ALLOWED_SUFFIXES = (".csv", ".txt", ".xlsx")
# Countries offered for rows that name none (phones without a prefix too).
COUNTRIES = ("ES", "MX", "AR", "CL", "CO", "PE", "EC", "UY", "PT", "FR", "DE", "IT", "GB", "US")
PREVIEW_ROWS = 20
UPLOAD_LIFETIME = 24 * 3600  # seconds
_TOKEN = re.compile("[0-9a-f]{32}")


@dataclass
class ImportReport:
    created: int = 0
    contacts: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def _folder(settings: Settings) -> Path:
    folder = settings.data_dir / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _forget_abandoned(folder: Path) -> None:
    """Delete uploads nobody finished reviewing within a day."""
    limit = time.time() - UPLOAD_LIFETIME
    for path in folder.iterdir():
        if path.suffix in (".upload", ".json") and path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)


# How the file writes numbers and dates: Spanish (1.234,56 and 31/12/2024) or
# English (1,234.56 and 12/31/2024); the interface language is only the default.
NUMBER_FORMATS = ("es", "en")


def _convert(
    table: tabular.Table,
    mapping: dict[int, str],
    country: str,
    file_locale: str,
    grants: Grants,
) -> list[importing.RowResult]:
    results = importing.convert_rows(
        table,
        mapping,
        locale=file_locale,
        phone_region=country,
        default_country=country,
    )
    for result in results:
        refused = restrictions.client_refusals(result.values, grants)
        result.errors += [(field, message) for field, message in refused.items()]
    return results


def run_import(
    table: tabular.Table,
    mapping: dict[int, str],
    scope: Scope,
    default_owner: User,
    country: str,
    *,
    grants: Grants,
    file_locale: str = "es",
    dry_run: bool = False,
) -> ImportReport:
    """Convert and store every valid row in one transaction; report the rest.

    `country` applies to rows that name none, and to their phone numbers. A row
    setting a field the importing profile may not set is refused like any
    invalid row.
    """
    results = _convert(table, mapping, country, file_locale, grants)

    def owner_for(email: str) -> User | None:
        return scope.may_own().where(User.email == email.strip().lower()).first()

    report = ImportReport()
    if dry_run:
        report.created = sum(1 for result in results if result.ok)
        report.rejected = [
            (result.line, _label(field, message))
            for result in results
            for field, message in result.errors
        ]
        return report
    summary = importing.write_clients(results, owner_for=owner_for, default_owner=default_owner)
    report.created, report.contacts = summary.created, summary.contacts
    report.rejected = [(line, _label(field, text)) for line, field, text in summary.rejected]
    return report


def _label(field: str, message: str) -> str:
    return f"{_(importing.IMPORT_FIELDS.get(field, field))}: {message}"


def run_file_import(
    path: Path,
    owner_email: str,
    country: str,
    *,
    file_locale: str | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """The command-line import: the owner's scope decides whom rows may name."""
    owner = (
        User.select(User, Profile)
        .join(Profile)
        .where(User.email == owner_email.strip().lower())
        .first()
    )
    if owner is None:
        raise ValueError(f"No user with the email {owner_email}")
    table = tabular.read_table(path.read_bytes(), path.name)
    mapping = importing.guess_mapping(table.headers)
    file_locale = file_locale or importing.guess_number_format(table, mapping) or "es"
    scope = Scope.for_user(owner)
    return run_import(
        table,
        mapping,
        scope,
        owner,
        country,
        grants=Grants.of(owner),
        file_locale=file_locale,
        dry_run=dry_run,
    )


# ------------------------------------------------------------------ web


def _stored(request: Request) -> tuple[dict, Path]:
    """The visitor's own pending upload named in the URL, or 404."""
    token = request.path_params["token"]
    if not _TOKEN.fullmatch(token):
        raise HTTPException(404)
    folder = _folder(request.app.state.settings)
    _forget_abandoned(folder)
    meta_file, data_file = folder / f"{token}.json", folder / f"{token}.upload"
    if not meta_file.exists() or not data_file.exists():
        raise HTTPException(404)
    meta = json.loads(meta_file.read_text())
    if meta["user"] != request.state.user.id:
        raise HTTPException(404)
    return meta, data_file


@permission_required("menu.clients.import")
async def upload(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "clients/import_upload.html", {"error": ""})
    error = ""
    async with request.form(max_files=1, max_fields=20) as form:
        upload_file = form.get("file")
        data, filename = b"", ""
        if upload_file is None or isinstance(upload_file, str) or not upload_file.filename:
            error = _("Choose a CSV or Excel (.xlsx) file.")
        else:
            filename = upload_file.filename
            data = await upload_file.read()
    if not error and not filename.lower().endswith(ALLOWED_SUFFIXES):
        error = _("Only CSV and Excel (.xlsx) files can be imported.")
    table = None
    if not error:
        try:
            table = tabular.read_table(data, filename)
        except tabular.TableError as problem:
            error = problem.translated()
    if error or table is None:
        return render(request, "clients/import_upload.html", {"error": error}, status_code=400)

    token = secrets.token_hex(16)
    folder = _folder(request.app.state.settings)
    _forget_abandoned(folder)
    (folder / f"{token}.upload").write_bytes(data)
    meta = {"user": request.state.user.id, "filename": filename[-200:], "at": utcnow().isoformat()}
    (folder / f"{token}.json").write_text(json.dumps(meta))
    return see_other(f"/clients/import/{token}")


def _mapping_from(form: dict[str, str], columns: int) -> dict[int, str]:
    mapping = {}
    for column in range(columns):
        target = form.get(f"column_{column}", "")
        if target in importing.IMPORT_FIELDS and target:
            mapping[column] = target
    return mapping


@permission_required("menu.clients.import")
async def review(request: Request) -> Response:
    """Mapping and preview (GET or 'preview'), or the import itself ('import')."""
    meta, data_file = _stored(request)
    settings = request.app.state.settings
    scope = scope_of(request)
    table = tabular.read_table(data_file.read_bytes(), meta["filename"])
    owners = list(scope.may_own().order_by(User.name))
    form: dict[str, str] = {}
    if request.method == "POST":
        async with request.form() as posted:
            form = {key: value for key, value in posted.items() if isinstance(value, str)}
        mapping = _mapping_from(form, len(table.headers))
    else:
        mapping = importing.guess_mapping(table.headers)
    default_owner_id = form.get("owner") or str(request.state.user.id)
    default_owner = next((o for o in owners if str(o.id) == default_owner_id), None)

    errors: dict[str, str] = {}
    naming = ("name", "company", "first_name", "last_name")
    if not any(target in naming for target in mapping.values()):
        errors["mapping"] = _("Map at least one column to the name or the company.")
    if default_owner is None:
        errors["owner"] = _("Choose an owner among the people you can see.")
    country = form.get("country") or settings.phone_region
    if country not in COUNTRIES and country != settings.phone_region:
        errors["country"] = _("Choose one of the options.")
    file_locale = (
        form.get("number_format")
        or importing.guess_number_format(table, mapping)
        or current_language.get()
    )
    if file_locale not in NUMBER_FORMATS:
        errors["number_format"] = _("Choose one of the options.")

    if form.get("action") == "import" and not errors:
        # TODO: run files of more than a few thousand rows as a background job with
        # a progress bar once the job queue exists (issue 5); now the request waits.
        report = run_import(
            table,
            mapping,
            scope,
            default_owner,
            country,
            grants=grants_of(request),
            file_locale=file_locale,
        )
        data_file.unlink(missing_ok=True)
        data_file.with_suffix(".json").unlink(missing_ok=True)
        context = {"report": report, "filename": meta["filename"]}
        return render(request, "clients/import_report.html", context)

    preview = []
    if mapping and "country" not in errors and "number_format" not in errors:
        first_rows = tabular.Table(
            headers=table.headers,
            rows=table.rows[:PREVIEW_ROWS],
            lines=table.lines[:PREVIEW_ROWS],
        )
        preview = _convert(first_rows, mapping, country, file_locale, grants_of(request))
    context = {
        "token": request.path_params["token"],
        "filename": meta["filename"],
        "table": table,
        "mapping": mapping,
        "fields": importing.IMPORT_FIELDS,
        "preview": preview,
        "owners": owners,
        "default_owner": default_owner_id,
        "country": country,
        "number_format": file_locale,
        "countries": sorted({*COUNTRIES, settings.phone_region}),
        "errors": errors,
        "total_rows": len(table.rows),
    }
    status = 400 if errors and request.method == "POST" else 200
    return render(request, "clients/import_review.html", context, status_code=status)


routes = [
    Route("/clients/import", upload, methods=["GET", "POST"]),
    Route("/clients/import/{token:str}", review, methods=["GET", "POST"]),
]
