"""Speed metrics from the stored raw timestamps, under four sets of definitions.

The same raw data (when each request was scheduled and sent, when each streamed chunk
arrived, what it carried, the server's token counts) gives different numbers depending on
the definitions a tool uses. :data:`DEFINITIONS` recomputes a run under

* ``openbench`` - this app's definitions (the default), chosen so that none of the known
  distortions leaks in: TTFT is the first *content* chunk (reasoning-first streams are
  flagged and also measured to their first reasoning chunk), empty and usage-only chunks
  never count as tokens, TPOT excludes the first token, client-side queueing is excluded;
* ``vllm`` - ``vllm bench serve`` (``vllm/benchmarks/lib/endpoint_request_func.py``,
  backend ``openai-chat``; ``benchmarks/serve.py`` ``calculate_metrics``);
* ``guidellm`` - GuideLLM's ``GenerativeRequestStats`` (``schemas/request_stats.py``);
* ``llmperf`` - Ray LLMPerf (``openai_chat_completions_client.py``,
  ``token_benchmark_ray.py``).

Every formula is written out in ``docs/METRICS.md`` ("Speed"); tests check each on
hand-made timestamp sequences. Keep the three in step.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from openbench_desktop.core.domain import ChunkKind, SampleResult, SampleStatus

DEFINITIONS: tuple[str, ...] = ("openbench", "vllm", "guidellm", "llmperf")
PERCENTILES: tuple[int, ...] = (50, 90, 95, 99)
PERCENTILE_KEYS: tuple[str, ...] = tuple(f"p{p}" for p in PERCENTILES)
#: Bootstrap resamples and seed for the percentile intervals (deterministic output).
N_BOOT = 1000
BOOT_SEED = 20240601
CONFIDENCE = 0.95
#: Mean tokens per text chunk above this: the server sends several tokens per chunk.
MULTI_TOKEN_THRESHOLD = 1.05
DETAILS_KEY = "speed"

_NS_PER_MS = 1_000_000
_CONTENT = ChunkKind.CONTENT.value
_REASONING = ChunkKind.REASONING.value


# --------------------------------------------------------------------------------------
# Raw data of one request


@dataclass(frozen=True, slots=True)
class RequestTiming:
    """What was measured for one request (times in ns; offsets after ``sent_ns``)."""

    ok: bool
    scheduled_ns: int
    sent_ns: int
    chunk_offsets_ns: tuple[int, ...] = ()
    chunk_chars: tuple[int, ...] = ()
    chunk_kinds: str = ""
    # Chunks that had no non-empty ``choices`` list (usage-only): vLLM skips them.
    no_choice_chunks: tuple[int, ...] = ()
    end_offset_ns: int | None = None
    output_tokens: int | None = None
    input_tokens: int | None = None
    error_category: str | None = None
    step: int = 0

    @property
    def queue_ns(self) -> int:
        """Time the request waited inside the client: sent minus scheduled."""
        return max(0, self.sent_ns - self.scheduled_ns)

    @property
    def end_ns(self) -> int | None:
        return None if self.end_offset_ns is None else self.sent_ns + self.end_offset_ns


def speed_details(result: SampleResult) -> dict[str, Any] | None:
    """The speed fields a stored speed sample carries in ``extracted`` (else None)."""
    text = result.extracted
    if not text or not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    details = data.get(DETAILS_KEY) if isinstance(data, dict) else None
    return details if isinstance(details, dict) else None


def details_json(details: Mapping[str, Any]) -> str:
    return json.dumps({DETAILS_KEY: dict(details)}, separators=(",", ":"))


def timing_of(result: SampleResult) -> RequestTiming:
    """A stored sample as a :class:`RequestTiming` (non-speed samples: scheduled = sent)."""
    details = speed_details(result) or {}
    sent = result.started_ns
    scheduled = int(details.get("scheduled_ns", sent) or sent)
    return RequestTiming(
        ok=result.status is SampleStatus.OK,
        scheduled_ns=scheduled,
        sent_ns=sent,
        chunk_offsets_ns=tuple(result.chunk_offsets_ns),
        chunk_chars=tuple(result.chunk_chars),
        chunk_kinds=result.chunk_kinds,
        no_choice_chunks=tuple(details.get("no_choice_chunks") or ()),
        end_offset_ns=result.end_offset_ns,
        output_tokens=result.output_tokens if result.usage_reported else None,
        input_tokens=result.input_tokens if result.usage_reported else None,
        error_category=str(result.error_category) if result.error_category else None,
        step=int(details.get("step", 0) or 0),
    )


# --------------------------------------------------------------------------------------
# One request under one set of definitions


@dataclass(frozen=True, slots=True)
class RequestMetrics:
    """Per-request figures in ms (None where a definition leaves them undefined)."""

    ttft_ms: float | None
    itl_gaps_ms: tuple[float, ...]  # pooled across requests where the definition pools
    itl_ms: float | None  # the per-request ITL (mean of gaps, or the tool's formula)
    tpot_ms: float | None
    e2e_ms: float | None
    output_tokens_per_s: float | None  # this request's output tokens / its latency
    # openbench only: the first text chunk of any kind (reasoning counts), and whether
    # the stream sent reasoning before any content.
    ttft_first_token_ms: float | None = None
    reasoning_first: bool = False


def _ms(ns: float) -> float:
    return ns / _NS_PER_MS


def _text_indices(t: RequestTiming, kinds: str) -> list[int]:
    return [
        i
        for i, (n, kind) in enumerate(zip(t.chunk_chars, t.chunk_kinds, strict=False))
        if n > 0 and kind in kinds
    ]


def _gaps(offsets: Sequence[int]) -> tuple[float, ...]:
    return tuple(_ms(b - a) for a, b in itertools.pairwise(offsets))


def openbench_request(t: RequestTiming) -> RequestMetrics:
    """This app's definitions (see ``docs/METRICS.md``, "Speed")."""
    off = t.chunk_offsets_ns
    text = [off[i] for i in _text_indices(t, _CONTENT + _REASONING)]
    content = [off[i] for i in _text_indices(t, _CONTENT)]
    n_out = t.output_tokens
    e2e = _ms(t.end_offset_ns) if t.end_offset_ns is not None else None
    ttft = _ms(content[0]) if content else None
    first_any = _ms(text[0]) if text else None
    reasoning_first = bool(text) and (not content or text[0] < content[0])
    gaps = _gaps(text)
    itl = _ms(text[-1] - text[0]) / (len(text) - 1) if len(text) >= 2 else None
    tpot = (
        _ms(text[-1] - text[0]) / (n_out - 1)
        if text and n_out is not None and n_out >= 2
        else None
    )
    rate = n_out / (e2e / 1000) if n_out is not None and e2e else None
    return RequestMetrics(
        ttft_ms=ttft,
        itl_gaps_ms=gaps,
        itl_ms=itl,
        tpot_ms=tpot,
        e2e_ms=e2e,
        output_tokens_per_s=rate,
        ttft_first_token_ms=first_any,
        reasoning_first=reasoning_first,
    )


def vllm_request(t: RequestTiming) -> RequestMetrics:
    """``vllm bench serve`` (openai-chat): every chunk with choices is a "token".

    TTFT = first chunk with a non-empty ``choices`` list (a role-only or empty chunk
    counts); ITL = gaps between consecutive such chunks; latency = the last such chunk
    (not ``[DONE]``); TPOT = (latency - TTFT) / (output_tokens - 1) when output_tokens > 1.
    """
    skip = set(t.no_choice_chunks)
    marks = [o for i, o in enumerate(t.chunk_offsets_ns) if i not in skip]
    n_out = t.output_tokens
    if not marks:
        return RequestMetrics(None, (), None, None, None, None)
    ttft, latency = _ms(marks[0]), _ms(marks[-1])
    gaps = _gaps(marks)
    itl = sum(gaps) / len(gaps) if gaps else None
    tpot = (latency - ttft) / (n_out - 1) if n_out is not None and n_out > 1 else None
    rate = n_out / (latency / 1000) if n_out is not None and latency > 0 else None
    return RequestMetrics(ttft, gaps, itl, tpot, latency, rate)


def guidellm_request(t: RequestTiming) -> RequestMetrics:
    """GuideLLM: first/last token iteration = first/last chunk with content or reasoning.

    TTFT = first - start; ITL = (last - first) / (output_tokens - 1);
    TPOT = (last - start) / output_tokens (the first token's time included);
    latency = end of the response.
    """
    off = t.chunk_offsets_ns
    text = [off[i] for i in _text_indices(t, _CONTENT + _REASONING)]
    n_out = t.output_tokens
    e2e = _ms(t.end_offset_ns) if t.end_offset_ns is not None else None
    ttft = _ms(text[0]) if text else None
    itl = (
        _ms(text[-1] - text[0]) / (n_out - 1)
        if text and n_out is not None and n_out > 1
        else None
    )
    last = _ms(text[-1]) if text else e2e
    tpot = last / n_out if last is not None and n_out else None
    rate = n_out / (e2e / 1000) if n_out is not None and e2e else None
    return RequestMetrics(ttft, (itl,) if itl is not None else (), itl, tpot, e2e, rate)


def llmperf_request(t: RequestTiming) -> RequestMetrics:
    """LLMPerf: TTFT = first chunk with ``delta.content``; ITL includes the TTFT.

    ITL = (last content chunk - start) / (number of chunks received), where every data
    event with choices counts as a received "token" (role and finish chunks too);
    latency = end of the stream; request throughput = output_tokens / latency.
    No TPOT.
    """
    off = t.chunk_offsets_ns
    content = [off[i] for i in _text_indices(t, _CONTENT)]
    skip = set(t.no_choice_chunks)
    received = sum(1 for i in range(len(off)) if i not in skip)
    n_out = t.output_tokens
    e2e = _ms(t.end_offset_ns) if t.end_offset_ns is not None else None
    ttft = _ms(content[0]) if content else None
    itl = _ms(content[-1]) / received if content and received else None
    rate = n_out / (e2e / 1000) if n_out is not None and e2e else None
    return RequestMetrics(ttft, (itl,) if itl is not None else (), itl, None, e2e, rate)


REQUEST_FUNCTIONS = {
    "openbench": openbench_request,
    "vllm": vllm_request,
    "guidellm": guidellm_request,
    "llmperf": llmperf_request,
}


def request_metrics(t: RequestTiming, definitions: str = "openbench") -> RequestMetrics:
    try:
        return REQUEST_FUNCTIONS[definitions](t)
    except KeyError:
        raise ValueError(
            f"Unknown definitions {definitions!r}; choose one of: {', '.join(DEFINITIONS)}."
        ) from None


# --------------------------------------------------------------------------------------
# Percentiles and intervals


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p95/p99 and mean (numpy's linear interpolation, as every run summary)."""
    if not len(values):
        return {**dict.fromkeys(PERCENTILE_KEYS), "mean": None}
    arr = np.asarray(values, dtype=float)
    qs = np.percentile(arr, PERCENTILES)
    out: dict[str, float | None] = {k: float(q) for k, q in zip(PERCENTILE_KEYS, qs, strict=True)}
    out["mean"] = float(arr.mean())
    return out


def _interval(reps: np.ndarray) -> list[float] | None:
    finite = reps[np.isfinite(reps)]
    if finite.size == 0:
        return None
    alpha = (1.0 - CONFIDENCE) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return [float(low), float(high)]


def bootstrap_percentiles(
    groups: Sequence[Sequence[float]], *, n_boot: int = N_BOOT, seed: int = BOOT_SEED
) -> dict[str, list[float] | None]:
    """95% percentile-bootstrap intervals of p50/p90/p95/p99, resampling *requests*.

    ``groups[i]`` holds request *i*'s values (one for TTFT, E2E, TPOT; every gap for a
    pooled ITL). Whole requests are drawn with replacement, so the gaps of one request
    stay together (a cluster bootstrap): gaps within a stream are correlated, and
    resampling them one by one would make the interval too narrow.
    """
    sizes = np.asarray([len(g) for g in groups], dtype=np.int64)
    keep = sizes > 0
    if not keep.any():
        return dict.fromkeys(PERCENTILE_KEYS)
    groups = [g for g, k in zip(groups, keep, strict=True) if k]
    sizes = sizes[keep]
    flat = np.concatenate([np.asarray(g, dtype=float) for g in groups])
    n = len(groups)
    rng = np.random.default_rng(seed)
    if bool((sizes == 1).all()):
        # One value per request: resample rows of an index matrix, in bounded blocks.
        rows = max(1, 2_000_000 // n)
        parts = []
        for start in range(0, n_boot, rows):
            idx = rng.integers(0, n, size=(min(rows, n_boot - start), n))
            parts.append(np.percentile(flat[idx], PERCENTILES, axis=1))
        reps = np.concatenate(parts, axis=1)
    else:
        reps = np.empty((len(PERCENTILES), n_boot))
        for b in range(n_boot):
            weights = np.bincount(rng.integers(0, n, size=n), minlength=n)
            reps[:, b] = np.percentile(np.repeat(flat, np.repeat(weights, sizes)), PERCENTILES)
    return {k: _interval(reps[i]) for i, k in enumerate(PERCENTILE_KEYS)}


def distribution(
    groups: Sequence[Sequence[float]], *, with_ci: bool, n_boot: int = N_BOOT
) -> dict[str, Any]:
    """Percentiles over all values of all groups, with intervals when asked."""
    values = [v for g in groups for v in g]
    out: dict[str, Any] = percentiles(values)
    out["n"] = len(values)
    if with_ci and len(values) >= 2:
        out["ci"] = bootstrap_percentiles(groups, n_boot=n_boot)
    return out


# --------------------------------------------------------------------------------------
# A set of requests (one step, or a whole run)


@dataclass(frozen=True, slots=True)
class Slo:
    """Service-level objectives: a request is *good* when it meets every one set."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.ttft_ms, self.tpot_ms, self.e2e_ms))

    def met(self, m: RequestMetrics) -> bool:
        for limit, value in (
            (self.ttft_ms, m.ttft_ms),
            (self.tpot_ms, m.tpot_ms),
            (self.e2e_ms, m.e2e_ms),
        ):
            if limit is not None and (value is None or value > limit):
                return False
        return True

    def to_dict(self) -> dict[str, float | None]:
        return {"ttft_ms": self.ttft_ms, "tpot_ms": self.tpot_ms, "e2e_ms": self.e2e_ms}


def window_of(timings: Sequence[RequestTiming]) -> tuple[int, int] | None:
    """(start, end) ns: first request scheduled to last successful response ended."""
    ends = [t.end_ns for t in timings if t.ok and t.end_ns is not None]
    if not timings or not ends:
        return None
    return min(t.scheduled_ns for t in timings), max(e for e in ends if e is not None)


def aggregate(
    timings: Sequence[RequestTiming],
    definitions: str = "openbench",
    *,
    slo: Slo | None = None,
    with_ci: bool = False,
    window_ns: tuple[int, int] | None = None,
    n_boot: int = N_BOOT,
) -> dict[str, Any]:
    """The figures of a set of requests under ``definitions`` (see module doc).

    Latency figures are over successful requests only; failures are counted (by
    category) and never silently dropped. Throughputs divide by the window: from the
    first request *scheduled* to the last response ended (or ``window_ns``).
    """
    ok = [t for t in timings if t.ok]
    failed = [t for t in timings if not t.ok]
    per = [request_metrics(t, definitions) for t in ok]
    window = window_ns or window_of(timings)
    duration_s = (window[1] - window[0]) / 1e9 if window else None
    usage_complete = bool(ok) and all(t.output_tokens is not None for t in ok)
    out_tokens = sum(t.output_tokens or 0 for t in ok)
    in_tokens = sum(t.input_tokens or 0 for t in ok)
    text_chunks = sum(len(_text_indices(t, _CONTENT + _REASONING)) for t in ok)

    def rate(count: float) -> float | None:
        return count / duration_s if duration_s else None

    def groups(attr: str) -> list[list[float]]:
        return [[v] for v in (getattr(m, attr) for m in per) if v is not None]

    metrics: dict[str, Any] = {
        "ttft_ms": distribution(groups("ttft_ms"), with_ci=with_ci, n_boot=n_boot),
        "itl_ms": distribution(
            [list(m.itl_gaps_ms) for m in per], with_ci=with_ci, n_boot=n_boot
        ),
        "tpot_ms": distribution(groups("tpot_ms"), with_ci=with_ci, n_boot=n_boot),
        "e2e_ms": distribution(groups("e2e_ms"), with_ci=with_ci, n_boot=n_boot),
        "request_output_tokens_per_s": distribution(
            groups("output_tokens_per_s"), with_ci=False
        ),
    }
    if definitions == "openbench":
        metrics["ttft_first_token_ms"] = distribution(
            groups("ttft_first_token_ms"), with_ci=with_ci, n_boot=n_boot
        )
    result: dict[str, Any] = {
        "definitions": definitions,
        "n_requests": len(timings),
        "n_ok": len(ok),
        "n_failed": len(failed),
        "error_counts": dict(Counter(t.error_category or "other" for t in failed)),
        "duration_s": duration_s,
        "requests_per_s": rate(len(ok)),
        "output_tokens_per_s": rate(out_tokens) if usage_complete else None,
        "input_tokens_per_s": rate(in_tokens) if usage_complete else None,
        "chunks_per_s": rate(sum(len(t.chunk_offsets_ns) for t in ok)),
        "usage_complete": usage_complete,
        "mean_input_tokens": in_tokens / len(ok) if usage_complete else None,
        "mean_output_tokens": out_tokens / len(ok) if usage_complete else None,
        "metrics": metrics,
    }
    if definitions == "openbench":
        result["reasoning_first"] = sum(m.reasoning_first for m in per)
        per_chunk = out_tokens / text_chunks if usage_complete and text_chunks else None
        result["tokens_per_chunk"] = per_chunk
        result["multi_token_chunks"] = bool(per_chunk and per_chunk > MULTI_TOKEN_THRESHOLD)
        result["queue_ms"] = percentiles([t.queue_ns / _NS_PER_MS for t in timings])
        result["queue_ms"]["max"] = (
            max(t.queue_ns for t in timings) / _NS_PER_MS if timings else None
        )
    if slo is not None and slo.any:
        good = sum(slo.met(m) for m in per)
        result["slo"] = slo.to_dict()
        result["n_good"] = good
        result["goodput_requests_per_s"] = rate(good)
        result["slo_attainment"] = good / len(timings) if timings else None
    return result


def by_definition(
    timings: Sequence[RequestTiming],
    *,
    slo: Slo | None = None,
    window_ns: tuple[int, int] | None = None,
) -> dict[str, dict[str, Any]]:
    """The headline figures under every definition set, side by side (no intervals)."""
    out: dict[str, dict[str, Any]] = {}
    for name in DEFINITIONS:
        full = aggregate(timings, name, slo=slo, window_ns=window_ns)
        out[name] = {
            "ttft_ms": full["metrics"]["ttft_ms"],
            "itl_ms": full["metrics"]["itl_ms"],
            "tpot_ms": full["metrics"]["tpot_ms"],
            "e2e_ms": full["metrics"]["e2e_ms"],
            "output_tokens_per_s": full["output_tokens_per_s"],
            "requests_per_s": full["requests_per_s"],
            "goodput_requests_per_s": full.get("goodput_requests_per_s"),
        }
    return out


def recompute(
    results: Iterable[SampleResult], definitions: str = "openbench", *, slo: Slo | None = None
) -> dict[str, Any]:
    """A stored speed run's figures under ``definitions`` (e.g. for a definitions switch)."""
    timings = [timing_of(r) for r in results]
    return aggregate(timings, definitions, slo=slo, with_ci=True)
