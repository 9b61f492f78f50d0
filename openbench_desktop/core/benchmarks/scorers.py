"""Scorers for custom datasets, by name: ``exact``, ``includes``, ``regex``, ``numeric``.

Every scorer first drops inline ``<think>...</think>`` reasoning (see
:func:`~openbench_desktop.core.benchmarks.extract.strip_reasoning`) and scores an empty
reply 0 with nothing extracted.

Text is compared after :func:`normalize_text`: Unicode NFKC, case-folded, runs of
whitespace collapsed to one space, and surrounding quotes, markdown emphasis and final
sentence punctuation removed, so ``"**Paris.**"`` equals ``paris``. Punctuation inside
the text still counts: ``"St. Louis"`` is not ``"St Louis"``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from openbench_desktop.core.benchmarks.base import Score
from openbench_desktop.core.benchmarks.extract import (
    find_final_number,
    numbers_equal,
    parse_number,
    strip_reasoning,
)
from openbench_desktop.core.errors import ConfigError

__all__ = [
    "SCORERS",
    "ExactScorer",
    "IncludesScorer",
    "NumericScorer",
    "RegexScorer",
    "Scorer",
    "ScorerInfo",
    "get_scorer",
    "normalize_text",
]

_EDGE_CHARS = " \t\n\"'`*_“”‘’«»"
_TRAILING_PUNCT = ".!?。"


def normalize_text(text: str) -> str:
    """Text as compared by ``exact``, ``includes`` and ``regex`` (see the module doc)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = " ".join(text.split())
    previous = None
    while previous != text:  # "**Paris.**" needs both strips, in either order
        previous = text
        text = text.strip(_EDGE_CHARS).rstrip(_TRAILING_PUNCT)
    return text


class Scorer(Protocol):
    name: str

    def check_expected(self, expected: str) -> str | None:
        """Why ``expected`` cannot be scored (checked at load time), or None if it can."""
        ...

    def score(self, output: str, expected: str) -> Score: ...


@dataclass(frozen=True, slots=True)
class ScorerInfo:
    name: str
    title: str
    description: str
    needs_arg: bool = False


SCORERS: Mapping[str, ScorerInfo] = MappingProxyType(
    {
        "exact": ScorerInfo(
            "exact",
            "Exact match",
            "The whole reply equals the expected answer, ignoring case, extra whitespace, "
            "surrounding quotes/markdown and a final period.",
        ),
        "includes": ScorerInfo(
            "includes",
            "Includes",
            "The expected answer appears somewhere in the reply (same normalisation).",
        ),
        "regex": ScorerInfo(
            "regex",
            "Regular expression",
            "A pattern extracts the answer from the reply (its last match; the group named "
            "'answer', else group 1, else the whole match), compared like Exact.",
            needs_arg=True,
        ),
        "numeric": ScorerInfo(
            "numeric",
            "Numeric",
            "The reply's final number (as for GSM8K) equals the expected number.",
        ),
    }
)


def _reply(output: str) -> str:
    return strip_reasoning(output or "").strip()


class ExactScorer:
    name = "exact"

    def check_expected(self, expected: str) -> str | None:
        return None if normalize_text(expected) else "the expected answer is empty"

    def score(self, output: str, expected: str) -> Score:
        reply = normalize_text(_reply(output))
        if not reply:
            return Score(None, 0.0)
        return Score(reply, 1.0 if reply == normalize_text(expected) else 0.0)


class IncludesScorer:
    name = "includes"

    def check_expected(self, expected: str) -> str | None:
        return None if normalize_text(expected) else "the expected answer is empty"

    def score(self, output: str, expected: str) -> Score:
        reply = normalize_text(_reply(output))
        wanted = normalize_text(expected)
        if reply and wanted and wanted in reply:
            return Score(wanted, 1.0)
        return Score(None, 0.0)


class RegexScorer:
    name = "regex"

    def __init__(self, pattern: str | None) -> None:
        if not pattern:
            raise ConfigError("the regex scorer needs a pattern (the scorer argument)")
        try:
            self.pattern = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"invalid regular expression {pattern!r}: {exc}") from None

    def check_expected(self, expected: str) -> str | None:
        return None if normalize_text(expected) else "the expected answer is empty"

    def _extract(self, reply: str) -> str | None:
        matches = list(self.pattern.finditer(reply))
        if not matches:
            return None
        last = matches[-1]  # models state their final answer last
        if "answer" in self.pattern.groupindex:
            return last.group("answer")
        if self.pattern.groups:
            return last.group(1)
        return last.group(0)

    def score(self, output: str, expected: str) -> Score:
        reply = _reply(output)
        if not reply:
            return Score(None, 0.0)
        extracted = self._extract(reply)
        if extracted is None:  # also an optional group that did not take part
            return Score(None, 0.0)
        same = normalize_text(extracted) == normalize_text(expected)
        return Score(extracted, 1.0 if same else 0.0)


class NumericScorer:
    name = "numeric"

    def check_expected(self, expected: str) -> str | None:
        if parse_number(expected) is None:
            return f"the numeric scorer needs a number, found {expected!r}"
        return None

    def score(self, output: str, expected: str) -> Score:
        found = find_final_number(_reply(output))
        if found is None:
            return Score(None, 0.0)
        wanted = parse_number(expected)
        correct = wanted is not None and numbers_equal(found.value, wanted)
        return Score(found.canonical, 1.0 if correct else 0.0)


def get_scorer(name: str, arg: str | None = None) -> Scorer:
    """The scorer called ``name``; ``arg`` is the regex scorer's pattern."""
    key = name.strip().lower()
    if key == "exact":
        return ExactScorer()
    if key == "includes":
        return IncludesScorer()
    if key == "regex":
        return RegexScorer(arg)
    if key == "numeric":
        return NumericScorer()
    raise ConfigError(f"unknown scorer '{name}': choose one of {', '.join(SCORERS)}")
