"""Languages: Babel catalogues compiled in memory, and locale-aware formatting."""

from __future__ import annotations

import contextvars
import io
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from portal.config import LANGUAGES

CATALOGUES = Path(__file__).parent / "translations"

current_language: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_language", default="en"
)
current_zone: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_zone", default="Europe/Madrid"
)


# Catalogue folders the plugins add (`register_translation_dirs`), after the core's.
_plugin_catalogues: tuple[Path, ...] = ()


def use_plugin_catalogues(folders: Iterable[Path]) -> None:
    """Merge these folders' catalogues into every language from now on."""
    global _plugin_catalogues
    _plugin_catalogues = tuple(Path(folder) for folder in folders)
    translations.cache_clear()


@cache
def translations(language: str) -> NullTranslations:
    catalogue = _read(CATALOGUES, language)
    for folder in _plugin_catalogues:
        extra = _read(folder, language)
        if extra is None:
            continue
        if catalogue is None:
            catalogue = extra
            continue
        for message in extra:
            kept = catalogue.get(message.id, message.context) if message.id else None
            # A msgid the core translates keeps the core's words everywhere.
            if message.id and not (kept is not None and any(_strings(kept))):
                catalogue[message.id] = message
    if catalogue is None:
        return NullTranslations()
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(fp=compiled)


def _read(folder: Path, language: str) -> Catalog | None:
    po_file = folder / language / "LC_MESSAGES" / "messages.po"
    if not po_file.exists():
        return None
    with po_file.open("rb") as handle:
        return read_po(handle, locale=language)


def _strings(message: Message) -> tuple[str, ...]:
    string = message.string
    return tuple(string) if isinstance(string, (tuple, list)) else (string,)


def gettext(message: str, **values: object) -> str:
    text = translations(current_language.get()).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    text = translations(current_language.get()).ngettext(singular, plural, n)
    return text % {"num": n, **values}


_ = gettext


def N_(message: str) -> str:
    """Mark a literal for the catalogue; it is translated where it is shown."""
    return message


class UserError(ValueError):
    """A problem the user must fix, worded as a catalogue template and its values.

    `message` is the English text; `translated()` is the text in the language of
    the current request.
    """

    def __init__(self, template: str, **values: object) -> None:
        super().__init__(template % values if values else template)
        self.template = template
        self.values = values

    @property
    def message(self) -> str:
        return str(self)

    def translated(self) -> str:
        return gettext(self.template, **self.values)


def pick_language(accept_language: str, default: str) -> str:
    """The best of our languages for an Accept-Language header."""
    weighted = []
    for part in accept_language.split(","):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((quality, tag.strip().lower()[:2]))
    for _quality, language in sorted(weighted, reverse=True):
        if language in LANGUAGES:
            return language
    return default


def _locale() -> Locale:
    return _parsed_locale(current_language.get())


@cache
def _parsed_locale(language: str) -> Locale:
    return Locale.parse({"es": "es_ES", "en": "en_GB"}[language])


def format_number(value: int | Decimal | None) -> str:
    if value is None:
        return ""
    if type(value) is int:
        return _formatted_int(value, current_language.get())
    return numbers.format_decimal(value, locale=_locale())


def format_amount(value: Decimal) -> str:
    """An amount as people write it in a form: no decimals when whole, else two."""
    pattern = "#,##0" if value == value.to_integral_value() else "#,##0.00"
    return numbers.format_decimal(value, format=pattern, locale=_locale())


@lru_cache(maxsize=4096)
def _formatted_int(value: int, language: str) -> str:
    # Every list page shows its count; Babel takes tens of microseconds for it.
    return numbers.format_decimal(value, locale=_parsed_locale(language))


def format_percent(value: Decimal | None) -> str:
    """A percentage given in hundredths (34.6 for 34.6 %), as the language writes it.

    Every digit given is kept ("34,6 %" in Spanish, "34.6%" in English): the
    caller rounds, so a page and its chart never round one figure two ways.
    """
    if value is None:
        return ""
    ratio = (Decimal(value) / 100).normalize()
    return numbers.format_percent(ratio, locale=_locale(), decimal_quantization=False)


def format_money(value: Decimal | None, currency: str) -> str:
    if value is None:
        return ""
    return numbers.format_currency(value, currency, locale=_locale())


def local_today() -> date:
    """Today's date where the current user is."""
    return datetime.now(ZoneInfo(current_zone.get())).date()


def to_local(value: datetime) -> datetime:
    """A stored naive-UTC time in the current user's zone."""
    zone = ZoneInfo(current_zone.get())
    # What astimezone ends in, without its detour through UTC; lists call this
    # once a row. combine attaches the zone in a third of what replace takes.
    return zone.fromutc(datetime.combine(value, value.time(), zone))


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return dates.format_datetime(to_local(value), "short", locale=_locale())


def format_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_local(value).date()
    return _formatted_date(value, current_language.get())


@lru_cache(maxsize=8192)
def _formatted_date(value: date, language: str) -> str:
    # Lists show the same few hundred dates over and over; Babel is slow-ish.
    return dates.format_date(value, "medium", locale=_parsed_locale(language))
