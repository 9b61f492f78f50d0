"""Per-sample timings and run summaries, computed from the stored raw chunk times.

Every formula here is written out in ``docs/METRICS.md``; tests check them against
hand-computed values. Keep the two in step.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from openbench_desktop.core.domain import (
    ChunkKind,
    RunStatus,
    RunSummary,
    SampleResult,
    SampleStatus,
)

PERCENTILES: tuple[int, ...] = (50, 90, 95, 99)
_TEXT_KINDS = (ChunkKind.CONTENT.value, ChunkKind.REASONING.value)
_NS_PER_MS = 1_000_000


def text_chunk_offsets(
    offsets_ns: Sequence[int], chars: Sequence[int], kinds: str
) -> list[int]:
    """Offsets of the chunks that carried generated text (content or reasoning)."""
    return [
        off
        for off, n, kind in zip(offsets_ns, chars, kinds, strict=False)
        if n > 0 and kind in _TEXT_KINDS
    ]


@dataclass(frozen=True, slots=True)
class SampleTimings:
    ttft_ms: float | None
    itl_ms: float | None
    e2e_ms: float | None


def sample_timings(
    *,
    streamed: bool,
    end_offset_ns: int | None,
    chunk_offsets_ns: Sequence[int],
    chunk_chars: Sequence[int],
    chunk_kinds: str,
) -> SampleTimings:
    """TTFT, mean ITL and end-to-end latency of one request (milliseconds).

    - TTFT: arrival of the first chunk carrying generated text (content or reasoning).
    - ITL: mean gap between consecutive text-carrying chunks, i.e.
      ``(last - first) / (n_text_chunks - 1)``; None with fewer than two such chunks.
    - E2E: arrival of the end of the response.
    A non-streamed reply has no TTFT or ITL.
    """
    e2e = end_offset_ns / _NS_PER_MS if end_offset_ns is not None else None
    if not streamed:
        return SampleTimings(None, None, e2e)
    text = text_chunk_offsets(chunk_offsets_ns, chunk_chars, chunk_kinds)
    ttft = text[0] / _NS_PER_MS if text else None
    itl = (text[-1] - text[0]) / (len(text) - 1) / _NS_PER_MS if len(text) >= 2 else None
    return SampleTimings(ttft, itl, e2e)


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p95/p99 and mean, with numpy's default linear interpolation."""
    keys = [f"p{p}" for p in PERCENTILES]
    if not values:
        return {**dict.fromkeys(keys), "mean": None}
    import numpy as np

    arr = np.asarray(values, dtype=float)
    qs = np.percentile(arr, PERCENTILES)
    out: dict[str, float | None] = {k: float(q) for k, q in zip(keys, qs, strict=True)}
    out["mean"] = float(arr.mean())
    return out


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion (scipy's implementation)."""
    if n <= 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


@dataclass
class _Accumulator:
    n_ok: int = 0
    n_failed: int = 0
    n_correct: int = 0
    ttft: list[float] = field(default_factory=list)
    e2e: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    usage_complete: bool = True
    first_start_ns: int | None = None
    last_end_ns: int | None = None
    errors: Counter[str] = field(default_factory=Counter)


def summarize(
    *,
    run_id: str,
    status: RunStatus,
    benchmark: str,
    model: str,
    n_samples: int,
    results: Iterable[SampleResult],
    duration_s: float | None = None,
    message: str | None = None,
) -> RunSummary:
    """Summarise stored results. ``n_samples`` is the number of samples the run covers.

    Latency distributions use successful samples only. ITL percentiles pool every gap
    between consecutive text-carrying chunks of every request (vLLM's ITL).
    ``output_tokens_per_s`` is the sum of server-reported output tokens divided by the
    active window (first request sent to last response ended); None when any successful
    sample lacks a usage report (it would understate throughput).
    """
    acc = _Accumulator()
    for r in results:
        if r.status is not SampleStatus.OK:
            acc.n_failed += 1
            acc.errors[str(r.error_category or "other")] += 1
            continue
        acc.n_ok += 1
        if r.correct:
            acc.n_correct += 1
        if r.ttft_ms is not None:
            acc.ttft.append(r.ttft_ms)
        if r.e2e_ms is not None:
            acc.e2e.append(r.e2e_ms)
        if r.streamed:
            text = text_chunk_offsets(r.chunk_offsets_ns, r.chunk_chars, r.chunk_kinds)
            acc.gaps.extend((b - a) / _NS_PER_MS for a, b in itertools.pairwise(text))
        if r.usage_reported and r.output_tokens is not None:
            acc.output_tokens += r.output_tokens
            acc.input_tokens += r.input_tokens or 0
        else:
            acc.usage_complete = False
        if r.started_ns:
            start = r.started_ns
            end = start + (r.end_offset_ns or 0)
            acc.first_start_ns = (
                start if acc.first_start_ns is None else min(acc.first_start_ns, start)
            )
            acc.last_end_ns = end if acc.last_end_ns is None else max(acc.last_end_ns, end)

    usage_complete = acc.usage_complete and acc.n_ok > 0
    throughput = None
    if usage_complete and acc.first_start_ns is not None and acc.last_end_ns is not None:
        window_s = (acc.last_end_ns - acc.first_start_ns) / 1e9
        if window_s > 0:
            throughput = acc.output_tokens / window_s

    attempted = acc.n_ok + acc.n_failed
    return RunSummary(
        run_id=run_id,
        status=status,
        benchmark=benchmark,
        model=model,
        n_samples=n_samples,
        n_ok=acc.n_ok,
        n_failed=acc.n_failed,
        n_correct=acc.n_correct,
        accuracy=acc.n_correct / acc.n_ok if acc.n_ok else None,
        accuracy_ci=wilson_interval(acc.n_correct, acc.n_ok),
        accuracy_all=acc.n_correct / attempted if attempted else None,
        ttft_ms=percentiles(acc.ttft),
        itl_ms=percentiles(acc.gaps),
        e2e_ms=percentiles(acc.e2e),
        output_tokens_per_s=throughput,
        input_tokens=acc.input_tokens if usage_complete else None,
        output_tokens=acc.output_tokens if usage_complete else None,
        usage_complete=usage_complete,
        duration_s=duration_s,
        error_counts=dict(acc.errors),
        message=message,
    )
