"""Paired comparison of two or more runs over the same dataset.

Every formula here is written out in ``docs/METRICS.md`` ("Comparing runs"); tests in
``tests/core/test_compare_stats.py`` check them against hand-computed values and scipy.

Runs are paired by ``sample_index`` (a sample's position in the dataset file, see
:class:`~openbench_desktop.core.domain.Sample`). Pairing is only meaningful when both runs
read the same file, so the manifests' dataset hashes are compared and a warning is raised
when they differ or cannot be checked.

All bootstrap intervals are percentile intervals from ``n_boot`` resamples drawn by
``numpy.random.default_rng(seed)``: the same inputs always give the same interval.
Each statistic starts its own generator from ``seed``, so adding a run to a comparison
never changes the intervals of the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from openbench_desktop.core.domain import RunRecord, SampleResult, SampleStatus
from openbench_desktop.core.engine.metrics import PERCENTILES, wilson_interval
from openbench_desktop.core.labels import distinct_labels, spec_label

if TYPE_CHECKING:
    from openbench_desktop.core.storage import Store

PERCENTILE_KEYS: tuple[str, ...] = tuple(f"p{p}" for p in PERCENTILES)
DEFAULT_N_BOOT = 2000
DEFAULT_SEED = 20240601
CONFIDENCE = 0.95
# Resampled index matrices are built in blocks of at most this many cells, so a 14k-sample
# MMLU run never asks for a 2000 x 14000 int64 matrix (224 MB) at once.
_BLOCK_CELLS = 2_000_000

Statistic = Callable[..., "np.ndarray[Any, np.dtype[np.float64]]"]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with its 95% interval (all None when there was no data)."""

    value: float | None
    low: float | None = None
    high: float | None = None

    @property
    def known(self) -> bool:
        return self.value is not None


NO_ESTIMATE = Estimate(None)


@dataclass(frozen=True, slots=True)
class RunInput:
    """One run to compare: its identity, the manifest facts pairing needs, its results."""

    run_id: str
    results: Iterable[SampleResult]
    label: str | None = None
    model: str = ""
    benchmark: str = ""
    dataset_sha256: str | None = None
    cost_usd: float | None = None

    @classmethod
    def from_record(cls, record: RunRecord, results: Iterable[SampleResult]) -> RunInput:
        return cls(
            run_id=record.run_id,
            results=results,
            label=spec_label(record.spec),
            model=record.model,
            benchmark=record.benchmark,
            dataset_sha256=record.manifest.dataset_sha256 if record.manifest else None,
            cost_usd=record.cost_usd,
        )


@dataclass(frozen=True, slots=True)
class RunStats:
    """One run on its own: accuracy, latency percentiles, the latency CDF, cost."""

    run_id: str
    label: str
    model: str
    benchmark: str
    n_results: int  # samples attempted (a stored result, answered or failed)
    n_ok: int
    n_failed: int
    n_correct: int
    accuracy: float | None  # n_correct / n_ok, as in RunSummary
    accuracy_ci: tuple[float, float] | None  # Wilson 95%
    e2e_ms: dict[str, Estimate]  # p50/p90/p95/p99 with bootstrap CIs
    ttft_ms: dict[str, Estimate]
    n_e2e: int
    n_ttft: int
    e2e_cdf: tuple[tuple[float, ...], tuple[float, ...]]  # sorted x, F(x) = rank / n
    cost_usd: float | None
    dataset_sha256: str | None

    @property
    def median_e2e_ms(self) -> float | None:
        return self.e2e_ms["p50"].value

    @property
    def cost_per_sample_usd(self) -> float | None:
        if self.cost_usd is None or self.n_results == 0:
            return None
        return self.cost_usd / self.n_results


@dataclass(frozen=True, slots=True)
class PairStats:
    """``other`` against ``baseline`` on the samples both answered (differences: other − baseline).

    Discordant counts follow McNemar's table: ``n_baseline_only`` = baseline right and
    other wrong, ``n_other_only`` = other right and baseline wrong.
    """

    baseline_id: str
    other_id: str
    n_paired: int
    n_both_correct: int
    n_baseline_only: int
    n_other_only: int
    n_both_wrong: int
    baseline_accuracy: float | None  # on the paired samples only
    other_accuracy: float | None
    accuracy_diff: Estimate  # paired bootstrap CI
    mcnemar_p: float | None  # exact (binomial) McNemar test, two-sided
    e2e_median_diff_ms: Estimate  # paired bootstrap CI
    n_e2e_paired: int
    ttft_median_diff_ms: Estimate
    n_ttft_paired: int
    cost_diff_usd: float | None
    same_dataset: bool | None  # None: a manifest lacks the hash
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Comparison:
    runs: tuple[RunStats, ...]
    pairs: tuple[PairStats, ...]
    n_boot: int
    seed: int
    warnings: tuple[str, ...] = ()
    failures_as_wrong: bool = False

    @property
    def baseline(self) -> RunStats:
        return self.runs[0]

    def run(self, run_id: str) -> RunStats:
        for r in self.runs:
            if r.run_id == run_id:
                return r
        raise KeyError(run_id)

    def pair(self, baseline_id: str, other_id: str) -> PairStats | None:
        for p in self.pairs:
            if p.baseline_id == baseline_id and p.other_id == other_id:
                return p
        return None


# --- per-run arrays -----------------------------------------------------------------------


@dataclass
class RunColumns:
    """The columns the statistics need, pulled out of (possibly streamed) results once.

    Small and plain (numpy arrays): this is what crosses from the thread that reads the
    database to the one that computes, instead of every result with its output text.
    """

    info: RunInput
    index: np.ndarray  # every attempted sample index, sorted
    ok: np.ndarray  # bool per index
    correct: np.ndarray  # bool per index
    e2e: np.ndarray  # float per index, NaN when unknown or failed
    ttft: np.ndarray
    sample_ids: dict[int, str] = field(default_factory=dict)

    @classmethod
    def collect(cls, info: RunInput) -> RunColumns:
        """Read ``info.results`` once (a later result for the same index replaces it)."""
        rows: dict[int, tuple[bool, bool, float, float, str]] = {}
        for r in info.results:
            ok = r.status is SampleStatus.OK
            rows[r.index] = (
                ok,
                r.correct,
                float(r.e2e_ms) if ok and r.e2e_ms is not None else np.nan,
                float(r.ttft_ms) if ok and r.ttft_ms is not None else np.nan,
                r.sample_id,
            )
        order = sorted(rows)
        cols = [rows[i] for i in order]
        return cls(
            info=info,
            index=np.asarray(order, dtype=np.int64),
            ok=np.asarray([c[0] for c in cols], dtype=bool),
            correct=np.asarray([c[1] for c in cols], dtype=bool),
            e2e=np.asarray([c[2] for c in cols], dtype=float),
            ttft=np.asarray([c[3] for c in cols], dtype=float),
            sample_ids={i: c[4] for i, c in zip(order, cols, strict=True) if c[4]},
        )


# --- building blocks (public: tests and the CLI use them directly) ------------------------


def mcnemar_exact_p(n_baseline_only: int, n_other_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``.

    Under H0 each discordant pair is equally likely to go either way, so ``b`` is
    Binomial(b + c, 1/2); the p-value is ``scipy.stats.binomtest(b, b + c, 0.5).pvalue``
    (= min(1, 2·P(X ≤ min(b, c)))). No discordant pairs: p = 1.
    """
    n = n_baseline_only + n_other_only
    if n == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(n_baseline_only, n, 0.5).pvalue)


def _resample_blocks(rng: np.random.Generator, n: int, n_boot: int) -> Iterator[np.ndarray]:
    """``n_boot`` rows of ``n`` indices drawn with replacement, in memory-bounded blocks."""
    rows_per_block = max(1, _BLOCK_CELLS // max(n, 1))
    done = 0
    while done < n_boot:
        rows = min(rows_per_block, n_boot - done)
        yield rng.integers(0, n, size=(rows, n))
        done += rows


def _interval(replicates: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return None, None
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high)


def bootstrap_ci(
    columns: Sequence[np.ndarray],
    statistic: Statistic,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Percentile bootstrap interval of ``statistic`` over rows resampled jointly.

    ``columns`` are equally long 1-D arrays; row *i* of every column is one unit (one
    sample, or one sample's pair of outcomes), and resampling rows keeps the pairs
    together: a *paired* bootstrap when there are two columns. ``statistic`` receives
    2-D arrays (one resample per row) and returns one value per row.
    """
    n = len(columns[0]) if columns else 0
    if n == 0:
        return NO_ESTIMATE
    whole = statistic(*(c[np.newaxis, :] for c in columns))
    value = float(whole[0])
    rng = np.random.default_rng(seed)
    parts = [statistic(*(c[idx] for c in columns)) for idx in _resample_blocks(rng, n, n_boot)]
    low, high = _interval(np.concatenate(parts), confidence)
    return Estimate(value, low, high)


def _mean_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(b.mean(axis=1) - a.mean(axis=1), dtype=float)


def _median_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(np.median(b, axis=1) - np.median(a, axis=1), dtype=float)


def paired_accuracy_diff(
    baseline_correct: np.ndarray,
    other_correct: np.ndarray,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """Accuracy of ``other`` minus ``baseline`` (paired 0/1 outcomes) with a bootstrap CI."""
    a = np.asarray(baseline_correct, dtype=float)
    b = np.asarray(other_correct, dtype=float)
    return bootstrap_ci([a, b], _mean_diff, n_boot=n_boot, seed=seed, confidence=confidence)


def paired_median_diff(
    baseline: np.ndarray,
    other: np.ndarray,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> Estimate:
    """median(other) − median(baseline) over paired samples, with a paired bootstrap CI."""
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(other, dtype=float)
    return bootstrap_ci([a, b], _median_diff, n_boot=n_boot, seed=seed, confidence=confidence)


def percentile_cis(
    values: np.ndarray | Sequence[float],
    *,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> dict[str, Estimate]:
    """p50/p90/p95/p99 (numpy's linear interpolation, as in RunSummary) with bootstrap CIs.

    One resample serves all four percentiles. With few samples the upper percentiles'
    intervals are wide or collapse onto the largest values: p99 of 50 samples is little
    more than the maximum, and its interval says so only partly.
    """
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return dict.fromkeys(PERCENTILE_KEYS, NO_ESTIMATE)
    point = np.percentile(arr, PERCENTILES)
    rng = np.random.default_rng(seed)
    parts = [
        np.percentile(arr[idx], PERCENTILES, axis=1)  # shape (4, rows)
        for idx in _resample_blocks(rng, arr.size, n_boot)
    ]
    reps = np.concatenate(parts, axis=1)
    out: dict[str, Estimate] = {}
    for k, key in enumerate(PERCENTILE_KEYS):
        low, high = _interval(reps[k], confidence)
        out[key] = Estimate(float(point[k]), low, high)
    return out


def empirical_cdf(values: np.ndarray | Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted values and F(x_i) = i / n (i = 1..n): the right-continuous step function."""
    arr = np.sort(np.asarray(values, dtype=float))
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return arr, arr
    return arr, np.arange(1, arr.size + 1, dtype=float) / arr.size


# --- whole runs -----------------------------------------------------------------------------


def _run_stats(
    data: RunColumns, label: str, *, n_boot: int, seed: int, confidence: float
) -> RunStats:
    n_ok = int(data.ok.sum())
    n_correct = int(data.correct.sum())
    e2e = data.e2e[np.isfinite(data.e2e)]
    ttft = data.ttft[np.isfinite(data.ttft)]
    cdf_x, cdf_y = empirical_cdf(e2e)
    return RunStats(
        run_id=data.info.run_id,
        label=label,
        model=data.info.model,
        benchmark=data.info.benchmark,
        n_results=int(data.index.size),
        n_ok=n_ok,
        n_failed=int(data.index.size) - n_ok,
        n_correct=n_correct,
        accuracy=n_correct / n_ok if n_ok else None,
        accuracy_ci=wilson_interval(n_correct, n_ok, confidence),
        e2e_ms=percentile_cis(e2e, n_boot=n_boot, seed=seed, confidence=confidence),
        ttft_ms=percentile_cis(ttft, n_boot=n_boot, seed=seed, confidence=confidence),
        n_e2e=int(e2e.size),
        n_ttft=int(ttft.size),
        e2e_cdf=(tuple(float(x) for x in cdf_x), tuple(float(y) for y in cdf_y)),
        cost_usd=data.info.cost_usd,
        dataset_sha256=data.info.dataset_sha256,
    )


def _dataset_check(a: RunInput, b: RunInput, la: str, lb: str) -> tuple[bool | None, list[str]]:
    warnings: list[str] = []
    if a.benchmark and b.benchmark and a.benchmark != b.benchmark:
        warnings.append(
            f"{lb} ran benchmark '{b.benchmark}' but {la} ran '{a.benchmark}': "
            "paired figures compare different tasks."
        )
    if a.dataset_sha256 and b.dataset_sha256:
        same = a.dataset_sha256 == b.dataset_sha256
        if not same:
            warnings.append(
                f"{lb} and {la} used different dataset files (SHA-256 differs): "
                "samples are paired by index and may not be the same questions."
            )
        return same, warnings
    warnings.append(
        f"Could not check that {lb} and {la} used the same dataset (a run has no dataset "
        "hash); samples are paired by index."
    )
    return None, warnings


def _compare_pair(
    base: RunColumns,
    other: RunColumns,
    labels: tuple[str, str],
    *,
    n_boot: int,
    seed: int,
    confidence: float,
    failures_as_wrong: bool,
) -> PairStats:
    la, lb = labels
    same, warnings = _dataset_check(base.info, other.info, la, lb)
    common, ia, ib = np.intersect1d(base.index, other.index, return_indices=True)
    # Answered by both, unless failures count as wrong answers.
    keep = np.ones(common.size, dtype=bool) if failures_as_wrong else base.ok[ia] & other.ok[ib]
    ia, ib = ia[keep], ib[keep]
    ca, cb = base.correct[ia], other.correct[ib]
    n = int(ca.size)
    both = int((ca & cb).sum())
    b_only = int((ca & ~cb).sum())
    o_only = int((~ca & cb).sum())
    neither = n - both - b_only - o_only

    mismatched = sum(
        1
        for i in common[keep]
        if (sa := base.sample_ids.get(int(i))) and (sb := other.sample_ids.get(int(i))) and sa != sb
    )
    if mismatched:
        warnings.append(f"{mismatched} paired samples of {lb} and {la} carry different sample ids.")
    if n == 0:
        warnings.append(f"{lb} and {la} have no answered sample in common.")

    # Latency pairs: both answered with a timing (failures never have one).
    ea, eb = base.e2e[ia], other.e2e[ib]
    e_ok = np.isfinite(ea) & np.isfinite(eb)
    ta, tb = base.ttft[ia], other.ttft[ib]
    t_ok = np.isfinite(ta) & np.isfinite(tb)
    kw: dict[str, Any] = {"n_boot": n_boot, "seed": seed, "confidence": confidence}
    cost_a, cost_b = base.info.cost_usd, other.info.cost_usd
    return PairStats(
        baseline_id=base.info.run_id,
        other_id=other.info.run_id,
        n_paired=n,
        n_both_correct=both,
        n_baseline_only=b_only,
        n_other_only=o_only,
        n_both_wrong=neither,
        baseline_accuracy=float(ca.mean()) if n else None,
        other_accuracy=float(cb.mean()) if n else None,
        accuracy_diff=paired_accuracy_diff(ca, cb, **kw),
        mcnemar_p=mcnemar_exact_p(b_only, o_only) if n else None,
        e2e_median_diff_ms=paired_median_diff(ea[e_ok], eb[e_ok], **kw),
        n_e2e_paired=int(e_ok.sum()),
        ttft_median_diff_ms=paired_median_diff(ta[t_ok], tb[t_ok], **kw),
        n_ttft_paired=int(t_ok.sum()),
        cost_diff_usd=cost_b - cost_a if cost_a is not None and cost_b is not None else None,
        same_dataset=same,
        warnings=tuple(warnings),
    )


def _unique_labels(inputs: Sequence[RunInput]) -> list[str]:
    """Run names (or models), with a short id added where two would read the same."""
    base = [(r.label or r.model or r.run_id[:8]).strip() for r in inputs]
    return distinct_labels(base, [r.run_id for r in inputs])


def compare_runs(
    runs: Sequence[RunInput | RunColumns],
    *,
    pairs: Literal["baseline", "all"] = "baseline",
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
    failures_as_wrong: bool = False,
) -> Comparison:
    """Statistics for each run and for each pair; ``runs[0]`` is the baseline.

    ``pairs="baseline"`` compares every other run with the first; ``"all"`` compares
    every ordered pair (i, j) with i < j. Paired samples are those both runs *answered*
    (status ok), matching the accuracy definition (correct ÷ answered); with
    ``failures_as_wrong`` every sample both runs attempted is paired and a failure
    scores as wrong (``accuracy_all``'s reading).
    """
    if len(runs) < 1:
        raise ValueError("compare_runs needs at least one run")
    ids = [r.info.run_id if isinstance(r, RunColumns) else r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise ValueError("a run appears twice in the comparison")
    data = [r if isinstance(r, RunColumns) else RunColumns.collect(r) for r in runs]
    labels = _unique_labels([d.info for d in data])
    kw: dict[str, Any] = {"n_boot": n_boot, "seed": seed, "confidence": confidence}
    stats = tuple(_run_stats(d, lab, **kw) for d, lab in zip(data, labels, strict=True))
    if pairs == "all":
        which = [(i, j) for i in range(len(data)) for j in range(i + 1, len(data))]
    else:
        which = [(0, j) for j in range(1, len(data))]
    pair_stats = tuple(
        _compare_pair(
            data[i],
            data[j],
            (labels[i], labels[j]),
            failures_as_wrong=failures_as_wrong,
            **kw,
        )
        for i, j in which
    )
    warnings: list[str] = []
    for p in pair_stats:
        for w in p.warnings:
            if w not in warnings:
                warnings.append(w)
    return Comparison(
        runs=stats,
        pairs=pair_stats,
        n_boot=n_boot,
        seed=seed,
        warnings=tuple(warnings),
        failures_as_wrong=failures_as_wrong,
    )


def load_run_columns(store: Store, run_ids: Sequence[str]) -> list[RunColumns]:
    """Read the runs from ``store`` into :class:`RunColumns` (a database read: off the GUI).

    Results are streamed page by page into the arrays the statistics need, so the
    outputs and prompts of a large run are never all held at once.
    """
    return [
        RunColumns.collect(RunInput.from_record(store.get_run(run_id), store.iter_results(run_id)))
        for run_id in run_ids
    ]


def load_comparison(store: Store, run_ids: Sequence[str], **options: Any) -> Comparison:
    """Read and compare in one call (the CLI and tests; slow, never on the GUI thread)."""
    return compare_runs(load_run_columns(store, run_ids), **options)
