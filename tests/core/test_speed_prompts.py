"""Synthetic prompts: exact word counts, reproducible, unique per request."""

from __future__ import annotations

import pytest

from openbench_desktop.core.domain import Message, Sample
from openbench_desktop.core.loopback import count_tokens
from openbench_desktop.core.speed.prompts import (
    VOCABULARY,
    PromptSource,
    approx_tokens,
    shorten_for_storage,
    synthetic_prompt,
)


def test_a_prompt_has_exactly_the_asked_number_of_words() -> None:
    for n in (1, 7, 256, 2048):
        text = synthetic_prompt(n, seed=3, index=5)
        assert approx_tokens(text) == n
        # The loopback server's tokenizer counts a word with its leading space as one.
        assert count_tokens(text) == n
        assert set(text.split()) <= set(VOCABULARY)
    with pytest.raises(ValueError):
        synthetic_prompt(0)


def test_prompts_are_reproducible_and_unique_from_the_first_words() -> None:
    assert synthetic_prompt(64, seed=1, index=9) == synthetic_prompt(64, seed=1, index=9)
    heads = {" ".join(synthetic_prompt(64, seed=1, index=i).split()[:4]) for i in range(500)}
    assert len(heads) == 500  # a prefix cache cannot serve one from another
    assert synthetic_prompt(64, seed=2, index=9) != synthetic_prompt(64, seed=1, index=9)
    assert len(VOCABULARY) == len(set(VOCABULARY)) >= 250


def test_prompt_sources() -> None:
    synthetic = PromptSource(input_tokens=12, seed=4)
    [message] = synthetic.messages(3)
    assert message.role == "user" and approx_tokens(message.content) == 12
    assert "synthetic prompts of 12 words" in synthetic.describe()
    samples = tuple(
        Sample(index=i, messages=(Message("user", f"q{i}"),), expected="") for i in range(2)
    )
    cycled = PromptSource(samples=samples)
    assert [cycled.messages(i)[0].content for i in range(4)] == ["q0", "q1", "q0", "q1"]
    assert not cycled.synthetic


def test_long_prompts_are_stored_shortened() -> None:
    text = "word " * 2000
    stored = shorten_for_storage(text, limit=100)
    assert stored.startswith(text[:100]) and "more characters" in stored
    assert shorten_for_storage("short") == "short"
