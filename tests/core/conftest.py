"""Fixtures and helpers for the import and export tests."""

from __future__ import annotations

from collections.abc import Iterator

import peewee as pw
import pytest

from portal.core.importing import RowResult, convert_rows, guess_mapping
from portal.core.models import CORE_MODELS
from portal.core.tabular import read_table
from portal.database import open_database


@pytest.fixture
def memory_db() -> Iterator[pw.Database]:
    """An empty in-memory SQLite database holding the core tables."""
    database = open_database("sqlite:///:memory:")
    database.create_tables(CORE_MODELS)
    yield database
    database.close()


def convert_upload(
    data: bytes,
    filename: str = "clients.csv",
    *,
    locale: str = "es",
    region: str = "ES",
    country: str = "ES",
) -> list[RowResult]:
    """Read an upload and convert it with the guessed column mapping."""
    table = read_table(data, filename)
    return convert_rows(
        table,
        guess_mapping(table.headers),
        locale=locale,
        phone_region=region,
        default_country=country,
    )
