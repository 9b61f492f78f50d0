"""Speech metrics: word/character error rates, their bootstrap interval, real-time factors.

Definitions (also in ``docs/METRICS.md``, section "Speech"); tests check each by hand:

- Per utterance, jiwer aligns the normalized reference and hypothesis word sequences with
  a minimum edit distance and counts hits H, substitutions S, deletions D, insertions I.
  The reference length is N = H + S + D. Utterance WER = (S + D + I) / N.
- **Corpus WER** = Σ(S + D + I) / Σ N over the scored utterances: long utterances weigh in
  proportion to their length (the same number as ``jiwer.wer(references, hypotheses)``).
  It is not the mean of the utterance WERs.
- **CER**: the same over characters, spaces included (``jiwer.cer``).
- **WER interval**: 95% percentile bootstrap over utterances — draw n utterances with
  replacement (numpy ``default_rng(seed)``, seed 0, 1,000 draws), compute each draw's
  corpus WER, take the 2.5th and 97.5th percentiles (numpy's linear interpolation).
  None with fewer than two scored utterances.
- **RTFx** = Σ audio seconds / Σ processing seconds over scored utterances (higher is
  faster; 10 means ten seconds of speech per second of compute). Processing time is the
  wall time of the model's transcribe call only; reading and resampling the file, the
  model load and the warm-up are excluded (the latter two are reported on their own).
  **RTF** = 1 / RTFx.
- **Paired WER difference** of run B against run A on the utterances both scored:
  ΔWER = WER_B − WER_A, each a corpus WER over those utterances; its 95% interval is a
  percentile bootstrap that draws the *same* utterances for both runs in each resample
  (seed 0, 1,000 draws), so utterance difficulty cancels out of the interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openbench_desktop.core.audio import AUDIO_EXTRA, MissingDependencyError

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "EditCounts",
    "PairedDiff",
    "bootstrap_ci",
    "char_counts",
    "corpus_rate",
    "paired_wer_diff",
    "rtfx",
    "word_counts",
]

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
_CHUNK_ELEMENTS = 4_000_000  # bounds the bootstrap's index matrix (~32 MB of int64)


@dataclass(frozen=True, slots=True)
class EditCounts:
    """The alignment of one reference with one hypothesis (words or characters)."""

    hits: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def ref_len(self) -> int:
        return self.hits + self.substitutions + self.deletions

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float | None:
        return self.errors / self.ref_len if self.ref_len else None


def _jiwer():  # type: ignore[no-untyped-def]
    try:
        import jiwer
    except ImportError as exc:
        raise MissingDependencyError("jiwer (word error rate)", extra=AUDIO_EXTRA) from exc
    return jiwer


def word_counts(reference: str, hypothesis: str) -> EditCounts:
    """Word alignment counts of two normalized strings; ``reference`` must not be empty."""
    if not reference.strip():
        raise ValueError("the reference is empty")
    out = _jiwer().process_words(reference, hypothesis)
    return EditCounts(out.hits, out.substitutions, out.deletions, out.insertions)


def char_counts(reference: str, hypothesis: str) -> EditCounts:
    """Character alignment counts (spaces count as characters, as in ``jiwer.cer``)."""
    if not reference.strip():
        raise ValueError("the reference is empty")
    out = _jiwer().process_characters(reference, hypothesis)
    return EditCounts(out.hits, out.substitutions, out.deletions, out.insertions)


def corpus_rate(counts: Sequence[EditCounts]) -> float | None:
    """Σ errors / Σ reference length (corpus WER or CER); None when nothing was scored."""
    total = sum(c.ref_len for c in counts)
    return sum(c.errors for c in counts) / total if total else None


def bootstrap_ci(
    errors: Sequence[int],
    lengths: Sequence[int],
    *,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the corpus error rate, resampling utterances.

    ``errors[i]`` and ``lengths[i]`` are utterance *i*'s error count and reference length.
    Deterministic for a given seed and input order.
    """
    import numpy as np

    if len(errors) != len(lengths):
        raise ValueError("errors and lengths differ in length")
    n = len(errors)
    if n < 2:
        return None
    err = np.asarray(errors, dtype=np.int64)
    ref = np.asarray(lengths, dtype=np.int64)
    rng = np.random.default_rng(seed)
    rates = np.empty(n_resamples, dtype=np.float64)
    rows = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_resamples, rows):
        stop = min(n_resamples, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))
        # A draw of only empty references cannot happen: every scored N > 0.
        rates[start:stop] = err[idx].sum(axis=1) / ref[idx].sum(axis=1)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.percentile(rates, [100 * alpha, 100 * (1 - alpha)])
    return (float(lo), float(hi))


@dataclass(frozen=True, slots=True)
class PairedDiff:
    """WER_B − WER_A on ``n`` shared utterances, with its bootstrap interval (or None)."""

    diff: float
    low: float | None
    high: float | None
    n: int
    wer_a: float
    wer_b: float


def paired_wer_diff(
    errors_a: Sequence[int],
    lengths_a: Sequence[int],
    errors_b: Sequence[int],
    lengths_b: Sequence[int],
    *,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = BOOTSTRAP_SEED,
) -> PairedDiff | None:
    """Paired percentile bootstrap of WER_B − WER_A; element *i* is the same utterance.

    The reference lengths are per run because two runs may normalize the same reference
    differently. None when nothing is shared or a run has no reference words; the interval
    is None with fewer than two utterances.
    """
    import numpy as np

    n = len(errors_a)
    if not n == len(lengths_a) == len(errors_b) == len(lengths_b):
        raise ValueError("the four columns differ in length")
    ea, na = np.asarray(errors_a, np.int64), np.asarray(lengths_a, np.int64)
    eb, nb = np.asarray(errors_b, np.int64), np.asarray(lengths_b, np.int64)
    if n == 0 or na.sum() == 0 or nb.sum() == 0:
        return None
    wer_a, wer_b = float(ea.sum() / na.sum()), float(eb.sum() / nb.sum())
    if n < 2:
        return PairedDiff(wer_b - wer_a, None, None, n, wer_a, wer_b)
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_resamples, dtype=np.float64)
    rows = max(1, _CHUNK_ELEMENTS // n)
    with np.errstate(invalid="ignore", divide="ignore"):
        for start in range(0, n_resamples, rows):
            stop = min(n_resamples, start + rows)
            idx = rng.integers(0, n, size=(stop - start, n))
            # A draw can only have no reference words if a run has zero-length
            # references among its scored utterances: such draws are NaN and skipped.
            diffs[start:stop] = (
                eb[idx].sum(axis=1) / nb[idx].sum(axis=1)
                - ea[idx].sum(axis=1) / na[idx].sum(axis=1)
            )
    diffs = diffs[np.isfinite(diffs)]
    if not len(diffs):
        return PairedDiff(wer_b - wer_a, None, None, n, wer_a, wer_b)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.percentile(diffs, [100 * alpha, 100 * (1 - alpha)])
    return PairedDiff(wer_b - wer_a, float(lo), float(hi), n, wer_a, wer_b)


def rtfx(audio_s: float, processing_s: float) -> float | None:
    """Audio seconds per processing second; None when nothing was processed."""
    return audio_s / processing_s if processing_s > 0 else None
