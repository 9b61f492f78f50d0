"""Reading a final answer out of free model text: numbers (GSM8K) and option letters (MMLU).

Models rarely answer in exactly the requested format, so both extractors try several
readings in a fixed order of trust and stop at the first that yields an answer. The
orders are part of the benchmark's definition (a change moves scores), so they are
documented here and pinned by table-driven tests.

Numbers (:func:`find_final_number`), first match wins:

1. the last ``\\boxed{...}`` (or ``\\fbox{...}``) holding a number;
2. the last "answer is N" / "final answer: N" / "answer = N" phrase followed by a number
   on the same line;
3. the last ``#### N`` (GSM8K's own reference format);
4. the last number anywhere in the text.

A number may carry a sign (``-``, ``−``), a currency sign (``$ € £ ¥``) on either side of
the sign, thousands separators (``1,234``), a decimal part (``0.5``, ``.5``), an exponent
(``1e6``) or be a plain fraction (``3/4``); a trailing ``%`` or unit is ignored, so
``25%`` reads as 25 and ``18 eggs`` as 18. Values are exact :class:`~fractions.Fraction`
objects, so ``18.00``, ``18`` and ``$18`` compare equal without float rounding.

Option letters (:func:`extract_choice_letter`), first match wins:

1. the last ``\\boxed{B}``;
2. the last explicit statement: "answer is B", "Answer: **C**", "the correct option is
   (D)", "B is correct", "I choose B", ...;
3. a reply that is only a letter, however decorated: ``B``, ``(B)``, ``B.``, ``**B**``;
4. a reply that starts with a letter and a delimiter: ``B. Paris``, ``(B) Paris``,
   ``**B** because``;
5. the text of exactly one choice (the reply repeats the option without its letter);
6. the last bracketed or bold letter anywhere: ``(C)``, ``[C]``, ``**C**``;
7. a letter that ends the reply: "... so I would say C."

A hedge between two options ("A or B", "(A) or (B)", "A/B") names no answer: rules 6 and 7
return nothing when the letter they find is the second half of one.

Bare capital letters in running text are deliberately *not* read as answers outside
rules 2, 3 and 7: "A" and "I" are English words ("A good question..."), and a letter such
as "C" also appears in "vitamin C". Only letters that name one of the choices count.

Both extractors first drop ``<think>...</think>`` blocks, which some servers leave inline:
the reasoning often tries out several candidate answers before settling.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Literal

__all__ = [
    "LETTERS",
    "NumberMatch",
    "extract_choice_letter",
    "extract_number",
    "find_final_number",
    "format_number",
    "numbers_equal",
    "parse_number",
    "strip_reasoning",
]

LETTERS = "ABCDEFGHIJ"  # up to ten options (MMLU-Pro has ten)

NumberRule = Literal["boxed", "answer", "hashes", "last"]

# --- numbers -----------------------------------------------------------------------------

_NUMBER = re.compile(
    r"""
    (?<![A-Za-z0-9_./])              # not the tail of a word, a number, a version or a date
    (?P<sign1>[-−])?
    (?P<currency>[$€£¥]\s?)?
    (?P<sign2>[-−])?
    (?P<digits>
        \d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?  # 1,234 and 1,234.56 (not the 1,234 of 1,2345)
      | \d+(?:\.\d+)?                       # 1234 and 12.5
      | \.\d+                                # .5
    )
    (?P<exponent>[eE][-+]?\d+)?
    (?:/(?P<denominator>\d+)(?![\d/]))?  # 3/4, but not the 3/15 of a date 3/15/2024
    (?!\d|/\d)                           # nor any part of that date
    """,
    re.VERBOSE,
)

# "answer is", "final answer:", "**Answer:**", "answer would be", "answer = ".
_ANSWER_PHRASE = re.compile(
    r"\banswer\s*(?:\*\*|__)?\s*"
    r"(?:is|was|would\s+be|will\s+be|should\s+be|must\s+be|equals|=|:|：)"
    r"\s*(?:\*\*|__)?\s*:?",
    re.IGNORECASE,
)
_HASHES = re.compile(r"####")
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_THINK_END = re.compile(r"</think>", re.IGNORECASE)

# LaTeX inside \boxed{} that hides a plain number.
_LATEX_TEXT = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(\d+)\s*\}")
_LATEX_FRAC_SHORT = re.compile(r"\\[dt]?frac(\d)(\d)")  # \frac12
_LATEX_SPACES = re.compile(r"\\[,;:! ]|~")


@dataclass(frozen=True, slots=True)
class NumberMatch:
    """A number read out of text, with the rule that found it (for debugging and tests)."""

    value: Fraction
    text: str  # the characters it was read from, e.g. "$1,234.50"
    rule: NumberRule

    @property
    def canonical(self) -> str:
        return format_number(self.value)


def strip_reasoning(text: str) -> str:
    """Drop inline ``<think>`` blocks; keep only what follows an orphan ``</think>``."""
    text = _THINK_BLOCK.sub(" ", text)
    # Some servers strip the opening tag but leave the closing one.
    parts = _THINK_END.split(text)
    return parts[-1]


# Longer is no answer, and "1e999999999" would stall (10**n) or break str() of the result.
_MAX_DIGITS = 1000


def _to_fraction(match: re.Match[str]) -> Fraction | None:
    digits = match.group("digits").replace(",", "")
    exponent = match.group("exponent") or ""
    denominator = match.group("denominator")
    if len(exponent) > 8 or len(digits) > _MAX_DIGITS or len(denominator or "") > _MAX_DIGITS:
        return None
    if len(digits) + abs(int(exponent[1:] or 0)) > _MAX_DIGITS:
        return None
    try:
        value = Fraction(digits + exponent)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    if denominator is not None:
        if int(denominator) == 0:
            return None
        value /= int(denominator)
    if match.group("sign1") or match.group("sign2"):
        value = -value
    return value


def _numbers_in(text: str) -> list[tuple[Fraction, str]]:
    found = []
    for match in _NUMBER.finditer(text):
        value = _to_fraction(match)
        if value is not None:
            found.append((value, match.group(0)))
    return found


def parse_number(text: str) -> Fraction | None:
    """Parse a reference answer such as ``"18"``, ``"1,234"``, ``"-0.5"`` or ``"3/4"``.

    Stricter than extraction: the whole text (bar surrounding spaces, a currency sign and
    a trailing ``%``) must be one number.
    """
    text = text.strip().removesuffix("%").strip()
    match = _NUMBER.fullmatch(text)
    if match is None:
        return None
    return _to_fraction(match)


def format_number(value: Fraction) -> str:
    """Canonical text of a number: ``18``, ``-0.5``, ``1234.25``; ``1/3`` if it does not end."""
    if value.denominator == 1:
        return str(value.numerator)
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    with localcontext() as ctx:
        ctx.prec = 60  # exact for any terminating decimal a model will write
        decimal = Decimal(value.numerator) / Decimal(value.denominator)
    return format(decimal.normalize(), "f")


_REL_TOLERANCE = Fraction(1, 10**9)


def numbers_equal(a: Fraction, b: Fraction) -> bool:
    """Equal as numbers, allowing only representation noise (1e-9 relative).

    ``0.1 + 0.2`` printed as ``0.30000000000000004`` still equals ``0.3``; ``1234567`` does
    not equal ``1234568``.
    """
    if a == b:
        return True
    return abs(a - b) <= _REL_TOLERANCE * max(Fraction(1), abs(a), abs(b))


def _boxed_contents(text: str) -> list[str]:
    """The contents of every ``\\boxed{...}``, with nested braces matched."""
    contents = []
    for match in _BOXED.finditer(text):
        depth = 1
        pos = match.end()
        while pos < len(text) and depth:
            if text[pos] == "{":
                depth += 1
            elif text[pos] == "}":
                depth -= 1
            pos += 1
        if depth == 0:
            contents.append(text[match.end() : pos - 1])
    return contents


def _clean_latex(content: str) -> str:
    content = _LATEX_TEXT.sub(r" \1 ", content)
    content = _LATEX_FRAC.sub(r"\1/\2", content)
    content = _LATEX_FRAC_SHORT.sub(r"\1/\2", content)
    content = content.replace("{,}", ",").replace("\\$", "$").replace("\\%", "%")
    content = _LATEX_SPACES.sub("", content)
    content = content.replace("\\left", "").replace("\\right", "")
    # "x = 18" or "2 \times 9 = 18": the value is what follows the last "=".
    if "=" in content:
        content = content.rsplit("=", 1)[1]
    return content.replace("{", " ").replace("}", " ")


def _first_number(text: str) -> tuple[Fraction, str] | None:
    numbers = _numbers_in(text)
    return numbers[0] if numbers else None


def _after_phrase_on_line(text: str, end: int) -> str:
    rest = text[end:].lstrip()
    return rest.split("\n", 1)[0]


def find_final_number(text: str) -> NumberMatch | None:
    """The final numeric answer in a model's reply, or None (see the module docstring)."""
    if not text or not text.strip():
        return None
    # NFKC turns full-width digits and signs ("１８", "＄") into the ASCII the patterns expect.
    text = unicodedata.normalize("NFKC", strip_reasoning(text))

    for content in reversed(_boxed_contents(text)):
        hit = _first_number(_clean_latex(content))
        if hit:
            return NumberMatch(hit[0], hit[1], "boxed")

    for match in reversed(list(_ANSWER_PHRASE.finditer(text))):
        hit = _first_number(_after_phrase_on_line(text, match.end()))
        if hit:
            return NumberMatch(hit[0], hit[1], "answer")

    for match in reversed(list(_HASHES.finditer(text))):
        hit = _first_number(_after_phrase_on_line(text, match.end()))
        if hit:
            return NumberMatch(hit[0], hit[1], "hashes")

    numbers = _numbers_in(text)
    if numbers:
        value, raw = numbers[-1]
        return NumberMatch(value, raw, "last")
    return None


def extract_number(text: str) -> str | None:
    """The canonical text of the final number in ``text`` (``"1234"``, ``"0.5"``), or None."""
    match = find_final_number(text)
    return match.canonical if match else None


# --- option letters ----------------------------------------------------------------------

_DECOR = r"[\s*_(\[{\"'`]*"  # markdown emphasis, brackets, quotes between phrase and letter
_LETTER_END = r"(?![A-Za-z0-9])"

_STATEMENTS = (
    # "The answer is B", "Answer: **C**", "the correct option is (D)", "best choice: B".
    re.compile(
        r"(?:\banswer|\b(?:correct|right|best|final)\s+(?:option|choice|letter|response))"
        r"\s*(?:\*\*|__)?\s*"
        r"(?:is|was|would\s+be|will\s+be|should\s+be|must\s+be|=|:|：)?"
        r"\s*(?:\*\*|__)?\s*:?\s*(?:option|choice|letter)?" + _DECOR + r"(?P<letter>[A-Za-z])"
        r"(?P<after>[)\]}*_\"'`.,:;!?]|\s|$)",
        re.IGNORECASE,
    ),
    # "(B) is correct", "Option B is the right answer".
    re.compile(
        r"(?:\b(?:option|choice)\s*)?" + _DECOR + r"(?<![A-Za-z])(?P<letter>[A-J])"
        r"[)\]}*_\"'`]*\s+is\s+(?:the\s+)?(?:correct|right|best|true)\b(?P<after>)",
    ),
    # "I choose B", "I'd go with (C)".
    re.compile(
        r"\bI(?:\s+would|'d|\s+will|'ll)?\s+(?:choose|pick|select|go\s+with)\s*"
        r"(?:option|choice)?" + _DECOR + r"(?P<letter>[A-J])" + _LETTER_END + r"(?P<after>)",
        re.IGNORECASE,
    ),
)
_BOXED_LETTER = re.compile(r"\\boxed\s*\{\s*(?:\\text(?:bf)?\s*\{)?\s*\(?(?P<letter>[A-J])\)?\s*\}")
_ONLY_LETTER = re.compile(r"[\W_]*(?P<letter>[A-Ja-j])[\W_]*", re.ASCII)
_LEADING_LETTER = re.compile(
    r"[\s*_#>]*[(\[]?(?P<letter>[A-J])(?:\*\*)?(?:[.):\]]|\*\*|\s+[-–—])(?:\*\*)?(?=\s|$)"
)
_DECORATED_LETTER = re.compile(r"(?:\((?P<a>[A-J])\)|\[(?P<b>[A-J])\]|\*\*(?P<c>[A-J])\*\*)")
_TRAILING_LETTER = re.compile(r"(?<![A-Za-z'’])(?P<letter>[A-J])[\W_]*$")
# "A or (B" just before a letter: the reply hedges between two options.
_HEDGE_BEFORE = re.compile(
    r"(?<![A-Za-z])[(\[]?(?:\*\*)?(?P<other>[A-J])(?:\*\*)?[)\]]?\s*(?:\bor|/)\s*"
    r"[(\[]?(?:\*\*)?$"
)

_PUNCT_EDGES = string.punctuation + "“”‘’ "


def _normalise_choice_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.split()).strip(_PUNCT_EDGES)


def _statement_letter(text: str, valid: str) -> str | None:
    best: tuple[int, str] | None = None
    for pattern in _STATEMENTS:
        for match in pattern.finditer(text):
            letter = match.group("letter")
            if letter.upper() not in valid:
                continue
            if letter.islower():
                # "the answer is a matter of..." is prose; "the answer is (b)." is a letter.
                start, end = match.start("letter"), match.end("letter")
                before = text[start - 1] if start else ""
                after = text[end : end + 1]
                if before != "(" and after not in {")", ".", "]", "*", ":", ""}:
                    continue
            if best is None or match.start("letter") > best[0]:
                best = (match.start("letter"), letter.upper())
    return best[1] if best else None


def _choice_text_letter(text: str, choices: Sequence[str]) -> str | None:
    reply = _normalise_choice_text(text)
    normalised = [_normalise_choice_text(choice) for choice in choices]
    for letter, choice in zip(LETTERS, normalised, strict=False):
        if choice and reply == choice:
            return letter
    found = []
    for index, choice in enumerate(normalised):
        if choice and re.search(rf"(?<!\w){re.escape(choice)}(?!\w)", reply):
            found.append(index)
    # "Paris" inside "Paris, Texas" must not count twice: drop choices contained in another.
    found = [
        i for i in found if not any(j != i and normalised[i] in normalised[j] for j in found)
    ]
    if len(found) == 1:
        return LETTERS[found[0]]
    return None


def _hedged(text: str, start: int, letter: str, valid: str) -> bool:
    """Whether the letter at ``start`` is the second of "A or B" / "(A) or (B)" / "A/B"."""
    before = _HEDGE_BEFORE.search(text[:start])
    return bool(before and before.group("other") in valid and before.group("other") != letter)


def extract_choice_letter(text: str, choices: Sequence[str]) -> str | None:
    """The option letter a reply chooses, among ``len(choices)`` options (see module doc)."""
    if not text or not text.strip() or not 1 <= len(choices) <= len(LETTERS):
        return None
    valid = LETTERS[: len(choices)]
    text = unicodedata.normalize("NFKC", strip_reasoning(text)).strip()
    if not text:
        return None

    boxed = [m.group("letter") for m in _BOXED_LETTER.finditer(text)]
    boxed = [letter for letter in boxed if letter in valid]
    if boxed:
        return boxed[-1]

    letter = _statement_letter(text, valid)
    if letter:
        return letter

    only = _ONLY_LETTER.fullmatch(text)
    if only and only.group("letter").upper() in valid:
        return only.group("letter").upper()

    leading = _LEADING_LETTER.match(text)
    if leading and leading.group("letter") in valid:
        return leading.group("letter")

    letter = _choice_text_letter(text, choices)
    if letter:
        return letter

    decorated = [
        (m.start(), m.group("a") or m.group("b") or m.group("c"))
        for m in _DECORATED_LETTER.finditer(text)
    ]
    decorated = [(start, letter) for start, letter in decorated if letter in valid]
    if decorated:
        start, letter = decorated[-1]
        return None if _hedged(text, start, letter, valid) else letter

    trailing = _TRAILING_LETTER.search(text)
    if trailing and trailing.group("letter") in valid:
        letter = trailing.group("letter")
        return None if _hedged(text, trailing.start(), letter, valid) else letter
    return None
