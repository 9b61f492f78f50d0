"""Prompts for speed runs: synthetic ones of a chosen length, or a dataset's own.

Without a tokenizer (none is downloaded) a synthetic prompt of ``n`` tokens is ``n`` words
drawn from :data:`VOCABULARY`, joined by single spaces. Every word there is a short, very
common lower-case English word; such a word preceded by a space is a single token in the
BPE vocabularies of the common model families (OpenAI's cl100k/o200k, Llama 3, Qwen 2,
Mistral/Llama 2 SentencePiece), so ``n`` words are close to ``n`` prompt tokens. Two
differences remain, and both are visible in the results rather than hidden:

* the server wraps the prompt in its chat template (typically 5-20 more tokens), and
* a tokenizer may merge or split an occasional pair differently.

The prompt tokens the *server* reports are stored with every request, and a speed run's
summary gives their mean, so the real input length is always known. The built-in loopback
server counts one token per word, so there the count is exact (a test checks it).

Prompts are unique per request (a seeded random word sequence from the first word on), so
a server's prefix cache cannot serve one request from another's prompt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from openbench_desktop.core.domain import Message, Sample

#: Words that are one token each (with their leading space) in common LLM vocabularies.
_WORDS = """
    the of and to in is that for it was on are as with his they at be this have from
    or one had by but not what all were we when your can said there use an each which she
    do how their if will up other about out many then them these so some her would make
    like him into time has look two more write go see number no way could people my than
    first water been call who its now find long down day did get come made may part over
    new sound take only little work know place year live me back give most very after
    thing our just name good man think say great where help through much before line
    right too mean old any same tell boy follow came want show also around form three
    small set put end does another well large must big even such because turn here why
    ask went men read need land different home us move try kind hand picture again change
    off play spell air away animal house point page letter mother answer found study still
    learn should world high every near add food between own below country plant last
    school father keep tree never start city earth eye light thought head under story saw
    left few while along might close something seem next hard open example begin life
    always those both paper together got group often run important until children side
    feet car mile night walk white sea began grow took river four carry state once book
    hear stop without second later miss idea enough eat face watch far real almost let
    above girl sometimes mountain cut young talk soon list song being leave family
"""
VOCABULARY: tuple[str, ...] = tuple(_WORDS.split())

# No instruction ("continue this text …") is appended: a synthetic prompt is only its
# words, so its length is what was asked for. The output length is requested with
# ``max_tokens`` (and ``ignore_eos`` where the server supports it) instead.


@dataclass(frozen=True, slots=True)
class PromptSource:
    """Where a speed run's prompts come from: synthetic words, or dataset samples."""

    input_tokens: int = 256
    seed: int = 0
    samples: tuple[Sample, ...] = ()  # non-empty: use these prompts, cycling in order

    @property
    def synthetic(self) -> bool:
        return not self.samples

    def describe(self) -> str:
        if self.samples:
            return f"{len(self.samples)} dataset prompt(s), cycled in order"
        return f"synthetic prompts of {self.input_tokens} words (~tokens), seed {self.seed}"

    def messages(self, index: int) -> tuple[Message, ...]:
        """The messages of request ``index`` (deterministic for a given source)."""
        if self.samples:
            return self.samples[index % len(self.samples)].messages
        return (Message("user", synthetic_prompt(self.input_tokens, seed=self.seed, index=index)),)


def synthetic_prompt(n_tokens: int, *, seed: int = 0, index: int = 0) -> str:
    """``n_tokens`` words from :data:`VOCABULARY`: the same (seed, index) gives the same text."""
    if n_tokens < 1:
        raise ValueError(f"a prompt needs at least one token, not {n_tokens}")
    # One generator per request, seeded from (seed, index): request 1000 does not depend
    # on having generated requests 0-999 first.
    rng = random.Random(seed * 1_000_003 + index)
    return " ".join(rng.choices(VOCABULARY, k=n_tokens))


def approx_tokens(text: str) -> int:
    """The word count of ``text``: the approximation synthetic prompts are built on."""
    return len(text.split())


def shorten_for_storage(text: str, limit: int = 4000) -> str:
    """Long prompts are stored shortened: they are reproducible from the seed."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"

