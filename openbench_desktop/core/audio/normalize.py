"""Text normalizers applied to reference and hypothesis before WER/CER.

Three are offered, selected by name (``RunSpec.options["normalizer"]``, CLI ``--normalizer``):

``whisper`` (default)
    An English normalizer in the style of the one Whisper and the Open ASR Leaderboard use,
    written for this project. In order:

    1. lower-case;
    2. drop text in ``[...]``, ``<...>`` and ``(...)`` (non-speech tags, annotations);
    3. drop the hesitations ``hmm mm mhm mmm uh um``;
    4. expand contractions and abbreviated titles (``won't`` → ``will not``,
       ``n't`` → ``not``, ``'re`` → ``are``, ``'s`` → ``is``, ``'ll`` → ``will``,
       ``'ve`` → ``have``, ``'m`` → ``am``, ``'d`` → ``would``; ``mr`` → ``mister``,
       ``dr`` → ``doctor``, ``st`` → ``saint`` …; ``gonna`` → ``going to`` …);
    5. drop thousands separators (``1,000`` → ``1000``) and periods not followed by a digit;
    6. strip accents (NFKD) and replace every other punctuation mark or symbol with a space,
       keeping ``. % $ £ € ¢`` for step 7;
    7. spelled-out numbers become digits: ``twenty one`` → ``21``, ``one hundred and five``
       → ``105``, ``two thousand twenty four`` → ``2024``; number words that cannot
       continue one number are written one after the other, so ``nineteen ninety`` →
       ``1990`` and ``one oh one`` → ``101``; ``three point one four`` → ``3.14``;
       ordinals and plurals keep their suffix (``twenty first`` → ``21st``, ``sixties`` →
       ``60s``); ``ten percent`` → ``10%``; ``five dollars`` → ``$5`` (also pounds, euros,
       cents); a lone ``1`` is written ``one`` (as Whisper does);
    8. British spellings in a small built-in list become American (``colour`` → ``color``);
    9. currency and ``%`` signs not next to a digit are dropped; whitespace is collapsed.

    Differences from Whisper's own: no 1,700-word spelling table (step 8 has ~40 stems),
    and no special cases for ``and a half``, ``double``/``triple``, ``minus``/``plus``,
    or ``one dollar and five cents``. Both sides of a comparison go through the same
    function, so these only matter when a model and its reference write such phrases
    differently.

``basic``
    Lower-case, drop bracketed text, strip accents, replace punctuation and symbols with
    spaces, collapse whitespace. Language-neutral.

``raw``
    Only collapses whitespace: WER on the texts as written (case and punctuation count).

Every normalizer returns words separated by single spaces with no leading or trailing
space, so ``text.split(" ")`` is the word sequence jiwer scores.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator

from openbench_desktop.core.errors import ConfigError

__all__ = [
    "DEFAULT_NORMALIZER",
    "NORMALIZERS",
    "basic_normalize",
    "get_normalizer",
    "normalize",
    "normalize_numbers",
    "raw_normalize",
    "whisper_normalize",
]

DEFAULT_NORMALIZER = "whisper"

Normalizer = Callable[[str], str]

_SPACES = re.compile(r"\s+")
_BRACKETED = re.compile(r"\[[^\]]*\]|<[^>]*>|\([^)]*\)")
_HESITATIONS = re.compile(r"\b(?:hmm|mm|mhm|mmm|uh|um)\b")

# Letters that NFKD does not split into a base letter and a combining mark.
_LETTER_MAP = {
    "œ": "oe", "æ": "ae", "ø": "o", "ß": "ss", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
    "ı": "i", "ŀ": "l",
}

# Step 4. Order matters: whole words first, then the general endings.
_CONTRACTIONS: tuple[tuple[str, str], ...] = (
    (r"\bwon't\b", "will not"),
    (r"\bcan't\b", "can not"),
    (r"\bshan't\b", "shall not"),
    (r"\blet's\b", "let us"),
    (r"\bain't\b", "aint"),
    (r"\by'all\b", "you all"),
    (r"\bma'am\b", "madam"),
    (r"\bwanna\b", "want to"),
    (r"\bgonna\b", "going to"),
    (r"\bgotta\b", "got to"),
    (r"\bi'ma\b", "i am going to"),
    (r"\bimma\b", "i am going to"),
    (r"\bwoulda\b", "would have"),
    (r"\bcoulda\b", "could have"),
    (r"\bshoulda\b", "should have"),
    (r"'s been\b", " has been"),
    (r"'d been\b", " had been"),
    (r"'s gone\b", " has gone"),
    (r"'d gone\b", " had gone"),
    (r"'d done\b", " had done"),
    (r"'s got\b", " has got"),
    (r"n't\b", " not"),
    (r"'re\b", " are"),
    (r"'s\b", " is"),
    (r"'d\b", " would"),
    (r"'ll\b", " will"),
    (r"'t\b", " not"),
    (r"'ve\b", " have"),
    (r"'m\b", " am"),
)
_TITLES = {
    "mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint",
    "prof": "professor", "capt": "captain", "gov": "governor", "gen": "general",
    "sen": "senator", "rep": "representative", "pres": "president", "rev": "reverend",
    "hon": "honorable", "lt": "lieutenant", "col": "colonel", "sgt": "sergeant",
    "jr": "junior", "sr": "senior", "esq": "esquire", "asst": "assistant",
}
_CONTRACTION_RES = tuple((re.compile(p), r) for p, r in _CONTRACTIONS)
_TITLE_RE = re.compile(r"\b(" + "|".join(_TITLES) + r")\b")

# Step 8: stems whose British and American forms differ; inflections are derived below.
_SPELLING_STEMS = {
    "colour": "color", "flavour": "flavor", "favour": "favor", "honour": "honor",
    "humour": "humor", "labour": "labor", "neighbour": "neighbor", "rumour": "rumor",
    "harbour": "harbor", "behaviour": "behavior", "endeavour": "endeavor",
    "vapour": "vapor", "savour": "savor", "armour": "armor", "odour": "odor",
    "organis": "organiz", "realis": "realiz", "recognis": "recogniz", "apologis": "apologiz",
    "emphasis": "emphasiz", "summaris": "summariz", "minimis": "minimiz",
    "maximis": "maximiz", "prioritis": "prioritiz", "criticis": "criticiz",
    "analys": "analyz", "paralys": "paralyz",
}
_SPELLING_WORDS = {
    "centre": "center", "centres": "centers", "theatre": "theater", "theatres": "theaters",
    "metre": "meter", "metres": "meters", "litre": "liter", "litres": "liters",
    "fibre": "fiber", "grey": "gray", "greys": "grays", "programme": "program",
    "programmes": "programs", "defence": "defense", "offence": "offense",
    "licence": "license", "cheque": "check", "cheques": "checks", "tyre": "tire",
    "tyres": "tires", "aluminium": "aluminum", "jewellery": "jewelry",
    "catalogue": "catalog", "dialogue": "dialog", "travelled": "traveled",
    "travelling": "traveling", "traveller": "traveler", "travellers": "travelers",
    "cancelled": "canceled", "cancelling": "canceling", "modelling": "modeling",
    "labelled": "labeled", "labelling": "labeling", "fulfil": "fulfill",
    "enrol": "enroll", "skilful": "skillful", "plough": "plow", "mould": "mold",
    "moustache": "mustache", "pyjamas": "pajamas", "sceptical": "skeptical",
    "practise": "practice", "practised": "practiced", "ageing": "aging",
}


def _spelling_table() -> dict[str, str]:
    table = dict(_SPELLING_WORDS)
    for british, american in _SPELLING_STEMS.items():
        if british.endswith("our"):
            endings = ("", "s", "ed", "ing", "ite", "ites", "able", "ful")
        else:  # -is-/-ys- verbs
            endings = ("e", "es", "ed", "ing", "ation", "ations", "er", "ers")
        for ending in endings:
            table[british + ending] = american + ending
    return table


_SPELLINGS = _spelling_table()


# --- numbers --------------------------------------------------------------------------------

_ONES_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS_WORDS = (
    "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen",
)
_TENS_WORDS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ONES = {w: i for i, w in enumerate(_ONES_WORDS, start=1)}
_TEENS = {w: i for i, w in enumerate(_TEENS_WORDS, start=10)}
_TENS = {w: 10 * i for i, w in enumerate(_TENS_WORDS, start=2)}
_MULTIPLIERS = {
    "thousand": 10**3,
    "million": 10**6,
    "billion": 10**9,
    "trillion": 10**12,
}
_ZEROS = {"zero", "oh", "o"}
_CURRENCY = {
    "dollar": "$", "dollars": "$", "pound": "£", "pounds": "£",
    "euro": "€", "euros": "€", "cent": "¢", "cents": "¢",
}


def _suffixed_words() -> dict[str, tuple[str, str]]:
    """``first`` → (``one``, ``st``), ``sixties`` → (``sixty``, ``s``), ``hundredth`` …"""
    irregular = {
        "first": ("one", "st"), "second": ("two", "nd"), "third": ("three", "rd"),
        "fifth": ("five", "th"), "eighth": ("eight", "th"), "ninth": ("nine", "th"),
        "twelfth": ("twelve", "th"),
    }
    table: dict[str, tuple[str, str]] = dict(irregular)
    for word in [*_ONES, *_TEENS, "hundred", *_MULTIPLIERS]:
        if word not in ("one", "two", "three", "five", "eight", "nine", "twelve"):
            table[word + "th"] = (word, "th")
        if word != "one":  # "ones" stays a word ("the red ones")
            table[word + ("es" if word == "six" else "s")] = (word, "s")
    for word in _TENS:
        table[word[:-1] + "ieth"] = (word, "th")
        table[word[:-1] + "ies"] = (word, "s")
    return table


_SUFFIXED = _suffixed_words()
_NUMBER_WORDS = {*_ONES, *_TEENS, *_TENS, "hundred", *_MULTIPLIERS, "zero"}
_DIGITS = re.compile(r"^\d+(?:\.\d+)?$")


class _Number:
    """Builds one spelled-out number; pieces that cannot combine are written side by side."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.total = 0  # completed thousands groups of the current piece
        self.group = 0  # the value below 1000 being built
        self.last: str | None = None  # kind of the previous word in the current piece
        self.top_multiplier = 0  # the largest multiplier used in the current piece
        self.fraction: str | None = None  # digits after "point"

    @property
    def empty(self) -> bool:
        return not self.pieces and self.last is None and self.fraction is None

    def _close_piece(self) -> None:
        if self.last is not None:
            self.pieces.append(str(self.total + self.group))
        self.total = self.group = 0
        self.last = None
        self.top_multiplier = 0

    def can_take(self, word: str) -> bool:
        if self.fraction is not None:  # after "point" only digits continue the number
            return word in _ONES or word in _ZEROS
        return word in _NUMBER_WORDS or word in _ZEROS

    def add(self, word: str) -> None:
        if self.fraction is not None:  # after "point": one digit per word
            self.fraction += "0" if word in _ZEROS else str(_ONES[word])
            return
        if word in _ZEROS:
            self._close_piece()
            self.pieces.append("0")
            return
        if word in _ONES:
            if self.last not in (None, "tens", "hundred", "multiplier"):
                self._close_piece()
            self.group += _ONES[word]
            self.last = "ones"
        elif word in _TEENS:
            if self.last not in (None, "hundred", "multiplier"):
                self._close_piece()
            self.group += _TEENS[word]
            self.last = "teens"
        elif word in _TENS:
            if self.last not in (None, "hundred", "multiplier"):
                self._close_piece()
            self.group += _TENS[word]
            self.last = "tens"
        elif word == "hundred":
            if self.last in ("hundred", "multiplier") or self.group >= 100:
                self._close_piece()
            self.group = (self.group or 1) * 100
            self.last = "hundred"
        else:
            multiplier = _MULTIPLIERS[word]
            if self.top_multiplier and multiplier >= self.top_multiplier:
                self._close_piece()
            self.total += (self.group or 1) * multiplier
            self.group = 0
            self.top_multiplier = multiplier
            self.last = "multiplier"

    def start_fraction(self) -> None:
        self.fraction = ""

    def text(self) -> str:
        self._close_piece()
        digits = "".join(self.pieces)
        if self.fraction:
            digits = (digits or "0") + "." + self.fraction
        return digits


def _is_digit_word(word: str | None) -> bool:
    return word in _ONES or word in _ZEROS


def _number_words(words: list[str]) -> Iterator[str]:
    """Rewrite runs of spelled-out numbers in ``words`` as digits (step 7)."""
    number = _Number()
    i = 0
    n = len(words)

    def is_numeric(word: str | None) -> bool:
        return word is not None and (
            word in _NUMBER_WORDS or word in _SUFFIXED or bool(_DIGITS.match(word))
        )

    while i < n:
        word = words[i]
        nxt = words[i + 1] if i + 1 < n else None
        if word in _ZEROS and word != "zero" and number.empty and not is_numeric(nxt):
            yield word  # "oh" / "o" only count as zero next to other number words
            i += 1
            continue
        if number.can_take(word):
            number.add(word)
            i += 1
            continue
        if word in _SUFFIXED and number.fraction is None:
            base, suffix = _SUFFIXED[word]
            number.add(base)
            yield number.text() + suffix
            number = _Number()
            i += 1
            continue
        if not number.empty:
            if word == "and" and number.last in ("hundred", "multiplier") and (
                nxt in _ONES or nxt in _TEENS or nxt in _TENS
            ):
                i += 1  # "one hundred and five"
                continue
            if word == "point" and number.fraction is None and _is_digit_word(nxt):
                number.start_fraction()
                i += 1
                continue
            digits = number.text()
            number = _Number()
            if word in ("percent",):
                yield digits + "%"
                i += 1
                continue
            if word == "per" and nxt == "cent":
                yield digits + "%"
                i += 2
                continue
            if word in _CURRENCY:
                yield _CURRENCY[word] + digits
                i += 1
                continue
            yield digits
            continue  # look at ``word`` again with an empty number
        if word == "point" and _is_digit_word(nxt):
            number.start_fraction()  # "point five" → ".5" → "0.5"
            i += 1
            continue
        yield word
        i += 1
    if not number.empty:
        yield number.text()


def normalize_numbers(text: str) -> str:
    """Step 7 on its own (expects lower-case words separated by spaces)."""
    out = " ".join(w for w in _number_words(text.split()) if w)
    # Whisper writes a lone 1 as a word ("one of them", "the 1s" → "ones").
    return re.sub(r"\b1(s?)\b", r"one\1", out)


# --- the normalizers ------------------------------------------------------------------------


def _strip_symbols(text: str, keep: str = "") -> str:
    """NFKD, drop combining marks, map special letters, replace punctuation/symbols by spaces."""
    out = []
    for char in unicodedata.normalize("NFKD", text):
        if char in keep:
            out.append(char)
            continue
        if char in _LETTER_MAP:
            out.append(_LETTER_MAP[char])
            continue
        category = unicodedata.category(char)
        if category == "Mn":
            continue
        out.append(" " if category[0] in "MSP" else char)
    return "".join(out)


def raw_normalize(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def basic_normalize(text: str) -> str:
    text = _BRACKETED.sub(" ", text.lower())
    return raw_normalize(_strip_symbols(text))


def whisper_normalize(text: str) -> str:
    s = text.lower()
    s = _BRACKETED.sub(" ", s)
    s = _HESITATIONS.sub(" ", s)
    s = s.replace("’", "'").replace("‘", "'")  # typographic apostrophes
    s = re.sub(r"\s+'", "'", s)
    for pattern, replacement in _CONTRACTION_RES:
        s = pattern.sub(replacement, s)
    s = _TITLE_RE.sub(lambda m: _TITLES[m.group(1)] + " ", s)
    s = re.sub(r"(\d),(\d)", r"\1\2", s)
    s = re.sub(r"\.(\D|$)", r" \1", s)
    s = _strip_symbols(s, keep=".%$£€¢")
    s = normalize_numbers(s)
    s = " ".join(_SPELLINGS.get(w, w) for w in s.split())
    s = re.sub(r"[.$£€¢](\D|$)", r" \1", s)
    s = re.sub(r"(\D|^)%", r"\1 ", s)
    return raw_normalize(s)


NORMALIZERS: dict[str, Normalizer] = {
    "whisper": whisper_normalize,
    "basic": basic_normalize,
    "raw": raw_normalize,
}


def get_normalizer(name: str | None) -> Normalizer:
    key = (name or DEFAULT_NORMALIZER).strip().lower()
    try:
        return NORMALIZERS[key]
    except KeyError:
        raise ConfigError(
            f"Unknown normalizer {name!r}; choose one of: {', '.join(NORMALIZERS)}."
        ) from None


def normalize(text: str, name: str | None = DEFAULT_NORMALIZER) -> str:
    return get_normalizer(name)(text)
