"""Importing clients: upload, mapping, preview, then a per-row report.

The upload is kept under a generated name in the data folder between steps, so
nothing the visitor names reaches the file system.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

import peewee as pw
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal import jobs
from portal.config import Settings
from portal.core import import_jobs, importing, restrictions, tabular
from portal.core.models import ImportJob, Profile, User
from portal.core.permissions import Grants
from portal.database import utcnow
from portal.i18n import current_language
from portal.i18n import gettext as _
from portal.text import parse_id
from portal.web.rendering import grants_of, render, see_other
from portal.web.requests import client_ip, permission_required, scope_of

ALLOWED_SUFFIXES = (".csv", ".txt", ".xlsx")
# Countries offered for rows that name none (phones without a prefix too).
COUNTRIES = ("ES", "MX", "AR", "CL", "CO", "PE", "EC", "UY", "PT", "FR", "DE", "IT", "GB", "US")
PREVIEW_ROWS = 20
UPLOAD_LIFETIME = 24 * 3600  # seconds
_TOKEN = re.compile("[0-9a-f]{32}")


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


def start_job(
    user: User,
    kind: str,
    filename: str,
    data: bytes,
    data_dir: Path,
    options: dict,
    *,
    total: int,
    dry_run: bool,
) -> ImportJob:
    """Keep the file under a generated name and record the job that will read it."""
    _forget_old_jobs(data_dir)
    options = {**options, "phase": "check" if dry_run else "import"}
    token = secrets.token_hex(16)
    job = ImportJob.create(
        user=user.id,
        kind=kind,
        filename=filename[-200:],
        stored_name=token,
        status="checking" if dry_run else "queued",
        options=json.dumps(options),
        total=total,
        updated_at=utcnow(),
    )
    path = import_jobs.upload_path(data_dir, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return job


# Files of dry runs never imported, and of failed jobs, are kept this long.
JOB_FILE_LIFETIME = 7 * 24 * 3600  # seconds


def _forget_old_jobs(data_dir: Path) -> None:
    folder = data_dir / "import-jobs"
    if not folder.exists():
        return
    limit = time.time() - JOB_FILE_LIFETIME
    old = {path.stem: path for path in folder.glob("*.upload") if path.stat().st_mtime < limit}
    if not old:
        return
    running = {
        name
        for (name,) in ImportJob.select(ImportJob.stored_name)
        .where(ImportJob.stored_name.in_(list(old)), ImportJob.status.in_(("queued", "running")))
        .tuples()
    }
    for name, path in old.items():
        if name not in running:
            path.unlink(missing_ok=True)


def launch(job: ImportJob, data_dir: Path) -> ImportJob:
    """Run a small job now; queue a large one for the worker."""
    if job.total <= import_jobs.SYNC_LIMIT:
        return import_jobs.run_job(job.id, data_dir, current_language.get())
    jobs.run_import(job.id, str(data_dir), current_language.get())
    return ImportJob.get_by_id(job.id)


def run_file_import(
    path: Path,
    owner_email: str,
    country: str,
    *,
    data_dir: Path,
    kind: str = "clients",
    file_locale: str | None = None,
    on_match: str = "update",
    dry_run: bool = False,
) -> ImportJob:
    """The command-line import: the owner's scope decides whom rows may name."""
    owner = (
        User.select(User, Profile)
        .join(Profile)
        .where(User.email == owner_email.strip().lower())
        .first()
    )
    if owner is None:
        raise ValueError(f"No user with the email {owner_email}")
    data = path.read_bytes()
    table = tabular.read_table(data, path.name)
    mapping = importing.guess_mapping(table.headers, kind)
    file_locale = file_locale or importing.guess_number_format(table, mapping) or "es"
    options = {
        "mapping": {str(column): target for column, target in mapping.items()},
        "country": country,
        "number_format": file_locale,
        "on_match": on_match,
        "owner": owner.id,
    }
    job = start_job(
        owner, kind, path.name, data, data_dir, options, total=len(table.rows), dry_run=dry_run
    )
    return import_jobs.run_job(job.id, data_dir, owner.language or "en")


# ------------------------------------------------------------------ web

KINDS = ("clients", "contacts")


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


def _upload_page(request: Request, error: str, kind: str, status: int = 200) -> Response:
    context = {"error": error, "kind": kind, "kinds": KINDS}
    return render(request, "clients/import_upload.html", context, status_code=status)


@permission_required("menu.clients.import")
async def upload(request: Request) -> Response:
    if request.method == "GET":
        kind = request.query_params.get("kind", "clients")
        return _upload_page(request, "", kind if kind in KINDS else "clients")
    error = ""
    async with request.form(max_files=1, max_fields=20) as form:
        kind = form.get("kind") if form.get("kind") in KINDS else "clients"
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
        return _upload_page(request, error, str(kind), status=400)

    token = secrets.token_hex(16)
    folder = _folder(request.app.state.settings)
    _forget_abandoned(folder)
    (folder / f"{token}.upload").write_bytes(data)
    meta = {
        "user": request.state.user.id,
        "filename": filename[-200:],
        "kind": kind,
        "at": utcnow().isoformat(),
    }
    (folder / f"{token}.json").write_text(json.dumps(meta))
    return see_other(f"/clients/import/{token}")


def _mapping_from(form: dict[str, str], columns: int, fields: dict[str, str]) -> dict[int, str]:
    mapping = {}
    for column in range(columns):
        target = form.get(f"column_{column}", "")
        if target in fields and target:
            mapping[column] = target
    return mapping


@permission_required("menu.clients.import")
async def review(request: Request) -> Response:
    """Mapping and preview (GET or 'preview'), a dry run ('check') or the import."""
    meta, data_file = _stored(request)
    kind = meta.get("kind", "clients")
    fields = importing.CONTACT_IMPORT_FIELDS if kind == "contacts" else importing.IMPORT_FIELDS
    settings = request.app.state.settings
    scope = scope_of(request)
    table = tabular.read_table(data_file.read_bytes(), meta["filename"])
    owners = list(scope.may_own().order_by(User.name))
    form: dict[str, str] = {}
    if request.method == "POST":
        async with request.form() as posted:
            form = {key: value for key, value in posted.items() if isinstance(value, str)}
        mapping = _mapping_from(form, len(table.headers), fields)
    else:
        mapping = importing.guess_mapping(table.headers, kind)
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
    on_match = form.get("on_match") or "update"
    if on_match not in import_jobs.MATCH_CHOICES:
        errors["on_match"] = _("Choose one of the options.")

    action = form.get("action")
    if action in ("import", "check") and not errors:
        options = {
            "mapping": {str(column): target for column, target in mapping.items()},
            "country": country,
            "number_format": file_locale,
            "on_match": on_match,
            "owner": default_owner.id if default_owner else None,
        }
        folder = settings.data_dir
        job = start_job(
            request.state.user,
            kind,
            meta["filename"],
            data_file.read_bytes(),
            folder,
            options,
            total=len(table.rows),
            dry_run=action == "check",
        )
        data_file.unlink(missing_ok=True)
        data_file.with_suffix(".json").unlink(missing_ok=True)
        job = launch(job, folder)
        if action == "import" and job.total <= import_jobs.SYNC_LIMIT:
            return _job_page(request, job)
        return see_other(f"/imports/{job.id}")

    preview = []
    if mapping and "country" not in errors and "number_format" not in errors:
        first_rows = tabular.Table(
            headers=table.headers,
            rows=table.rows[:PREVIEW_ROWS],
            lines=table.lines[:PREVIEW_ROWS],
        )
        day_first = importing.day_first_of(table, mapping, file_locale)
        if kind == "contacts":
            preview = importing.convert_rows(
                first_rows, mapping, locale=file_locale, phone_region=country,
                default_country=country, day_first=day_first, kind="contacts",
            )  # fmt: skip
        else:
            preview = _convert(first_rows, mapping, country, file_locale, grants_of(request))
    context = {
        "token": request.path_params["token"],
        "filename": meta["filename"],
        "kind": kind,
        "source": importing.recognise_source(table.headers),
        "table": table,
        "mapping": mapping,
        "fields": fields,
        "preview": preview,
        "owners": owners,
        "default_owner": default_owner_id,
        "country": country,
        "number_format": file_locale,
        "on_match": on_match,
        "countries": sorted({*COUNTRIES, settings.phone_region}),
        "errors": errors,
        "total_rows": len(table.rows),
        "background": len(table.rows) > import_jobs.SYNC_LIMIT,
    }
    status = 400 if errors and request.method == "POST" else 200
    return render(request, "clients/import_review.html", context, status_code=status)


# ------------------------------------------------------------- history


def _jobs_of(request: Request) -> pw.SelectQuery:
    """Imports the visitor may open: their own; an administrator's, everyone's."""
    query = ImportJob.select(ImportJob, User.id, User.name).join(User)
    if not request.state.user.is_admin:
        query = query.where(ImportJob.user == request.state.user.id)
    return query


def _job_or_404(request: Request) -> ImportJob:
    key = parse_id(request.path_params["job"])
    job = _jobs_of(request).where(ImportJob.id == key).first() if key else None
    if job is None:
        raise HTTPException(404)
    return job


def _stalled(job: ImportJob) -> bool:
    moved = job.updated_at or job.created_at
    return job.status in ("queued", "running", "checking") and (
        utcnow() - moved > import_jobs.STALLED_AFTER
    )


def _job_page(request: Request, job: ImportJob, conflicts: list[str] | None = None) -> Response:
    report = json.loads(job.report)
    owner_of_job = job.user_id == request.state.user.id
    last = import_jobs.last_undoable(request.state.user) if owner_of_job else None
    context = {
        "job": job,
        "report": report,
        "active": job.status in import_jobs.ACTIVE,
        "percent": int(100 * job.processed / job.total) if job.total else 100,
        "may_undo": last is not None and last.id == job.id,
        "may_run": owner_of_job and job.status == "checked",
        "may_resume": owner_of_job and (_stalled(job) or job.status == "failed"),
        "conflicts": conflicts or [],
        "report_limit": import_jobs.REPORT_LIMIT,
    }
    status = 409 if conflicts else 200
    return render(request, "imports/job.html", context, block="job", status_code=status)


@permission_required("menu.clients.import")
async def history(request: Request) -> Response:
    jobs_list = list(
        _jobs_of(request).order_by(ImportJob.created_at.desc(), ImportJob.id.desc()).limit(100)
    )
    return render(request, "imports/history.html", {"jobs": jobs_list})


@permission_required("menu.clients.import")
async def job_detail(request: Request) -> Response:
    return _job_page(request, _job_or_404(request))


@permission_required("menu.clients.import")
async def job_run(request: Request) -> Response:
    """Import the rows a dry run checked, or resume a job that stopped."""
    job = _job_or_404(request)
    if job.user_id != request.state.user.id:
        raise HTTPException(404)
    folder = request.app.state.settings.data_dir
    if job.status == "checked":
        options = {**json.loads(job.options), "phase": "import"}
        ImportJob.update(
            status="queued",
            processed=0,
            report="[]",
            options=json.dumps(options),
            updated_at=utcnow(),
        ).where(ImportJob.id == job.id, ImportJob.status == "checked").execute()
    elif _stalled(job) or job.status == "failed":
        # A dry run that stopped checks again; an import goes on where it stopped.
        phase = json.loads(job.options).get("phase", "import")
        status = "checking" if phase == "check" else "queued"
        ImportJob.update(status=status, error="", finished_at=None, updated_at=utcnow()).where(
            ImportJob.id == job.id
        ).execute()
    else:
        return see_other(f"/imports/{job.id}")
    if not import_jobs.upload_path(folder, job).exists():
        error = _("The file is no longer kept; upload it again.")
        ImportJob.update(status="failed", error=error).where(ImportJob.id == job.id).execute()
        return see_other(f"/imports/{job.id}")
    launch(ImportJob.get_by_id(job.id), folder)
    return see_other(f"/imports/{job.id}")


@permission_required("menu.clients.import")
async def job_undo(request: Request) -> Response:
    job = _job_or_404(request)
    last = import_jobs.last_undoable(request.state.user)
    if last is None or last.id != job.id:
        raise HTTPException(404)
    conflicts = import_jobs.undo(job, request.state.user, client_ip(request))
    if conflicts:
        return _job_page(request, job, conflicts)
    return see_other(f"/imports/{job.id}")


routes = [
    Route("/clients/import", upload, methods=["GET", "POST"]),
    Route("/clients/import/{token:str}", review, methods=["GET", "POST"]),
    Route("/imports", history),
    Route("/imports/{job:str}", job_detail),
    Route("/imports/{job:str}/run", job_run, methods=["POST"]),
    Route("/imports/{job:str}/undo", job_undo, methods=["POST"]),
]
