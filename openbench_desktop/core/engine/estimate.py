"""What a run will cost and how long it will take, estimated before it starts.

Plain arithmetic, no Qt and no network: the run setup view (and anything else) calls
:func:`estimate_run` with the prompt lengths of the samples it is about to send.

The figures are deliberately rough and say where they come from:

* **Input tokens** are approximated as ``ceil(characters / 4)`` per prompt (the usual
  rule of thumb for English text with BPE tokenizers; real counts vary by model and
  language, often by ±30 %). No tokenizer is loaded: the estimate must be instant.
* **Output tokens** are an upper bound: every request is assumed to use ``max_tokens``.
  Most replies stop earlier, so the cost shown is a ceiling.
* **Cost** uses :meth:`Settings.price_for <openbench_desktop.core.config.settings.
  Settings.price_for>` (USD per million tokens); ``None`` when the model has no price.
* **Duration** is ``ceil(requests / concurrency)`` waves of one request each. A request
  takes the median end-to-end latency of the most recent completed run of the same model
  on the same endpoint when there is one (:func:`recent_median_latency_s`); otherwise
  ``overhead + max_tokens / tokens_per_s`` with a default per-request throughput.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from openbench_desktop.core.config.settings import Price, estimate_cost_usd
from openbench_desktop.core.domain import RunStatus, Sample

if TYPE_CHECKING:
    from openbench_desktop.core.storage import Store

__all__ = [
    "CHARS_PER_TOKEN",
    "DEFAULT_REQUEST_OVERHEAD_S",
    "DEFAULT_TOKENS_PER_S",
    "Estimate",
    "LatencyHint",
    "approx_tokens",
    "estimate_run",
    "format_duration",
    "prompt_chars",
    "recent_median_latency_s",
]

CHARS_PER_TOKEN = 4
#: Assumed generation speed of one request when no earlier run tells us better. A
#: mid-range hosted model streams 30-100 tokens/s; 50 keeps the guess in the middle.
DEFAULT_TOKENS_PER_S = 50.0
#: Connection, queueing and prompt processing before the first token (seconds).
DEFAULT_REQUEST_OVERHEAD_S = 0.5


def approx_tokens(chars: int) -> int:
    """Tokens in ``chars`` characters of text, approximated as chars / 4 (rounded up)."""
    return math.ceil(max(0, chars) / CHARS_PER_TOKEN)


def prompt_chars(samples: Iterable[Sample], system_prompt: str | None = None) -> list[int]:
    """The characters each sample sends (every message, plus a system prompt it lacks)."""
    extra = len(system_prompt) if system_prompt else 0
    out = []
    for sample in samples:
        n = sum(len(m.content) for m in sample.messages)
        if extra and not any(m.role == "system" for m in sample.messages):
            n += extra
        out.append(n)
    return out


@dataclass(frozen=True, slots=True)
class LatencyHint:
    """The median end-to-end latency of an earlier run, used to predict the next one."""

    seconds: float
    run_id: str


@dataclass(frozen=True, slots=True)
class Estimate:
    n_requests: int
    input_tokens: int  # approximate (chars / 4)
    output_tokens: int  # upper bound (max_tokens per request)
    cost_usd: float | None  # None: no price for the model
    duration_s: float
    per_request_s: float
    basis: str  # where the per-request time came from, for the person reading it
    price: Price | None


def estimate_run(
    chars_per_prompt: Sequence[int],
    *,
    max_tokens: int,
    concurrency: int,
    price: Price | None,
    latency: LatencyHint | None = None,
    tokens_per_s: float = DEFAULT_TOKENS_PER_S,
    overhead_s: float = DEFAULT_REQUEST_OVERHEAD_S,
) -> Estimate:
    """Tokens, cost and duration of sending each prompt once (see the module docstring)."""
    n = len(chars_per_prompt)
    input_tokens = sum(approx_tokens(c) for c in chars_per_prompt)
    output_tokens = n * max(0, max_tokens)
    if latency is not None:
        per_request = latency.seconds
        basis = f"median latency of the last run of this model ({latency.run_id[:8]})"
    else:
        per_request = overhead_s + max(0, max_tokens) / max(tokens_per_s, 1e-9)
        basis = f"assuming {tokens_per_s:g} tokens/s per request"
    waves = math.ceil(n / max(1, concurrency)) if n else 0
    return Estimate(
        n_requests=n,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=estimate_cost_usd(price, input_tokens, output_tokens),
        duration_s=waves * per_request,
        per_request_s=per_request,
        basis=basis,
        price=price,
    )


def recent_median_latency_s(
    store: Store, model: str, base_url: str, *, look_back: int = 20
) -> LatencyHint | None:
    """The p50 end-to-end latency of the newest completed run of ``model`` at ``base_url``.

    Reads only run rows (their stored summaries), never samples. None when no such run
    has a latency.
    """
    if not model:
        return None
    records = store.list_runs(limit=look_back, model=model, status=RunStatus.COMPLETED)
    for record in records:  # newest first
        if record.base_url.rstrip("/") != base_url.rstrip("/") or record.summary is None:
            continue
        p50 = record.summary.e2e_ms.get("p50")
        if p50 is not None and p50 > 0:
            return LatencyHint(seconds=float(p50) / 1000.0, run_id=record.run_id)
    return None


def format_duration(seconds: float) -> str:
    """``"45 s"``, ``"3 min 20 s"``, ``"2 h 05 min"``: rounded for a person."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        minutes, rest = divmod(s, 60)
        return f"{minutes} min {rest:02d} s" if minutes < 10 else f"{minutes} min"
    hours, rest = divmod(s, 3600)
    return f"{hours} h {rest // 60:02d} min"
