"""Speech metrics against values computed by hand, and against jiwer on the same strings."""

from __future__ import annotations

import json

import jiwer
import numpy as np
import pytest

from openbench_desktop.core.audio.metrics import (
    EditCounts,
    bootstrap_ci,
    char_counts,
    corpus_rate,
    rtfx,
    word_counts,
)
from openbench_desktop.core.audio.normalize import whisper_normalize
from openbench_desktop.core.audio.runner import DETAILS_KEY, _score, audio_summary
from openbench_desktop.core.domain import SampleResult, SampleStatus


def test_word_counts_by_hand() -> None:
    # the cat SAT on THE mat / the cat SIT on mat: one substitution, one deletion.
    c = word_counts("the cat sat on the mat", "the cat sit on mat")
    assert (c.hits, c.substitutions, c.deletions, c.insertions) == (4, 1, 1, 0)
    assert c.ref_len == 6 and c.errors == 2
    assert c.rate == pytest.approx(2 / 6)


def test_insertions_can_push_wer_above_one() -> None:
    c = word_counts("yes", "oh yes indeed")
    assert (c.hits, c.substitutions, c.deletions, c.insertions) == (1, 0, 0, 2)
    assert c.rate == pytest.approx(2.0)


def test_empty_hypothesis_is_all_deletions() -> None:
    c = word_counts("ask not what", "")
    assert (c.hits, c.substitutions, c.deletions, c.insertions) == (0, 0, 3, 0)
    assert c.rate == 1.0


def test_empty_reference_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        word_counts("  ", "something")


def test_char_counts_count_spaces() -> None:
    # "ab cd" → "ab d": delete "c" (5 reference characters, space included).
    c = char_counts("ab cd", "ab d")
    assert (c.substitutions, c.deletions, c.insertions) == (0, 1, 0)
    assert c.ref_len == 5 and c.rate == pytest.approx(1 / 5)
    assert c.rate == pytest.approx(jiwer.cer("ab cd", "ab d"))


def test_corpus_wer_weighs_by_length_not_mean_of_utterances() -> None:
    refs = ["a b c d e f g h i j", "k"]
    hyps = ["a b c d e f g h i j", "x"]
    counts = [word_counts(r, h) for r, h in zip(refs, hyps, strict=True)]
    # 1 error over 11 words, while the mean of the utterance WERs is (0 + 1) / 2.
    assert corpus_rate(counts) == pytest.approx(1 / 11)
    assert corpus_rate(counts) == pytest.approx(jiwer.wer(refs, hyps))
    assert corpus_rate([]) is None


def test_bootstrap_is_deterministic_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(42)
    lengths = rng.integers(3, 30, size=50).tolist()
    errors = [int(rng.integers(0, n)) for n in lengths]
    point = sum(errors) / sum(lengths)
    ci = bootstrap_ci(errors, lengths)
    assert ci == bootstrap_ci(errors, lengths)  # fixed seed
    assert ci is not None
    lo, hi = ci
    assert lo < point < hi
    assert hi - lo < 0.3


def test_bootstrap_matches_a_plain_loop_with_the_same_generator() -> None:
    errors, lengths = [0, 3, 1, 5, 2, 0, 4], [5, 6, 4, 9, 7, 3, 8]
    rng = np.random.default_rng(0)
    rates = []
    for _ in range(1000):
        idx = rng.integers(0, 7, size=7)
        rates.append(sum(errors[i] for i in idx) / sum(lengths[i] for i in idx))
    expected = tuple(float(x) for x in np.percentile(rates, [2.5, 97.5]))
    assert bootstrap_ci(errors, lengths) == pytest.approx(expected, abs=1e-12)


def test_bootstrap_edge_cases() -> None:
    assert bootstrap_ci([1], [4]) is None  # one utterance: no interval
    assert bootstrap_ci([1, 1, 1], [4, 4, 4]) == pytest.approx((0.25, 0.25))
    with pytest.raises(ValueError):
        bootstrap_ci([1, 2], [3])


def test_rtfx() -> None:
    assert rtfx(10.0, 2.0) == 5.0
    assert rtfx(10.0, 0.0) is None


def test_edit_counts_rate_of_empty() -> None:
    assert EditCounts(0, 0, 0, 0).rate is None


def _sample(index: int, ref: str, hyp: str, audio_s: float, proc_s: float) -> SampleResult:
    details = {**_score(ref, hyp, "whisper"), "audio_s": audio_s, "processing_s": proc_s}
    return SampleResult(
        index=index,
        status=SampleStatus.OK,
        expected=ref,
        output=hyp,
        extracted=details["hypothesis_normalized"],
        reasoning=json.dumps({DETAILS_KEY: details}),
    )


def test_run_summary_wer_cer_equal_jiwer_on_the_normalized_strings() -> None:
    pairs = [
        ("And so, my fellow Americans: ask not!", "and so my fellow america ask not"),
        ("It's twenty-one degrees.", "its 21 degrees"),
        ("The colour of the sky", "the color of a sky today"),
        ("Dr. Smith won't come", "doctor smith will not come"),
    ]
    results = [_sample(i, r, h, 2.0 + i, 0.5) for i, (r, h) in enumerate(pairs)]
    failed = SampleResult(
        index=9,
        status=SampleStatus.FAILED,
        reasoning=json.dumps({DETAILS_KEY: {"failure": "audio"}}),
    )
    summary = audio_summary("asr", [*results, failed], normalizer="whisper")
    refs = [whisper_normalize(r) for r, _ in pairs]
    hyps = [whisper_normalize(h) for _, h in pairs]
    assert summary["wer"] == pytest.approx(jiwer.wer(refs, hyps), abs=1e-12)
    assert summary["cer"] == pytest.approx(jiwer.cer(refs, hyps), abs=1e-12)
    raw_refs = [" ".join(r.split()) for r, _ in pairs]
    raw_hyps = [" ".join(h.split()) for _, h in pairs]
    assert summary["wer_raw"] == pytest.approx(jiwer.wer(raw_refs, raw_hyps), abs=1e-12)
    assert summary["n_scored"] == 4
    assert summary["failure_counts"] == {"audio": 1}
    # RTFx = Σ audio / Σ processing = (2 + 3 + 4 + 5) / (4 × 0.5)
    assert summary["rtfx"] == pytest.approx(14.0 / 2.0)
    assert summary["rtf"] == pytest.approx(2.0 / 14.0)
    lo, hi = summary["wer_ci"]
    assert lo <= summary["wer"] <= hi
