"""The database connection shared by the core and the plugins."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import cache
from urllib.parse import urlparse

import peewee
from playhouse.db_url import parseresult_to_dict, schemes

logger = logging.getLogger(__name__)


_SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": 5000,
    "cache_size": -32_000,
}


def utcnow() -> datetime:
    """Naive UTC timestamp: what every datetime column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


class _Savepoint(peewee._savepoint):
    """A savepoint whose rollback also forgets the `after_commit` callbacks made in it.

    peewee runs the callbacks when the outermost transaction commits and drops
    them when it rolls back, but knows nothing of savepoints: an event emitted
    inside a nested `atomic()` that was rolled back would still be announced.
    """

    def _begin(self) -> None:
        super()._begin()
        self._mark = len(self.db._state.commit_callbacks)

    def rollback(self, begin: bool = True) -> None:
        del self.db._state.commit_callbacks[self._mark :]
        super().rollback(begin)


class _SavepointsForget:
    """Mixed into the configured database class (see `_database_class`)."""

    def savepoint(self) -> peewee._savepoint:
        return _Savepoint(self)


class _Proxy(_SavepointsForget, peewee.DatabaseProxy):
    """The proxy opens its own savepoints (`db.atomic()` nested), so it needs them too."""


# Models bind to this proxy; `open_database` points it at the configured server.
db = _Proxy()


class BaseModel(peewee.Model):
    class Meta:
        database = db
        legacy_table_names = False


@cache
def _database_class(scheme: str) -> type[peewee.Database]:
    base = schemes.get(scheme)
    if base is None:
        raise RuntimeError(f"Unsupported database URL scheme: {scheme!r}")
    return type(base.__name__, (_SavepointsForget, base), {})


def open_database(url: str) -> peewee.Database:
    """Connect to `url` (as playhouse.db_url reads it) and point `db` at it."""
    parsed = urlparse(url)
    options = parseresult_to_dict(parsed)
    if not options.get("database"):
        raise ValueError(f"{url!r} names no database (a local file takes three slashes)")
    if url.startswith("sqlite"):
        options["pragmas"] = _SQLITE_PRAGMAS
    database = _database_class(parsed.scheme)(**options)
    db.initialize(database)
    logger.debug("database opened: %s", type(database).__name__)
    return database


def is_sqlite() -> bool:
    return isinstance(db.obj, peewee.SqliteDatabase)
