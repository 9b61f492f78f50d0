"""Metric definitions checked against values computed by hand (see docs/METRICS.md)."""

from __future__ import annotations

import math

import pytest

from openbench_desktop.core.domain import (
    ErrorCategory,
    RunStatus,
    SampleResult,
    SampleStatus,
)
from openbench_desktop.core.engine.metrics import (
    percentiles,
    sample_timings,
    summarize,
    wilson_interval,
)

MS = 1_000_000


def test_ttft_is_first_text_chunk_not_first_chunk() -> None:
    # role-only chunk at 5 ms, text at 20/30/45 ms, usage-only chunk at 50 ms, end at 51 ms
    t = sample_timings(
        streamed=True,
        end_offset_ns=51 * MS,
        chunk_offsets_ns=[5 * MS, 20 * MS, 30 * MS, 45 * MS, 50 * MS],
        chunk_chars=[0, 3, 4, 2, 0],
        chunk_kinds="eccce",
    )
    assert t.ttft_ms == 20.0
    assert t.itl_ms == pytest.approx((45 - 20) / 2)
    assert t.e2e_ms == 51.0


def test_reasoning_chunks_count_as_generated_text() -> None:
    t = sample_timings(
        streamed=True,
        end_offset_ns=40 * MS,
        chunk_offsets_ns=[10 * MS, 20 * MS, 30 * MS],
        chunk_chars=[5, 5, 5],
        chunk_kinds="rrc",
    )
    assert t.ttft_ms == 10.0
    assert t.itl_ms == 10.0


def test_single_chunk_has_no_itl_and_non_streamed_has_no_ttft() -> None:
    one = sample_timings(
        streamed=True,
        end_offset_ns=9 * MS,
        chunk_offsets_ns=[8 * MS],
        chunk_chars=[4],
        chunk_kinds="c",
    )
    assert one.ttft_ms == 8.0 and one.itl_ms is None
    flat = sample_timings(
        streamed=False,
        end_offset_ns=9 * MS,
        chunk_offsets_ns=[9 * MS],
        chunk_chars=[4],
        chunk_kinds="c",
    )
    assert flat.ttft_ms is None and flat.itl_ms is None and flat.e2e_ms == 9.0


def test_percentiles_use_linear_interpolation() -> None:
    p = percentiles([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    # numpy linear: position (n-1)*q -> p50 = 5.5, p90 = 9.1, p99 = 9.91
    assert p["p50"] == pytest.approx(5.5)
    assert p["p90"] == pytest.approx(9.1)
    assert p["p95"] == pytest.approx(9.55)
    assert p["p99"] == pytest.approx(9.91)
    assert p["mean"] == pytest.approx(5.5)
    assert percentiles([])["p50"] is None


def test_wilson_interval_matches_closed_form() -> None:
    k, n, z = 170, 200, 1.959963984540054
    phat = k / n
    centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(centre - half, abs=1e-9)
    assert hi == pytest.approx(centre + half, abs=1e-9)
    assert wilson_interval(0, 0) is None


def _ok(index: int, score: float, start_ms: int, offsets_ms: list[int], tokens: int | None):
    offs = tuple(o * MS for o in offsets_ms)
    t = sample_timings(
        streamed=True,
        end_offset_ns=offs[-1],
        chunk_offsets_ns=offs,
        chunk_chars=(1,) * len(offs),
        chunk_kinds="c" * len(offs),
    )
    return SampleResult(
        index=index,
        status=SampleStatus.OK,
        score=score,
        started_ns=start_ms * MS,
        end_offset_ns=offs[-1],
        chunk_offsets_ns=offs,
        chunk_chars=(1,) * len(offs),
        chunk_kinds="c" * len(offs),
        output_tokens=tokens,
        input_tokens=10,
        usage_reported=tokens is not None,
        ttft_ms=t.ttft_ms,
        itl_ms=t.itl_ms,
        e2e_ms=t.e2e_ms,
    )


def test_summary_counts_accuracy_throughput_and_pooled_itl() -> None:
    results = [
        _ok(0, 1.0, start_ms=1000, offsets_ms=[10, 20, 30], tokens=3),
        _ok(1, 0.0, start_ms=1100, offsets_ms=[50, 60], tokens=2),
        _ok(2, 1.0, start_ms=1200, offsets_ms=[20, 40, 60, 80], tokens=4),
        SampleResult(index=3, status=SampleStatus.FAILED, error_category=ErrorCategory.TIMEOUT),
    ]
    s = summarize(
        run_id="r",
        status=RunStatus.COMPLETED,
        benchmark="gsm8k",
        model="m",
        n_samples=4,
        results=results,
    )
    assert (s.n_ok, s.n_failed, s.n_correct) == (3, 1, 2)
    assert s.accuracy == pytest.approx(2 / 3)
    assert s.accuracy_all == pytest.approx(2 / 4)
    assert s.error_counts == {"timeout": 1}
    # gaps pooled: [10, 10] + [10] + [20, 20, 20] -> p50 = 15
    assert s.itl_ms["p50"] == pytest.approx(15.0)
    assert s.ttft_ms["p50"] == pytest.approx(20.0)  # ttfts 10, 50, 20
    # window: first start 1000 ms, last end 1200+80 = 1280 ms; 9 tokens / 0.28 s
    assert s.output_tokens_per_s == pytest.approx(9 / 0.28)
    assert s.usage_complete and s.output_tokens == 9 and s.input_tokens == 30


def test_missing_usage_is_reported_not_guessed() -> None:
    results = [_ok(0, 1.0, 0, [10, 20], tokens=2), _ok(1, 1.0, 5, [10, 20], tokens=None)]
    s = summarize(
        run_id="r",
        status=RunStatus.COMPLETED,
        benchmark="gsm8k",
        model="m",
        n_samples=2,
        results=results,
    )
    assert s.usage_complete is False
    assert s.output_tokens is None and s.output_tokens_per_s is None
