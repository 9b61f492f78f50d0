"""Paired comparison statistics against hand-computed values, scipy and known ground truth.

See docs/METRICS.md, "Comparing runs", for the definitions checked here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from openbench_desktop.core.domain import (
    ErrorCategory,
    RunManifest,
    RunSpec,
    RunStatus,
    SampleResult,
    SampleStatus,
)
from openbench_desktop.core.engine.metrics import percentiles, summarize, wilson_interval
from openbench_desktop.core.stats import (
    RunInput,
    compare_runs,
    empirical_cdf,
    load_comparison,
    mcnemar_exact_p,
    paired_accuracy_diff,
    paired_median_diff,
    percentile_cis,
)
from openbench_desktop.core.storage import Store


def results(
    correct: Sequence[bool | None],
    e2e: Sequence[float] | None = None,
    ttft: Sequence[float] | None = None,
    start: int = 0,
) -> list[SampleResult]:
    """Results for indices start.., ``None`` in ``correct`` meaning the request failed."""
    out = []
    for k, c in enumerate(correct):
        if c is None:
            out.append(
                SampleResult(
                    index=start + k,
                    status=SampleStatus.FAILED,
                    error_category=ErrorCategory.TIMEOUT,
                )
            )
            continue
        out.append(
            SampleResult(
                index=start + k,
                status=SampleStatus.OK,
                score=1.0 if c else 0.0,
                e2e_ms=None if e2e is None else float(e2e[k]),
                ttft_ms=None if ttft is None else float(ttft[k]),
            )
        )
    return out


def table(both: int, base_only: int, other_only: int, neither: int) -> tuple[list, list]:
    """Paired correctness lists realising a 2x2 McNemar table."""
    a = [True] * both + [True] * base_only + [False] * other_only + [False] * neither
    b = [True] * both + [False] * base_only + [True] * other_only + [False] * neither
    return a, b


def mcnemar_by_hand(b: int, c: int) -> float:
    """min(1, 2 · P(X ≤ min(b, c))), X ~ Binomial(b + c, 1/2), from binomial coefficients."""
    n = b + c
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


# --- McNemar ------------------------------------------------------------------------------


def test_mcnemar_on_a_small_table_by_hand() -> None:
    # b = 1, c = 6: P(X <= 1) = (C(7,0) + C(7,1)) / 2^7 = 8/128, two-sided 16/128.
    assert mcnemar_exact_p(1, 6) == pytest.approx(16 / 128)
    assert mcnemar_exact_p(6, 1) == pytest.approx(16 / 128)
    # b = 0, c = 5: 2 / 32
    assert mcnemar_exact_p(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact_p(3, 3) == 1.0
    assert mcnemar_exact_p(0, 0) == 1.0


@pytest.mark.parametrize(("b", "c"), [(2, 9), (10, 21), (40, 25), (0, 1), (13, 14)])
def test_mcnemar_matches_binomial_reference(b: int, c: int) -> None:
    assert mcnemar_exact_p(b, c) == pytest.approx(mcnemar_by_hand(b, c), rel=1e-12)
    assert mcnemar_exact_p(b, c) == pytest.approx(sps.binomtest(b, b + c, 0.5).pvalue)


def test_pair_counts_table_and_p_value() -> None:
    a, b = table(both=10, base_only=1, other_only=6, neither=3)
    comp = compare_runs([RunInput("a", results(a)), RunInput("b", results(b))], n_boot=500)
    pair = comp.pairs[0]
    assert (pair.n_both_correct, pair.n_baseline_only, pair.n_other_only, pair.n_both_wrong) == (
        10,
        1,
        6,
        3,
    )
    assert pair.n_paired == 20
    assert pair.baseline_accuracy == pytest.approx(11 / 20)
    assert pair.other_accuracy == pytest.approx(16 / 20)
    assert pair.accuracy_diff.value == pytest.approx(5 / 20)
    assert pair.mcnemar_p == pytest.approx(16 / 128)
    assert pair.accuracy_diff.low < 5 / 20 < pair.accuracy_diff.high


# --- identical runs -------------------------------------------------------------------------


def test_identical_runs_give_zero_difference_and_p_one() -> None:
    rng = np.random.default_rng(3)
    correct = list(rng.random(200) < 0.7)
    e2e = rng.lognormal(6, 0.4, 200)
    ttft = e2e / 4
    a = RunInput("a", results(correct, e2e, ttft))
    b = RunInput("b", results(correct, e2e, ttft))
    pair = compare_runs([a, b], n_boot=300).pairs[0]
    assert pair.accuracy_diff.value == 0.0
    assert (pair.accuracy_diff.low, pair.accuracy_diff.high) == (0.0, 0.0)
    assert pair.mcnemar_p == 1.0
    assert pair.n_baseline_only == pair.n_other_only == 0
    assert pair.e2e_median_diff_ms.value == 0.0
    assert (pair.e2e_median_diff_ms.low, pair.e2e_median_diff_ms.high) == (0.0, 0.0)
    assert pair.ttft_median_diff_ms.value == 0.0


# --- bootstrap intervals ---------------------------------------------------------------------


def correlated_pairs(
    rng: np.random.Generator, n: int, p_a: float, p_b: float
) -> tuple[np.ndarray, np.ndarray]:
    """Paired 0/1 outcomes with marginals p_a and p_b, positively correlated."""
    u = rng.random(n)
    return u < p_a, u < p_b  # b is right whenever a is (p_b > p_a): strongly paired


def test_accuracy_bootstrap_ci_contains_true_difference() -> None:
    rng = np.random.default_rng(11)
    a, b = correlated_pairs(rng, 2000, 0.60, 0.70)
    est = paired_accuracy_diff(a, b, n_boot=2000, seed=5)
    assert est.value == pytest.approx(b.mean() - a.mean())
    assert est.low < 0.10 < est.high
    # paired data: far narrower than two independent intervals would be
    assert est.high - est.low < 0.04


def test_accuracy_bootstrap_coverage_is_near_nominal() -> None:
    """Over many synthetic data sets the 95% interval holds the true difference ~95% of times."""
    rng = np.random.default_rng(2024)
    hits = 0
    trials = 200
    for t in range(trials):
        # independent items: true difference 0.08
        a = rng.random(300) < 0.55
        b = rng.random(300) < 0.63
        est = paired_accuracy_diff(a, b, n_boot=400, seed=t)
        hits += est.low <= 0.08 <= est.high
    assert 0.88 <= hits / trials <= 0.99


def test_accuracy_bootstrap_agrees_with_scipy_percentile_bootstrap() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.random(500) < 0.5, rng.random(500) < 0.6
    ours = paired_accuracy_diff(a, b, n_boot=4000, seed=1)
    ref = sps.bootstrap(
        (a.astype(float), b.astype(float)),
        lambda x, y, axis: y.mean(axis=axis) - x.mean(axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=4000,
        method="percentile",
        random_state=np.random.default_rng(1),
    ).confidence_interval
    # Different random streams: agree to Monte Carlo error (~0.005 here).
    assert ours.low == pytest.approx(ref.low, abs=0.01)
    assert ours.high == pytest.approx(ref.high, abs=0.01)


def test_median_latency_difference_ci_contains_true_shift() -> None:
    rng = np.random.default_rng(5)
    base = rng.lognormal(np.log(800), 0.3, 1000)
    other = base - 120 + rng.normal(0, 10, 1000)  # same items, 120 ms faster
    est = paired_median_diff(base, other, n_boot=1500, seed=2)
    assert est.value == pytest.approx(np.median(other) - np.median(base))
    assert est.low < -120 < est.high
    assert est.high - est.low < 20


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random(300) < 0.5, rng.random(300) < 0.6
    assert paired_accuracy_diff(a, b, seed=9) == paired_accuracy_diff(a, b, seed=9)
    assert paired_accuracy_diff(a, b, seed=9) != paired_accuracy_diff(a, b, seed=10)


def test_percentile_cis_contain_population_quantiles() -> None:
    rng = np.random.default_rng(4)
    mu, sigma = np.log(500), 0.5
    values = rng.lognormal(mu, sigma, 3000)
    cis = percentile_cis(values, n_boot=1000, seed=3)
    reference = percentiles(list(values))
    for q in (50, 90, 95, 99):
        est = cis[f"p{q}"]
        assert est.value == pytest.approx(reference[f"p{q}"])
        true_q = float(np.exp(mu + sigma * sps.norm.ppf(q / 100)))
        assert est.low < true_q < est.high, q
        assert est.low <= est.value <= est.high


def test_percentile_cis_empty() -> None:
    cis = percentile_cis([])
    assert all(not e.known for e in cis.values())


def test_empirical_cdf_steps() -> None:
    x, y = empirical_cdf([30.0, 10.0, 20.0, float("nan")])
    assert list(x) == [10.0, 20.0, 30.0]
    assert list(y) == pytest.approx([1 / 3, 2 / 3, 1.0])


# --- whole comparisons ---------------------------------------------------------------------


def test_run_stats_match_run_summary() -> None:
    rng = np.random.default_rng(8)
    correct: list[bool | None] = [bool(v) for v in rng.random(120) < 0.6]
    correct[5] = None  # one failure: not in accuracy's denominator
    e2e = rng.lognormal(6, 0.3, 120)
    res = results(correct, e2e, e2e / 3)
    comp = compare_runs([RunInput("a", res, model="m"), RunInput("b", res, model="m2")], n_boot=200)
    run = comp.runs[0]
    summary = summarize(
        run_id="a",
        status=RunStatus.COMPLETED,
        benchmark="gsm8k",
        model="m",
        n_samples=120,
        results=res,
    )
    assert run.n_ok == summary.n_ok == 119
    assert run.n_failed == 1
    assert run.accuracy == pytest.approx(summary.accuracy)
    assert run.accuracy_ci == pytest.approx(summary.accuracy_ci)
    assert run.accuracy_ci == pytest.approx(wilson_interval(summary.n_correct, 119))
    for key in ("p50", "p90", "p95", "p99"):
        assert run.e2e_ms[key].value == pytest.approx(summary.e2e_ms[key])
        assert run.ttft_ms[key].value == pytest.approx(summary.ttft_ms[key])
    assert len(run.e2e_cdf[0]) == 119
    assert run.e2e_cdf[1][-1] == 1.0


def test_pairs_only_samples_both_answered() -> None:
    # a covers 0..9, b covers 5..14; b fails on 6. Common answered: 5, 7, 8, 9.
    a = results([True] * 10, e2e=[100.0] * 10)
    b = results(
        [False, None, True, True, True, True, False, True, True, True], [90.0] * 10, start=5
    )
    pair = compare_runs([RunInput("a", a), RunInput("b", b)], n_boot=100).pairs[0]
    assert pair.n_paired == 4
    # a right on all four; b right on 7, 8, 9 and wrong on 5
    assert (pair.n_both_correct, pair.n_baseline_only, pair.n_other_only) == (3, 1, 0)
    assert pair.accuracy_diff.value == pytest.approx(-1 / 4)
    assert pair.n_e2e_paired == 4
    assert pair.e2e_median_diff_ms.value == pytest.approx(-10.0)

    wrong = compare_runs(
        [RunInput("a", a), RunInput("b", b)], n_boot=100, failures_as_wrong=True
    ).pairs[0]
    assert wrong.n_paired == 5  # sample 6 now counts, as wrong for b
    assert wrong.n_baseline_only == 2
    assert wrong.n_e2e_paired == 4  # a failure has no latency


def test_dataset_hash_check_and_warnings() -> None:
    a, b = table(5, 1, 2, 2)
    same = compare_runs(
        [
            RunInput("a", results(a), dataset_sha256="abc", benchmark="gsm8k"),
            RunInput("b", results(b), dataset_sha256="abc", benchmark="gsm8k"),
        ],
        n_boot=50,
    )
    assert same.pairs[0].same_dataset is True
    assert same.warnings == ()

    differ = compare_runs(
        [
            RunInput("a", results(a), label="A", dataset_sha256="abc"),
            RunInput("b", results(b), label="B", dataset_sha256="def"),
        ],
        n_boot=50,
    )
    assert differ.pairs[0].same_dataset is False
    assert any("different dataset" in w for w in differ.warnings)

    unknown = compare_runs(
        [RunInput("a", results(a), dataset_sha256="abc"), RunInput("b", results(b))], n_boot=50
    )
    assert unknown.pairs[0].same_dataset is None
    assert any("Could not check" in w for w in unknown.warnings)


def test_sample_id_mismatch_is_reported() -> None:
    a = [
        SampleResult(index=i, status=SampleStatus.OK, score=1.0, sample_id=f"q{i}")
        for i in range(4)
    ]
    b = [
        SampleResult(index=i, status=SampleStatus.OK, score=1.0, sample_id=f"x{i}")
        for i in range(4)
    ]
    comp = compare_runs(
        [RunInput("a", a, dataset_sha256="h"), RunInput("b", b, dataset_sha256="h")], n_boot=50
    )
    assert any("4 paired samples" in w for w in comp.warnings)


def test_three_runs_baseline_and_all_pairs_and_cost() -> None:
    a, b = table(8, 2, 4, 6)
    _, c = table(6, 4, 2, 8)
    runs = [
        RunInput("a", results(a), label="same", cost_usd=0.50),
        RunInput("b", results(b), label="same", cost_usd=0.20),
        RunInput("c", results(c), label="third"),
    ]
    comp = compare_runs(runs, n_boot=100)
    assert [p.other_id for p in comp.pairs] == ["b", "c"]
    assert comp.pair("a", "b").cost_diff_usd == pytest.approx(-0.30)
    assert comp.pair("a", "c").cost_diff_usd is None
    assert comp.runs[0].cost_per_sample_usd == pytest.approx(0.50 / 20)
    # duplicate labels get the short id
    assert comp.runs[0].label != comp.runs[1].label
    assert comp.runs[2].label == "third"

    every = compare_runs(runs, n_boot=100, pairs="all")
    assert [(p.baseline_id, p.other_id) for p in every.pairs] == [
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
    ]
    # a pair's figures do not depend on which other runs are in the comparison
    assert every.pair("a", "b") == comp.pair("a", "b")


def test_compare_rejects_duplicates() -> None:
    with pytest.raises(ValueError):
        compare_runs([RunInput("a", []), RunInput("a", [])])


def test_load_comparison_from_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite")
    try:
        manifest = RunManifest(
            app_version="t",
            python_version="3.11",
            platform="linux",
            package_versions={},
            dataset_sha256="f00d",
            dataset_description="test",
            n_dataset_samples=20,
            config={},
            created_at="2024-01-01T00:00:00+00:00",
        )
        a, b = table(10, 1, 6, 3)
        ids = []
        for model, correct, cost in (("alpha", a, 0.1), ("beta", b, None)):
            spec = RunSpec(
                provider="openai", base_url="http://x/v1", model=model, benchmark="gsm8k"
            )
            run_id = store.create_run(spec, n_total=20, manifest=manifest)
            store.add_results(run_id, results(correct, e2e=[100.0 + i for i in range(20)]))
            store.finish_run(run_id, RunStatus.COMPLETED)
            store.set_cost(run_id, cost)
            ids.append(run_id)
        comp = load_comparison(store, ids, n_boot=200)
    finally:
        store.close()
    assert [r.label for r in comp.runs] == ["alpha", "beta"]
    assert comp.runs[0].cost_usd == 0.1
    pair = comp.pairs[0]
    assert pair.same_dataset is True
    assert pair.mcnemar_p == pytest.approx(16 / 128)
    assert pair.accuracy_diff.value == pytest.approx(0.25)
    assert comp.warnings == ()
