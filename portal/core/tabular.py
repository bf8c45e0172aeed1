"""Read an uploaded CSV or XLSX file into rows of text."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import openpyxl

from portal.i18n import UserError
from portal.text import clean

logger = logging.getLogger(__name__)

MAX_ROWS = 100_000
# No client list has more; a wider file is a mistake or an attack on the review page.
MAX_COLUMNS = 200
# Blank rows a sheet may hold besides its data before it counts as too long.
_BLANK_ROWS_ALLOWED = 1_000
DELIMITERS = (",", ";", "\t", "|")
# Rows looked at to choose the delimiter; enough for a stable guess.
SNIFF_ROWS = 50


class TableError(UserError):
    """The file cannot be read as a table; the message says why."""


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    # Row number of each row as a spreadsheet shows it (the header row is 1).
    lines: list[int] = field(default_factory=list)


def read_table(data: bytes, filename: str) -> Table:
    """Read a CSV or XLSX upload; every cell comes back as trimmed NFC text."""
    if not data.strip():
        raise TableError("The file is empty")
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension == "xlsx" or (not extension and data.startswith(b"PK\x03\x04")):
        return _build(_xlsx_rows(data))
    if extension in ("csv", "txt", "tsv", ""):
        return _build(_csv_rows(_decode(data)))
    if extension == "xls":
        raise TableError("Old .xls files are not supported: save as .xlsx or CSV")
    raise TableError("Unsupported file type: upload a CSV or XLSX file")


def _build(numbered_rows: Iterable[tuple[int, list[str]]]) -> Table:
    headers: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    for number, cells in numbered_rows:
        cells = [clean(cell) for cell in cells]
        while cells and not cells[-1]:
            cells.pop()
        if len(cells) > MAX_COLUMNS:
            raise TableError("Too many columns: the limit is %(limit)s", limit=MAX_COLUMNS)
        if not cells:
            continue
        if headers is None:
            headers = cells
            continue
        if len(rows) >= MAX_ROWS:
            raise TableError("Too many rows: the limit is %(limit)s", limit=MAX_ROWS)
        rows.append(cells)
        lines.append(number)
    if headers is None:
        raise TableError("The file is empty")

    # Short rows are padded, and columns beyond the header get a blank title,
    # so every row lines up with `headers`.
    width = max([len(headers), *(len(row) for row in rows)])
    headers += [""] * (width - len(headers))
    for row in rows:
        row += [""] * (width - len(row))
    return Table(headers=headers, rows=rows, lines=lines)


# ------------------------------------------------------------------ CSV


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode text" export.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise TableError("Unknown text encoding: save the file as CSV UTF-8") from exc
    if b"\x00" in data:
        raise TableError("This does not look like a CSV file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Older Excel versions save CSV in the Windows code page.
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise TableError("Unknown text encoding: save the file as CSV UTF-8") from exc


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for number, row in enumerate(reader, start=1):
            # Line breaks inside quoted cells keep their meaning, in one form.
            yield number, [c.replace("\r\n", "\n").replace("\r", "\n") for c in row]
    except csv.Error as exc:
        raise TableError(
            "Unreadable CSV near row %(line)s: %(reason)s", line=reader.line_num, reason=exc
        ) from exc


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first rows into the most consistent columns."""
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        widths = []
        try:
            for row in reader:
                if any(cell.strip() for cell in row):
                    widths.append(len(row))
                if len(widths) >= SNIFF_ROWS:
                    break
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        agreeing = sum(1 for width in widths if width == widths[0]) / len(widths)
        score = (agreeing, widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


# ----------------------------------------------------------------- XLSX


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise _unreadable(exc) from exc
    if not book.worksheets:
        book.close()
        raise TableError("The workbook has no sheets")
    try:
        # Read one column past the limit, so a wider sheet is noticed without
        # padding every row to the sheet's declared width (up to 16,384).
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1)
        for number, values in enumerate(rows, start=1):
            if number > MAX_ROWS + _BLANK_ROWS_ALLOWED:
                raise TableError("Too many rows: the limit is %(limit)s", limit=MAX_ROWS)
            yield number, [_cell_text(value) for value in values]
    except TableError:
        raise
    except Exception as exc:
        raise _unreadable(exc) from exc
    finally:
        book.close()


def _unreadable(exc: Exception) -> TableError:
    # Broken files fail deep inside openpyxl in many different ways (bad zip,
    # bad XML, missing parts); the user only needs to know it cannot be read.
    logger.info("unreadable XLSX upload: %r", exc)
    return TableError("Not a valid XLSX file")


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Excel keeps 15 significant digits; beyond that is binary noise.
        return format(Decimal(f"{value:.15g}").normalize(), "f")
    return str(value)
