"""Checks and clean-ups for client fields, shared by the client form and the import.

Each function returns the value as it should be stored or raises `FieldError`
with a short message meant for the person who typed the value.
"""

from __future__ import annotations

import functools
import inspect
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import babel
import phonenumbers
from babel.numbers import get_decimal_symbol
from stdnum.es import cif, dni, nie, nif
from stdnum.eu import vat
from stdnum.exceptions import ValidationError
from stdnum.util import get_cc_module

from portal.i18n import N_, UserError
from portal.text import clean, fold

FISCAL_ID_MAX = 40


class FieldError(UserError):
    """A value the user must correct."""


def clean_text(value: str, limit: int) -> str:
    """Trimmed NFC text of at most `limit` characters."""
    text = clean(value)
    if len(text) > limit:
        raise FieldError("Too long (at most %(limit)s characters)", limit=limit)
    return text


# ---------------------------------------------------------------- fiscal IDs

# One literal per type, so that each message can be translated.
_NOT_VALID = {
    "nif": N_("Not a valid Spanish NIF"),
    "nie": N_("Not a valid Spanish NIE"),
    "cif": N_("Not a valid Spanish CIF"),
}


# What a foreign tax ID stdnum does not know may hold: letters, digits and the
# separators people type between them.
_FOREIGN_ID = re.compile(r"[0-9A-Z][0-9A-Z .\-/]{1,38}[0-9A-Z]")


def normalise_fiscal_id(value: str, id_type: str | None, *, country: str = "") -> tuple[str, str]:
    """Return `(type, id)`; the type is detected when `id_type` is empty.

    With a `country` other than Spain the ID is taken as that country's
    (`foreign`): checked and compacted by stdnum when it knows the country's tax
    ID (Mexican RFC, Chilean RUT, Argentine CUIT...), else kept as typed.
    """
    text = clean(value)
    if not text:
        return "", ""
    if id_type == "other":
        return "other", clean_text(text, FISCAL_ID_MAX)
    if id_type == "foreign" and not country:
        return "foreign", clean_text(text.upper(), FISCAL_ID_MAX)
    if country and country.upper() != "ES" and id_type in ("", None, "foreign"):
        return "foreign", _foreign_id(text, country.upper())

    # Dots and slashes are common in hand-typed IDs ("12.345.678-Z").
    compact = nif.compact(re.sub(r"[./]", "", text))
    if not id_type:
        return _detect_fiscal_id(compact)
    # Every Spanish tax ID is a NIF today, so "nif" accepts NIE and CIF forms.
    checks = {"nif": nif, "nie": nie, "cif": cif}
    if id_type not in checks:
        raise FieldError("Unknown fiscal ID type")
    if not checks[id_type].is_valid(compact):
        raise FieldError(_NOT_VALID[id_type])
    return id_type, compact


def _foreign_id(text: str, country: str) -> str:
    module = get_cc_module(country.lower(), "vat") if country.isalpha() else None
    if module is not None:
        # Some modules (Mexico's RFC) skip the check digit unless asked to check it.
        checks_digits = "validate_check_digits" in inspect.signature(module.validate).parameters
        try:
            if checks_digits:
                return module.validate(text, validate_check_digits=True)
            return module.validate(text)
        except ValidationError as exc:
            raise FieldError("Not a valid tax ID for that country") from exc
    upper = text.upper()
    if not _FOREIGN_ID.fullmatch(upper):
        raise FieldError("Not a valid tax ID")
    return upper


def fiscal_id_spellings(fiscal_id: str, id_type: str, country: str) -> list[str]:
    """The ways a stored ID may be written: as normalised, and as the country prints it.

    Foreign IDs typed on the client form are kept as written ("12.345.678-5"),
    so a search for the normalised one ("123456785") also looks for that.
    """
    spellings = [fiscal_id]
    module = get_cc_module(country.lower(), "vat") if country.isalpha() else None
    if id_type == "foreign" and module is not None and hasattr(module, "format"):
        try:
            printed = module.format(fiscal_id)
        except ValidationError:
            printed = ""
        if printed and printed not in spellings:
            spellings.append(printed)
    return spellings


def _detect_fiscal_id(compact: str) -> tuple[str, str]:
    if dni.is_valid(compact):
        return "nif", compact
    if nie.is_valid(compact):
        return "nie", compact
    if cif.is_valid(compact):
        return "cif", compact
    # Special NIFs (K, L, M) are valid NIFs that are neither DNI nor NIE.
    if nif.is_valid(compact):
        return "nif", compact
    if vat.is_valid(compact):
        return "foreign", vat.compact(compact)
    raise FieldError("Not a valid Spanish NIF, NIE or CIF")


# ------------------------------------------------------- contact details


# A Spanish number of nine digits starting 6-9, however spaced or prefixed: what
# most rows of a Spanish file hold, settled without the full parser.
_SPANISH_PHONE = re.compile(r"(?:\+34|0034)?([6-9]\d{8})")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")


def normalise_phone(value: str, region: str) -> str:
    """E.164 form (`+34600112233`); national numbers are read for `region`."""
    text = clean(value)
    if not text:
        return ""
    bare = _PHONE_SEPARATORS.sub("", text)
    match = _SPANISH_PHONE.fullmatch(bare)
    if match and (region.upper() == "ES" or bare.startswith("+34")):
        return "+34" + match.group(1)
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise FieldError("Not a valid phone number") from exc
    # Only the length is checked: numbering plans change faster than the
    # library's metadata, and a real customer's number must never be refused.
    if not phonenumbers.is_possible_number(number):
        raise FieldError("Not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def normalise_email(value: str) -> str:
    text = clean(value).lower()
    if not text:
        return ""
    if len(text) > 254 or not _EMAIL.fullmatch(text):
        raise FieldError("Not a valid email address")
    return text


def normalise_website(value: str) -> str:
    """An http(s) URL; `https://` is added when no scheme is given."""
    text = clean(value)
    if not text:
        return ""
    if "://" not in text:
        text = "https://" + text
    # A stored URL becomes a link, so anything but http(s) is refused outright
    # (think `javascript:`).
    parts = urlsplit(text)
    host = parts.hostname or ""
    if (
        parts.scheme.lower() not in ("http", "https")
        or "." not in host
        or re.search(r"[\s\"'<>\\^`{|}]", text)
        or len(text) > 255
    ):
        raise FieldError("Not a valid web address")
    return text


# ------------------------------------------------------------ numbers


# [0-9], not \d: \d also matches full-width and Arabic-Indic digits, which
# Decimal would read as if they were ASCII ones.
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_SCIENTIFIC = re.compile(r"[+-]?[0-9]+([.,][0-9]+)?[eE][+-]?[0-9]+")
_NOISE = re.compile(r"[€$£\s\u00a0\u202f]|EUR|USD|GBP")


def parse_decimal(text: str, locale: str, *, exponent: bool = True) -> Decimal:
    """Read a number as people write it in `locale`; never goes through float.

    A lone separator is the locale's decimal mark if it is that mark; any
    other separator groups thousands when every group after it has three
    digits, and is the decimal mark otherwise: "1.000" is a thousand in
    Spanish while "1234.5" still reads as written. Spreadsheets export big
    numbers as 1.5E+7, which imports read; a form typed by a person passes
    `exponent=False`, as 1e10 there is a slip, not an amount.
    """
    raw = _NOISE.sub("", clean(text))
    if _SCIENTIFIC.fullmatch(raw):
        if not exponent:
            raise FieldError("Write the number in digits, without an exponent.")
        return _plain(Decimal(raw.replace(",", ".")))

    sign, body = ("-", raw[1:]) if raw[:1] == "-" else ("", raw.removeprefix("+"))
    decimal_mark = _decimal_symbol(locale)
    marks = [ch for ch in body if ch in ".,"]
    if len(set(marks)) == 2:
        decimal_mark = marks[-1]
    elif marks == [decimal_mark]:
        pass
    elif marks and _is_grouped(body, marks[0]):
        decimal_mark = "," if marks[0] == "." else "."
    elif marks:
        decimal_mark = marks[0]

    integer, _, fraction = body.partition(decimal_mark)
    group_mark = "," if decimal_mark == "." else "."
    if group_mark in integer:
        if not _is_grouped(integer, group_mark):
            raise FieldError("Not a number")
        integer = integer.replace(group_mark, "")
    plain = f"{sign}{integer}.{fraction}" if fraction else f"{sign}{integer}"
    if not _PLAIN_NUMBER.fullmatch(plain):
        raise FieldError("Not a number")
    return _plain(Decimal(plain))


# Above this SQLite's floating-point storage no longer keeps every cent.
AMOUNT_LIMIT = Decimal("1e11")
CENT = Decimal("0.01")
# A mark that may group thousands: the digits before it cannot start with 0.
_LONE_MARK = re.compile(r"[+-]?[1-9][0-9]{0,2}[.,][0-9]{3}")


def parse_amount(text: str, locale: str) -> Decimal:
    """An amount of zero or more a person typed, to the cent, below `AMOUNT_LIMIT`.

    Both the locale's way and the other common one are read ("1.234,50" and
    "1,234.50"), except a lone mark before three digits that is the locale's
    decimal mark: "12,000" in Spanish may be twelve or twelve thousand, so it
    is refused rather than guessed. "0,001" is no such case, as thousands are
    never grouped after a leading zero: it reads 0.001 and, like any amount
    with more than two decimals, is refused, never rounded away.
    """
    raw = _NOISE.sub("", clean(text))
    if _LONE_MARK.fullmatch(raw) and _decimal_symbol(locale) in raw:
        raise FieldError(
            "Ambiguous: write %(grouped)s for thousands, or no separator at all.",
            grouped="12.000" if _decimal_symbol(locale) == "," else "12,000",
        )
    value = parse_decimal(text, locale, exponent=False)
    if value < 0 or value >= AMOUNT_LIMIT:
        raise FieldError("An amount of zero or more, below 100 billion.")
    if value != value.quantize(CENT):
        raise FieldError("Use at most two decimals.")
    return value.quantize(CENT)


@functools.lru_cache(maxsize=16)
def _decimal_symbol(locale: str) -> str:
    return get_decimal_symbol(locale)


def _is_grouped(digits: str, mark: str) -> bool:
    # Nobody groups thousands after a leading zero: "0.500" is a half.
    return re.fullmatch(rf"[1-9][0-9]{{0,2}}(\{mark}[0-9]{{3}})+", digits) is not None


def _plain(number: Decimal) -> Decimal:
    """Drop a positive exponent so 3.00E+7 is stored and shown as 30000000."""
    if not number.is_finite():
        raise FieldError("Not a number")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        try:
            return number.quantize(Decimal(1))
        except InvalidOperation as exc:
            raise FieldError("Number too large") from exc
    return number


# -------------------------------------------------------------- dates


_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})([ T][\d:.]+)?")
_LOCAL_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")


def parse_date(text: str, day_first: bool) -> date:
    """Read `2024-02-03`, or `03/02/2024` as day/month when `day_first`.

    An impossible day is an error, never rolled over into the next month.
    """
    raw = clean(text)
    if match := _ISO_DATE.fullmatch(raw):
        year, month, day = (int(g) for g in match.group(1, 2, 3))
    elif match := _LOCAL_DATE.fullmatch(raw):
        first, second, year = (int(g) for g in match.groups())
        day, month = (first, second) if day_first else (second, first)
    else:
        raise FieldError("Not a date (expected dd/mm/yyyy or yyyy-mm-dd)")
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise FieldError("No such date") from exc


def detect_day_first(values: list[str]) -> bool | None:
    """Decide from a whole column whether `a/b/yyyy` dates are day first.

    Only a value above 12 settles it; `None` when no value does, or when the
    column contradicts itself.
    """
    votes = set()
    for value in values:
        match = _LOCAL_DATE.fullmatch(clean(value))
        if not match:
            continue
        first, second = int(match.group(1)), int(match.group(2))
        if first > 12 >= second:
            votes.add(True)
        elif second > 12 >= first:
            votes.add(False)
    return votes.pop() if len(votes) == 1 else None


def locale_day_first(locale: str) -> bool:
    """Whether the locale's short date pattern puts the day before the month."""
    pattern = babel.Locale.parse(locale).date_formats["short"].pattern
    return pattern.lower().find("d") < pattern.lower().find("m")


# ---------------------------------------------------------- countries


# Babel has names only; these abbreviations are how people write them.
_COUNTRY_ALIASES = {
    "usa": "US",
    "eeuu": "US",
    "uk": "GB",
    "greatbritain": "GB",
    "england": "GB",
    "inglaterra": "GB",
}

# Babel territories that are groupings or placeholders, not countries.
_NOT_COUNTRIES = {"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"}


def normalise_country(value: str) -> str:
    """ISO 3166 alpha-2 code from a code or a country name in Spanish or English."""
    text = clean(value)
    if not text:
        return ""
    code = _country_index().get(_name_key(text))
    if code is None:
        raise FieldError("Unknown country")
    return code


def _name_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold(text))


@functools.cache
def _country_index() -> dict[str, str]:
    index = dict(_COUNTRY_ALIASES)
    for language in ("en", "es"):
        for code, name in babel.Locale(language).territories.items():
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES:
                index.setdefault(_name_key(name), code)
                index[code.lower()] = code
    return index


def display_phone(e164: str) -> str:
    """A stored E.164 number written the international way, for reading."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
