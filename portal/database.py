"""The database connection shared by the core and the plugins."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import peewee
from playhouse.db_url import connect

logger = logging.getLogger(__name__)

# Models bind to this proxy; `open_database` points it at the configured server.
db = peewee.DatabaseProxy()

_SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": 5000,
    "cache_size": -32_000,
}


class BaseModel(peewee.Model):
    class Meta:
        database = db
        legacy_table_names = False


def utcnow() -> datetime:
    """Naive UTC timestamp: what every datetime column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def open_database(url: str) -> peewee.Database:
    if url.startswith("sqlite"):
        database = connect(url, pragmas=_SQLITE_PRAGMAS)
    else:
        database = connect(url)
    db.initialize(database)
    logger.debug("database opened: %s", type(database).__name__)
    return database


def is_sqlite() -> bool:
    return isinstance(db.obj, peewee.SqliteDatabase)
