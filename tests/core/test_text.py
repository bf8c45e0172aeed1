"""Text is stored NFC, searched without case or accents, sorted the Spanish way."""

from __future__ import annotations

import unicodedata

from portal.text import clean, fold, is_digits, one_line, sort_key


def test_clean_stores_nfc_and_drops_control_characters() -> None:
    decomposed = unicodedata.normalize("NFD", "  Peña\x00 ")
    assert clean(decomposed) == "Peña"
    assert unicodedata.is_normalized("NFC", clean(decomposed))
    assert clean("línea 1\nlínea 2") == "línea 1\nlínea 2"


def test_fold_ignores_case_and_accents() -> None:
    assert fold("MUÑOZ Ibáñez") == fold("munoz ibanez")
    assert fold("Zoë") == "zoe"


def test_spanish_order_puts_enye_between_n_and_o() -> None:
    names = ["Oliva", "Ñandú", "Nadal", "Nuñez", "Nuno", "Álvarez", "Zapata", "alba"]
    ordered = sorted(names, key=sort_key)
    assert ordered == ["alba", "Álvarez", "Nadal", "Nuno", "Nuñez", "Ñandú", "Oliva", "Zapata"]


def test_sort_keys_use_letters_only() -> None:
    # Collations such as en_US ignore punctuation, so the key must not rely on it.
    assert sort_key("Ñandú").isalpha()


def test_one_line_folds_line_breaks_and_tabs_into_single_spaces() -> None:
    assert one_line("  Eve\r\nBcc: x\t\tend \n") == "Eve Bcc: x end"
    decomposed = unicodedata.normalize("NFD", "Peña\u2028Ruiz")
    assert one_line(decomposed) == "Peña Ruiz"
    assert unicodedata.is_normalized("NFC", one_line(decomposed))


def test_is_digits_takes_ascii_digits_only() -> None:
    assert is_digits("0123456789")
    # Superscripts, circled and Arabic-Indic digits pass str.isdigit; int() refuses the first two.
    for text in ("", "²", "①", "٣", "1²", " 1", "-1", "1.0"):
        assert not is_digits(text), text
