"""Word diff from jiwer's alignment, and the paired bootstrap of a WER difference."""

from __future__ import annotations

import jiwer
import numpy as np
import pytest

from openbench_desktop.core.audio.diff import DiffOp, count_ops, word_diff
from openbench_desktop.core.audio.metrics import paired_wer_diff, word_counts


@pytest.mark.parametrize(
    ("ref", "hyp"),
    [
        ("the cat sat on the mat", "the cat sat on the mat"),
        ("the cat sat on the mat", "a cat sat on mat"),
        ("please open the window", "please open window now"),
        ("one two three", "four five six seven"),
        ("seven thirty", "seven thirty in the morning"),
    ],
)
def test_diff_counts_match_jiwer(ref: str, hyp: str) -> None:
    ops = word_diff(ref, hyp)
    counts = word_counts(ref, hyp)
    assert count_ops(ops) == {
        "hits": counts.hits,
        "substitutions": counts.substitutions,
        "deletions": counts.deletions,
        "insertions": counts.insertions,
    }
    # The ops rebuild both strings in order.
    assert [w for op in ops for w in op.ref] == ref.split()
    assert [w for op in ops for w in op.hyp] == hyp.split()


def test_diff_marks_the_changed_words() -> None:
    ops = word_diff("please open the window before noon", "please open window before the noon")
    expected = jiwer.process_words(
        "please open the window before noon", "please open window before the noon"
    ).alignments[0]
    assert [op.kind for op in ops] == [c.type for c in expected]
    assert DiffOp("delete", ("the",), ()) in ops
    assert DiffOp("insert", (), ("the",)) in ops


def test_diff_with_empty_sides() -> None:
    assert word_diff("", "") == []
    assert word_diff("", "hello there") == [DiffOp("insert", (), ("hello", "there"))]
    assert word_diff("hello there", "  ") == [DiffOp("delete", ("hello", "there"), ())]


def test_paired_diff_of_identical_runs_is_exactly_zero() -> None:
    e, n = [1, 0, 2, 3], [5, 4, 6, 7]
    d = paired_wer_diff(e, n, e, n)
    assert d is not None
    assert d.diff == 0.0 and d.low == 0.0 and d.high == 0.0 and d.n == 4


def test_paired_diff_by_hand() -> None:
    # B makes one more error than A on every utterance of 10 words: ΔWER is exactly 0.1
    # in every resample, so the interval collapses onto it.
    ea, eb, n = [0, 1, 2, 3], [1, 2, 3, 4], [10, 10, 10, 10]
    d = paired_wer_diff(ea, n, eb, n)
    assert d is not None
    assert d.wer_a == pytest.approx(6 / 40) and d.wer_b == pytest.approx(10 / 40)
    assert d.diff == pytest.approx(0.1)
    assert d.low == pytest.approx(0.1) and d.high == pytest.approx(0.1)


def test_paired_diff_matches_a_plain_numpy_bootstrap() -> None:
    rng = np.random.default_rng(5)
    n = rng.integers(3, 15, size=40)
    ea = rng.integers(0, 4, size=40)
    eb = rng.integers(0, 6, size=40)
    d = paired_wer_diff(ea.tolist(), n.tolist(), eb.tolist(), n.tolist())
    assert d is not None
    draws = np.random.default_rng(0).integers(0, 40, size=(1000, 40))
    diffs = eb[draws].sum(1) / n[draws].sum(1) - ea[draws].sum(1) / n[draws].sum(1)
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    assert (d.low, d.high) == pytest.approx((lo, hi))
    assert d.low <= d.diff <= d.high


def test_paired_diff_edge_cases() -> None:
    assert paired_wer_diff([], [], [], []) is None
    one = paired_wer_diff([1], [4], [2], [4])
    assert one is not None and one.diff == pytest.approx(0.25) and one.low is None
    with pytest.raises(ValueError):
        paired_wer_diff([1], [4, 5], [2], [4])
