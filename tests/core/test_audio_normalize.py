"""The text normalizers: each documented step, on hand-written cases."""

from __future__ import annotations

import pytest

from openbench_desktop.core.audio.normalize import (
    NORMALIZERS,
    basic_normalize,
    get_normalizer,
    normalize,
    raw_normalize,
    whisper_normalize,
)
from openbench_desktop.core.errors import ConfigError

JFK = (
    "And so, my fellow Americans: ask not what your country can do for you -- "
    "ask what you can do for your country."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 1, 6: case and punctuation
        (JFK, "and so my fellow americans ask not what your country can do for you "
              "ask what you can do for your country"),
        # 2, 3: bracketed annotations and hesitations
        ("[laughter] Um, I (inaudible) think <noise> so, uh", "i think so"),
        # 4: contractions and titles
        ("I won't; it's Mr. Smith's; they're here; we'd go", "i will not it is mister smith is "
         "they are here we would go"),
        ("Dr. Jones can't", "doctor jones can not"),
        ("we're gonna win", "we are going to win"),
        # 5: digit grouping, periods
        ("1,000,000 people.", "1000000 people"),
        ("pi is 3.14.", "pi is 3.14"),
        # 6: accents and special letters
        ("Café naïve Œuvre straße", "cafe naive oeuvre strasse"),
        # 7: numbers
        ("twenty one", "21"),
        ("one hundred and five", "105"),
        ("two thousand twenty four", "2024"),
        ("nineteen ninety", "1990"),
        ("one oh one", "101"),
        ("three point one four", "3.14"),
        ("the twenty first century", "the 21st century"),
        ("the nineteen sixties", "the 1960s"),
        ("ten percent", "10%"),
        ("fifty per cent", "50%"),
        ("five dollars", "$5"),
        ("five hundred thousand", "500000"),
        ("one million two hundred thousand and three", "1200003"),
        ("one of them", "one of them"),
        ("the red ones", "the red ones"),
        ("oh my", "oh my"),
        ("seven thirty", "730"),
        # 8: spelling
        ("the colour of the centre", "the color of the center"),
        ("we organised it", "we organized it"),
        # 9: whitespace
        ("  lots   of\tspace \n", "lots of space"),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_whisper_normalizer(text: str, expected: str) -> None:
    assert whisper_normalize(text) == expected


def test_both_spellings_of_a_number_agree() -> None:
    assert whisper_normalize("It costs $21.") == whisper_normalize("it costs twenty one dollars")
    assert whisper_normalize("In 1990") == whisper_normalize("in nineteen ninety")


def test_basic_and_raw() -> None:
    assert basic_normalize("Hello, World! [x] Café") == "hello world cafe"
    assert basic_normalize("won't") == "won t"  # no English rules
    assert raw_normalize("  Hello,   World!  ") == "Hello, World!"


def test_selection_by_name() -> None:
    assert set(NORMALIZERS) == {"whisper", "basic", "raw"}
    assert get_normalizer(None) is whisper_normalize
    assert normalize("Twenty One", "WHISPER") == "21"
    with pytest.raises(ConfigError, match="whisper, basic, raw"):
        get_normalizer("fancy")


def test_output_is_single_spaced_words() -> None:
    for fn in NORMALIZERS.values():
        out = fn("  A  b,\n c  ")
        assert out == out.strip() and "  " not in out
