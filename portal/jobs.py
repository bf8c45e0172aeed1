"""The background job queue (huey): slow work leaves the request.

Tasks are declared here against one queue object; `configure` points it at its
storage when the app or the worker starts: SQLite in the data folder by default,
Redis when `CARTERA_REDIS_URL` is set, or immediate mode, where a task runs as
soon as it is enqueued (tests, and installs that want no worker).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pluggy
from huey import Huey, crontab
from huey.api import TaskWrapper
from huey.storage import RedisStorage, SqliteStorage

from portal.config import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    """A job a plugin runs on a schedule in the worker (`register_periodic_jobs`).

    The schedule fields read as in cron, in UTC: the defaults run it every
    minute. `run` takes no arguments; it is called in the worker, outside any
    request, and must be safe to run twice.
    """

    name: str  # unique across plugins: "objectives.snapshot"
    run: Callable[[], None]
    minute: str = "*"
    hour: str = "*"
    day: str = "*"
    month: str = "*"
    day_of_week: str = "*"


# Immediate until configured, so importing this module never touches a disk.
queue = Huey("cartera", immediate=True)
# What `configure` was given, for periodic tasks, which are called without arguments.
_settings: Settings | None = None
# The plugins' periodic tasks, by job name, so a second app in one process
# (tests) replaces them instead of registering each twice.
plugin_tasks: dict[str, TaskWrapper] = {}


def register_periodic(manager: pluggy.PluginManager) -> dict[str, TaskWrapper]:
    """Make every plugin's `PeriodicJob` a periodic task of the queue, named after it.

    The app and the worker call this after `configure`; the worker's consumer
    then runs each job on its schedule.
    """
    from portal.plugins import PluginError, collect

    for task in plugin_tasks.values():
        task.unregister()
    plugin_tasks.clear()
    for job in collect(manager.hook.register_periodic_jobs):
        if job.name in plugin_tasks:
            raise PluginError(f"periodic job {job.name!r} declared twice")
        schedule = crontab(job.minute, job.hour, job.day, job.month, job.day_of_week)
        plugin_tasks[job.name] = queue.periodic_task(schedule, name=job.name)(job.run)
        logger.info("periodic job registered: %s", job.name)
    return plugin_tasks


def configure(settings: Settings) -> Huey:
    """Point the queue at the storage the settings choose."""
    global _settings
    _settings = settings
    if settings.immediate_jobs:
        queue.immediate = True
        return queue
    if settings.redis_url:
        queue.storage_class = RedisStorage
        queue.storage_kwargs = {"url": settings.redis_url}
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        queue.storage_class = SqliteStorage
        queue.storage_kwargs = {"filename": str(settings.data_dir / "jobs.db")}
    if queue.immediate:
        queue.immediate = False  # builds the storage from the class above
    else:
        queue.storage = queue.create_storage()
    return queue


@queue.task()
def run_import(job_id: int, data_dir: str, language: str) -> None:
    """Run or resume one import job (see portal.core.import_jobs)."""
    from portal.core import import_jobs

    job = import_jobs.run_job(job_id, Path(data_dir), language)
    logger.info("import job %s ended as %s", job_id, job.status if job else "missing")


@queue.task()
def run_bulk(job_id: int) -> None:
    """Run one mass action on clients (see portal.core.bulk)."""
    from portal.core import bulk

    job = bulk.run_job(job_id)
    logger.info("mass action %s ended as %s", job_id, job.status if job else "missing")


@queue.periodic_task(crontab(minute="*/10"))
def retry_web_leads() -> None:
    """Process again the web-lead submissions that failed (see portal.core.leads)."""
    from portal.core import leads

    if _settings is None:
        return
    done = leads.retry_failed(_settings)
    if done:
        logger.info("web leads retried: %d processed", done)


@queue.task()
def send_mail(mail_id: int) -> None:
    """Send one row of the outbox, if it is still due (see portal.core.outbox)."""
    from portal.core import outbox

    outbox.deliver(mail_id)


@queue.periodic_task(crontab(minute="*"))
def sweep_outbox() -> None:
    """Send what is due: retries, and rows whose hand-over to the queue was lost."""
    from portal.core import outbox

    sent = outbox.sweep()
    if sent:
        logger.info("outbox sweep sent %s mail(s)", sent)


@queue.periodic_task(crontab(minute="*"))
def send_reminders() -> None:
    """Every minute in the worker: the task reminders whose time has come."""
    from portal.core import reminders
    from portal.database import utcnow

    reminders.run(Settings.from_env(), utcnow())
