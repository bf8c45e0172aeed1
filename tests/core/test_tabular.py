from __future__ import annotations

import datetime as dt
import io
import unicodedata
import zipfile
from pathlib import Path

import openpyxl
import pytest

from portal.core import tabular
from portal.core.tabular import TableError, read_table

DATA = Path(__file__).parent.parent / "data"


def _read(name: str) -> tabular.Table:
    return read_table((DATA / name).read_bytes(), name)


def test_excel_csv_with_bom_and_semicolons() -> None:
    table = _read("import_es_excel_bom_semicolon.csv")

    assert table.headers == [
        "Nombre",
        "Apellidos",
        "Email",
        "Teléfono",
        "NIF",
        "Fecha alta",
        "Importe",
    ]
    assert len(table.rows) == 4
    assert table.rows[0][:2] == ["José Ángel", "Muñoz Ibáñez"]
    assert table.rows[2][0] == "Ñandú Soluciones SL"
    assert table.rows[3][:2] == ["Zoë", "O'Brien-García"]
    assert table.lines == [2, 3, 4, 5]


def test_windows_1252_is_decoded() -> None:
    table = _read("import_windows1252.csv")

    assert table.headers == ["Nombre", "Empresa", "Notas"]
    assert table.rows[0] == [
        "Iñaki García",
        "Construcciones Peña, S.L.",
        "Presupuesto 1.500 € – “urgente”",
    ]
    assert table.rows[1][:2] == ["Begoña Ruíz", "Café Ñu"]


def test_salesforce_export_keeps_line_breaks_inside_cells() -> None:
    table = _read("salesforce_accounts_export.csv")

    assert len(table.rows) == 100
    assert table.headers[:4] == ["NAME", "TYPE", "PARENTID", "BILLINGSTREET"]
    street = table.rows[0][table.headers.index("BILLINGSTREET")]
    assert street == "345 Shoreline Park\nMountain View, CA 94043\nUSA"
    # Rows are numbered as a spreadsheet shows them, not by physical line.
    assert table.lines[:3] == [2, 3, 4]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(delimiter: str) -> None:
    text = delimiter.join(["Name", "City", "Notes"]) + "\r\n"
    text += delimiter.join(["Ana", "Sevilla", '"two\r\nlines, quoted; |"']) + "\r\n"
    table = read_table(text.encode(), "clients.csv")

    assert table.headers == ["Name", "City", "Notes"]
    assert table.rows == [["Ana", "Sevilla", "two\nlines, quoted; |"]]


def test_one_column_file_is_fine() -> None:
    table = read_table(b"Name\nAna\nLuis\n", "names.csv")
    assert table.headers == ["Name"]
    assert table.rows == [["Ana"], ["Luis"]]


def test_empty_rows_are_dropped_and_short_rows_padded() -> None:
    data = b"Name,City,Zip\n\nAna,Sevilla\n,,\nLuis,Madrid,28001,extra\n"
    table = read_table(data, "clients.csv")

    assert table.headers == ["Name", "City", "Zip", ""]
    assert table.rows == [
        ["Ana", "Sevilla", "", ""],
        ["Luis", "Madrid", "28001", "extra"],
    ]
    assert table.lines == [3, 5]


def test_text_comes_back_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Name\nZoë Muñoz\n")
    table = read_table(decomposed.encode(), "clients.csv")
    assert table.rows == [["Zoë Muñoz"]]
    assert unicodedata.is_normalized("NFC", table.rows[0][0])


def test_utf16_text_export() -> None:
    table = read_table("Nombre\tCiudad\nÍñigo\tA Coruña\n".encode("utf-16"), "x.txt")
    assert table.rows == [["Íñigo", "A Coruña"]]


def _xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def test_xlsx_cells_become_plain_text() -> None:
    data = _xlsx(
        [
            ["Name", "Since", "Revenue", "Employees", "Ratio", "Big", "Notes"],
            [
                "Ñandú SL",
                dt.datetime(2024, 2, 3),
                1234.56,
                12,
                0.1 + 0.2,
                3e7,
                "line one\nline two",
            ],
            [None, None, None, None, None, None, None],
            ["Zoë", dt.date(2023, 12, 31), -7.5, None, 1e-7, True, "=1+1"],
        ]
    )
    table = read_table(data, "Clients.XLSX")

    assert table.headers == [
        "Name",
        "Since",
        "Revenue",
        "Employees",
        "Ratio",
        "Big",
        "Notes",
    ]
    assert table.rows == [
        [
            "Ñandú SL",
            "2024-02-03",
            "1234.56",
            "12",
            "0.3",
            "30000000",
            "line one\nline two",
        ],
        # A formula gives its last computed value, and openpyxl computes none.
        ["Zoë", "2023-12-31", "-7.5", "", "0.0000001", "TRUE", ""],
    ]
    assert table.lines == [2, 4]


def test_xlsx_datetime_keeps_its_time() -> None:
    data = _xlsx([["When"], [dt.datetime(2024, 2, 3, 9, 30)]])
    assert read_table(data, "a.xlsx").rows == [["2024-02-03 09:30:00"]]


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "a.csv", "empty"),
        (b" \r\n\r\n", "a.csv", "empty"),
        (b",,,\r\n , ,\r\n", "a.csv", "empty"),
        (b"Name\n", "a.pdf", "Unsupported file type"),
        (b"\xd0\xcf\x11\xe0", "old.xls", ".xls"),
        (b"PK\x03\x04 not really a zip", "a.xlsx", "Not a valid XLSX"),
        (b"Name,City\nAna,\x00Sevilla\n", "a.csv", "does not look like a CSV"),
        (b"Name\n\x81\x8d\x8f\n", "a.csv", "encoding"),
    ],
)
def test_unreadable_files_get_a_clear_error(data: bytes, filename: str, message: str) -> None:
    with pytest.raises(TableError, match=message):
        read_table(data, filename)


def test_corrupt_xlsx_inside_a_valid_zip() -> None:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as archive:
        archive.writestr("[Content_Types].xml", "<not xml")
    with pytest.raises(TableError, match="Not a valid XLSX"):
        read_table(output.getvalue(), "a.xlsx")


def test_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tabular, "MAX_ROWS", 3)
    assert len(read_table(b"Name\na\nb\nc\n", "a.csv").rows) == 3
    with pytest.raises(TableError, match="Too many rows: the limit is 3"):
        read_table(b"Name\na\nb\nc\nd\n", "a.csv")


def test_xlsx_with_a_broken_sheet_is_refused() -> None:
    source = zipfile.ZipFile(io.BytesIO(_xlsx([["Name"], ["Ana"]])))
    output = io.BytesIO()
    with source, zipfile.ZipFile(output, "w") as broken:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]
            broken.writestr(item, content)
    with pytest.raises(TableError, match="Not a valid XLSX"):
        read_table(output.getvalue(), "a.xlsx")
