"""Unicode helpers: NFC on save, folding for search and Spanish-aware sorting."""

from __future__ import annotations

import re
import unicodedata

# Up to 18 digits: every such number fits a signed 64-bit integer column.
ID_PATTERN = "[0-9]{1,18}"
_ID = re.compile(ID_PATTERN)

# Control characters other than tab and line breaks are never meant as text, and
# PostgreSQL refuses NUL outright (a pasted one would be a server error).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(value: object) -> str:
    """Trimmed NFC text without control characters; what every text field stores."""
    if value is None:
        return ""
    return _CONTROL.sub("", unicodedata.normalize("NFC", str(value))).strip()


def fold(value: str) -> str:
    """Case- and accent-insensitive form used for searching."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def sort_key(value: str) -> str:
    """Folded text where ñ still sorts after n and before o, as in Spanish."""
    # Letters only: a database collation may ignore punctuation, never letters.
    marked = unicodedata.normalize("NFC", value.casefold()).replace("ñ", "nzz")
    return fold(marked)


def is_digits(text: str) -> bool:
    """Whether `text` is one or more of the ASCII digits 0-9.

    `str.isdigit` also says yes to "²" or "①", which `int` then refuses; typed
    or forged input checked that way would end in a server error.
    """
    return text.isascii() and text.isdigit()


def parse_id(value: object) -> int | None:
    """A record id from user input, or None for anything that cannot be one."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _ID.fullmatch(value):
        return None
    return int(value)


_SPACE_RUN = re.compile(r"\s+")


def one_line(value: str) -> str:
    """`clean` text for a single-line field: every run of spaces, tabs and line breaks
    becomes one space, as a pasted title would otherwise keep its line breaks."""
    return _SPACE_RUN.sub(" ", clean(value)).strip()
