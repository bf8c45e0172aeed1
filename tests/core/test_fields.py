from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from stdnum.es import nie

from portal.core.fields import (
    FieldError,
    clean_text,
    detect_day_first,
    locale_day_first,
    normalise_country,
    normalise_email,
    normalise_fiscal_id,
    normalise_phone,
    normalise_website,
    parse_amount,
    parse_date,
    parse_decimal,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12345678Z", ("nif", "12345678Z")),
        (" 12.345.678-z ", ("nif", "12345678Z")),
        ("X1111111G", ("nie", "X1111111G")),
        ("x-1111111-g", ("nie", "X1111111G")),
        ("A11111119", ("cif", "A11111119")),
        ("ES A11111119", ("cif", "A11111119")),
        ("FR40303265045", ("foreign", "FR40303265045")),
        ("", ("", "")),
    ],
)
def test_fiscal_id_type_is_detected(value: str, expected: tuple[str, str]) -> None:
    assert normalise_fiscal_id(value, None) == expected


def test_y1234567x_is_a_valid_nie() -> None:
    # Y counts as 1: 11234567 mod 23 = 10, and the tenth check letter is X.
    assert nie.is_valid("Y1234567X")
    assert normalise_fiscal_id("Y1234567X", "") == ("nie", "Y1234567X")


@pytest.mark.parametrize(
    ("value", "id_type"),
    [
        ("12345678A", None),
        ("X1111111A", None),
        ("A11111118", None),
        ("12345678Z", "nie"),
        ("X1111111G", "cif"),
        ("hello", "nif"),
    ],
)
def test_bad_fiscal_ids_are_refused(value: str, id_type: str | None) -> None:
    with pytest.raises(FieldError):
        normalise_fiscal_id(value, id_type)


def test_other_and_foreign_ids_are_kept_as_typed() -> None:
    assert normalise_fiscal_id(" ab-12 ", "other") == ("other", "ab-12")
    assert normalise_fiscal_id(" gb 123 ", "foreign") == ("foreign", "GB 123")
    with pytest.raises(FieldError, match="Unknown fiscal ID type"):
        normalise_fiscal_id("12345678Z", "passport")


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("+34 600 11 22 33", "ES", "+34600112233"),
        ("600112233", "ES", "+34600112233"),
        ("0034 912 34 56 78", "ES", "+34912345678"),
        ("(+34) 600-112-234", "ES", "+34600112234"),
        ("(650) 867-3450", "US", "+16508673450"),
        ("+44 191 4956203", "es", "+441914956203"),
        ("  ", "ES", ""),
    ],
)
def test_phone_numbers_become_e164(value: str, region: str, expected: str) -> None:
    assert normalise_phone(value, region) == expected


@pytest.mark.parametrize("value", ["call me", "12", "+34 600 11 22 33 44 55 66"])
def test_impossible_phone_numbers_are_refused(value: str) -> None:
    with pytest.raises(FieldError, match="phone"):
        normalise_phone(value, "ES")


def test_email_is_trimmed_lower_cased_and_checked() -> None:
    assert normalise_email(" JA.Munoz@Ejemplo.es ") == "ja.munoz@ejemplo.es"
    assert normalise_email("") == ""
    for bad in ("no-at.example", "a@b", "a b@example.com", "a@@example.com"):
        with pytest.raises(FieldError):
            normalise_email(bad)


def test_website_gets_a_scheme_and_refuses_scripts() -> None:
    assert normalise_website("www.genepoint.com") == "https://www.genepoint.com"
    assert normalise_website("http://edgecomm.com") == "http://edgecomm.com"
    assert normalise_website("") == ""
    for bad in ("javascript:alert(1)", "ftp://example.com", "not a site"):
        with pytest.raises(FieldError):
            normalise_website(bad)


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("1.234,56", "es", "1234.56"),
        ("-7,50", "es", "-7.50"),
        ("1.000", "es", "1000"),
        ("0,1", "es", "0.1"),
        ("1,234", "es", "1.234"),
        ("1.234.567,8", "es", "1234567.8"),
        ("1234.5", "es", "1234.5"),
        ("12 345,60 €", "es", "12345.60"),
        ("1,234.56", "en", "1234.56"),
        ("1,234", "en", "1234"),
        ("1.5", "en", "1.5"),
        ("3.00E+07", "en", "30000000"),
        ("3,5e2", "es", "350"),
        ("+42", "en", "42"),
        ("0.500", "es", "0.500"),
        ("0,25", "en", "0.25"),
    ],
)
def test_decimals_are_read_as_written(text: str, locale: str, expected: str) -> None:
    value = parse_decimal(text, locale)
    assert isinstance(value, Decimal)
    assert str(value) == expected


@pytest.mark.parametrize("text", ["", "abc", "-", "1.23.4", "1,2,3", "--1", "1e999999"])
def test_non_numbers_are_refused(text: str) -> None:
    with pytest.raises(FieldError):
        parse_decimal(text, "es")


@pytest.mark.parametrize(
    ("text", "locale"),
    [("0,001", "es"), ("0.001", "en"), ("0.001", "es"), ("0,001", "en"), ("0,125", "es")],
)
def test_amount_after_a_leading_zero_asks_for_two_decimals_not_which_mark(
    text: str, locale: str
) -> None:
    # A thousands group never follows a lone 0, so only the decimal reading is left.
    with pytest.raises(FieldError) as refused:
        parse_amount(text, locale)
    assert refused.value.message == "Use at most two decimals."


@pytest.mark.parametrize(
    ("text", "locale"), [("1,234", "es"), ("1.234", "en"), ("12,000", "es"), ("-1,234", "es")]
)
def test_amount_with_a_lone_decimal_mark_before_three_digits_stays_a_question(
    text: str, locale: str
) -> None:
    with pytest.raises(FieldError) as refused:
        parse_amount(text, locale)
    assert refused.value.message.startswith("Ambiguous: write ")


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("12.000,50", "es", "12000.50"),
        ("12.000", "es", "12000.00"),
        ("0,50", "es", "0.50"),
        ("0,000", "es", "0.00"),
        ("1.234", "es", "1234.00"),
        ("12,000.50", "en", "12000.50"),
    ],
)
def test_amounts_as_people_type_them(text: str, locale: str, expected: str) -> None:
    assert str(parse_amount(text, locale)) == expected


def test_dates_follow_the_requested_order() -> None:
    assert parse_date("03/02/2024", day_first=True) == date(2024, 2, 3)
    assert parse_date("03/02/2024", day_first=False) == date(2024, 3, 2)
    assert parse_date("3.2.2024", day_first=True) == date(2024, 2, 3)
    assert parse_date("2024-02-03", day_first=False) == date(2024, 2, 3)
    assert parse_date("2024-02-03 00:00:00", day_first=True) == date(2024, 2, 3)


@pytest.mark.parametrize("text", ["31/02/2024", "29/02/2023", "00/01/2024", "12/13/2024"])
def test_impossible_dates_are_errors_not_rolled_over(text: str) -> None:
    with pytest.raises(FieldError, match="No such date"):
        parse_date(text, day_first=True)


def test_unreadable_dates_are_errors() -> None:
    with pytest.raises(FieldError, match="Not a date"):
        parse_date("yesterday", day_first=True)


def test_day_order_is_detected_from_the_whole_column() -> None:
    assert detect_day_first(["03/02/2024", "13/12/2023"]) is True
    assert detect_day_first(["03/02/2024", "12/31/2023"]) is False
    assert detect_day_first(["03/02/2024", "01/12/2023"]) is None
    assert detect_day_first(["13/01/2024", "01/13/2024"]) is None
    assert detect_day_first(["", "2024-01-31"]) is None


def test_day_order_falls_back_to_the_locale() -> None:
    assert locale_day_first("es") is True
    assert locale_day_first("en") is False
    assert locale_day_first("en_GB") is True


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("España", "ES"),
        ("espana", "ES"),
        ("Spain", "ES"),
        ("es", "ES"),
        ("USA", "US"),
        ("Estados Unidos", "US"),
        ("United Kingdom", "GB"),
        ("Reino Unido", "GB"),
        ("México", "MX"),
        ("Mexico", "MX"),
        ("France", "FR"),
        ("Alemania", "DE"),
        ("", ""),
    ],
)
def test_countries_become_iso_codes(value: str, code: str) -> None:
    assert normalise_country(value) == code


@pytest.mark.parametrize("value", ["Atlantis", "EU", "ZZ"])
def test_unknown_countries_are_refused(value: str) -> None:
    with pytest.raises(FieldError, match="Unknown country"):
        normalise_country(value)


def test_clean_text_is_nfc_and_limited() -> None:
    assert clean_text(" Zoe\u0308 ", 10) == "Zoë"
    with pytest.raises(FieldError, match="at most 3"):
        clean_text("abcd", 3)
