"""Write clients (or any table) to CSV or XLSX files safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import peewee as pw
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from portal.i18n import N_

# (attribute, English header); a dotted attribute follows a foreign key, so
# select the clients joined to their owner to avoid one query per row.
CLIENT_EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    # Named so the import recognises it and updates these very clients.
    ("id", N_("Cartera ID")),
    ("name", N_("Name")),
    ("kind", N_("Kind")),
    ("status", N_("Status")),
    ("segment", N_("Segment")),
    ("zone", N_("Zone")),
    ("fiscal_id_type", N_("Fiscal ID type")),
    ("fiscal_id", N_("Fiscal ID")),
    ("email", N_("Email")),
    ("phone", N_("Phone")),
    ("mobile", N_("Mobile")),
    ("address", N_("Address")),
    ("city", N_("City")),
    ("postal_code", N_("Postal code")),
    ("province", N_("Province")),
    ("country", N_("Country")),
    ("website", N_("Website")),
    ("notes", N_("Notes")),
    ("annual_revenue", N_("Annual revenue")),
    ("employees", N_("Employees")),
    ("registered_on", N_("Customer since")),
    ("latitude", N_("Latitude")),
    ("longitude", N_("Longitude")),
    ("is_supplier", N_("Supplier")),
    ("marketing_opt_out", N_("No marketing")),
    ("discount", N_("Discount percentage")),
    ("external_id", N_("ID in the other system")),
    ("owner.email", N_("Owner")),
    ("created_at", N_("Created")),
    ("updated_at", N_("Updated")),
)

# Contacts, with the client each belongs to; select them joined to their client.
CONTACT_EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", N_("Cartera contact ID")),
    ("name", N_("Name")),
    ("position", N_("Position")),
    ("email", N_("Email")),
    ("email_alt", N_("Other email")),
    ("phone", N_("Phone")),
    ("mobile", N_("Mobile")),
    ("language", N_("Preferred language")),
    ("marketing_consent", N_("Marketing consent")),
    ("notes", N_("Notes")),
    ("external_id", N_("ID in the other system")),
    ("client.id", N_("Client's Cartera ID")),
    ("client.name", N_("Client name")),
    ("client.fiscal_id", N_("Client fiscal ID")),
)

# A cell starting with one of these may run as a formula in a spreadsheet.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write_csv(rows: Iterable[pw.Model], columns: Sequence[tuple[str, str]]) -> bytes:
    """UTF-8 with a BOM (so Excel reads the accents), commas and CRLF."""
    values = ([_value(client, name) for name, _ in columns] for client in rows)
    return write_table_csv([header for _, header in columns], values)


def write_xlsx(
    rows: Iterable[pw.Model], columns: Sequence[tuple[str, str]], title: str = "Clients"
) -> bytes:
    """One sheet; text is always a string cell, so it can never run as a formula."""
    values = ([_value(client, name) for name, _ in columns] for client in rows)
    return write_table_xlsx([header for _, header in columns], values, title)


def write_table_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """Any table of plain values, written as `write_csv` writes clients."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_neutralise(header) for header in headers])
    for row in rows:
        writer.writerow([_csv_text(value) for value in row])
    return buffer.getvalue().encode("utf-8-sig")


def write_table_xlsx(headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str) -> bytes:
    """Any table of plain values, written as `write_xlsx` writes clients."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append([_xlsx_cell(sheet, header, bold=True) for header in headers])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])

    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def _value(client: pw.Model, name: str) -> Any:
    owner: Any = None
    value: Any = client
    for part in name.split("."):
        owner, value = value, getattr(value, part) if value is not None else None
    # SQLite hands back -7.5 for -7.50; show money with its own decimals.
    column = owner._meta.fields.get(part) if owner is not None else None
    if isinstance(value, Decimal) and isinstance(column, pw.DecimalField):
        value = value.quantize(Decimal(1).scaleb(-column.decimal_places))
    return value


def _xlsx_cell(sheet: WriteOnlyWorksheet, value: Any, bold: bool = False) -> WriteOnlyCell:
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        # openpyxl would turn text starting with "=" into a formula by itself.
        cell.data_type = "s"
    else:
        cell = WriteOnlyCell(sheet, value=value)
    if bold:
        cell.font = Font(bold=True)
    return cell


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, (dt.date, int)):
        return str(value)
    return _neutralise(str(value))


def _neutralise(text: str) -> str:
    # A leading apostrophe makes spreadsheet apps show the text as text.
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
