"""A stored speed run shaped for the views: steps, definitions side by side, curves, CDFs.

Qt-free helpers for the Run detail speed panel and the Compare speed section. Nothing here
computes a metric of its own: figures come from the run summary's ``speed`` mapping
(:func:`~.runner.speed_summary`) or are recomputed from the stored raw timestamps with
:mod:`.metrics` (``by_definition``, ``aggregate``, ``request_metrics``). The functions
are plain and may take a while on big runs (every request parsed, four definition sets):
the views call them off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openbench_desktop.core.labels import spec_label
from openbench_desktop.core.speed import metrics as sm

__all__ = [
    "CDF_METRICS",
    "CURVE_X",
    "DEFINITION_NOTES",
    "DEFINITION_ROWS",
    "LATENCY_METRICS",
    "STEP_CHOICES",
    "CurvePoint",
    "DefinitionsTable",
    "StoredSpeedRun",
    "cdf",
    "curve_points",
    "definitions_table",
    "load_speed_run",
    "pick_steps",
    "timings_of_steps",
]

#: Latency figures of a step, by summary key, with their display names.
LATENCY_METRICS: dict[str, str] = {
    "ttft_ms": "TTFT",
    "itl_ms": "ITL",
    "tpot_ms": "TPOT",
    "e2e_ms": "E2E",
}
#: What a CDF can show: per-request values (ITL: a request's mean gap).
CDF_METRICS: dict[str, str] = dict(LATENCY_METRICS)
#: Throughput axes of a throughput-vs-latency curve.
CURVE_X: dict[str, str] = {
    "output_tokens_per_s": "Output tokens/s",
    "requests_per_s": "Requests/s",
}
#: Which steps a CDF covers, for runs whose steps differ (a sweep against a single step).
STEP_CHOICES: dict[str, str] = {
    "highest": "Highest-load step",
    "lowest": "Lowest-load step",
    "all": "All steps",
}

#: One line per definition set: how it differs from the others (docs/METRICS.md, "Speed").
DEFINITION_NOTES: dict[str, str] = {
    "openbench": "TTFT = first content token; empty and usage-only chunks never count; "
    "TPOT excludes the first token; client queueing excluded.",
    "vllm": "TTFT = first chunk with choices, even an empty role chunk; ITL = gaps between "
    "all such chunks; E2E = last chunk, not [DONE].",
    "guidellm": "TTFT = first content or reasoning token; ITL per request = (last − first) "
    "÷ (N − 1); TPOT includes the first token (last token ÷ N).",
    "llmperf": "ITL includes the TTFT: last content chunk ÷ chunks received; no TPOT.",
}

#: Rows of the definitions table: (key, label, unit). Latency keys are "<metric>:<pct>".
DEFINITION_ROWS: tuple[tuple[str, str, str], ...] = (
    ("ttft_ms:p50", "TTFT p50", "ms"),
    ("ttft_ms:p99", "TTFT p99", "ms"),
    ("itl_ms:p50", "ITL p50", "ms"),
    ("itl_ms:p99", "ITL p99", "ms"),
    ("tpot_ms:p50", "TPOT p50", "ms"),
    ("tpot_ms:p99", "TPOT p99", "ms"),
    ("e2e_ms:p50", "E2E p50", "ms"),
    ("e2e_ms:p99", "E2E p99", "ms"),
    ("output_tokens_per_s", "Output tokens/s", "tok/s"),
    ("requests_per_s", "Requests/s", "req/s"),
    ("goodput_requests_per_s", "Goodput", "req/s"),
)


@dataclass(frozen=True, slots=True)
class StoredSpeedRun:
    """A speed run as read from the store: its summary's ``speed`` mapping and timings."""

    run_id: str
    label: str
    model: str
    status: str
    message: str | None
    speed: Mapping[str, Any]  # empty while a run has no summary yet
    timings: tuple[sm.RequestTiming, ...]
    error_counts: Mapping[str, int]

    @property
    def steps(self) -> list[Mapping[str, Any]]:
        """Steps in order of offered load (as the summary lists them)."""
        return list(self.speed.get("steps") or ())

    @property
    def slo(self) -> sm.Slo | None:
        raw = self.speed.get("slo") or {}
        slo = sm.Slo(raw.get("ttft_ms"), raw.get("tpot_ms"), raw.get("e2e_ms"))
        return slo if slo.any else None

    @property
    def definitions(self) -> str:
        return str(self.speed.get("definitions") or "openbench")


def load_speed_run(store: Any, run_id: str) -> StoredSpeedRun:
    """Read a run's record and every request's timing (call it on the database thread)."""
    record = store.get_run(run_id)
    summary = record.summary
    speed = dict(summary.speed or {}) if summary is not None else {}
    timings = tuple(sm.timing_of(r) for r in store.iter_results(run_id))
    errors = dict(summary.error_counts) if summary is not None else {}
    if not errors:
        errors = dict(sm.aggregate(timings)["error_counts"]) if timings else {}
    return StoredSpeedRun(
        run_id=record.run_id,
        label=spec_label(record.spec),
        model=record.model,
        status=str(record.status.value),
        message=record.message,
        speed=speed,
        timings=timings,
        error_counts=errors,
    )


def timings_of_steps(
    timings: Iterable[sm.RequestTiming], steps: Sequence[int] | None
) -> list[sm.RequestTiming]:
    """The requests of the given steps (execution indices); ``None``: all of them."""
    if steps is None:
        return list(timings)
    wanted = set(steps)
    return [t for t in timings if t.step in wanted]


def pick_steps(speed: Mapping[str, Any], which: str) -> list[int] | None:
    """Step indices for a :data:`STEP_CHOICES` key (``None``: every step)."""
    steps = list(speed.get("steps") or ())
    if which == "all" or not steps:
        return None
    if which == "highest":
        return [int(steps[-1]["step"])]
    if which == "lowest":
        return [int(steps[0]["step"])]
    raise ValueError(f"unknown step choice {which!r}")


# --------------------------------------------------------------------------------------
# Definitions side by side


@dataclass(frozen=True, slots=True)
class DefinitionsTable:
    """The same requests under every definition set (``core.speed.metrics.by_definition``).

    ``values[row_key][definitions]``: a figure of :data:`DEFINITION_ROWS` (None where a
    definition leaves it undefined, e.g. LLMPerf's TPOT). ``ttft_first_token`` is the
    openbench TTFT to the first token of any kind (reasoning included), shown beside the
    content TTFT when ``reasoning_first`` streams were seen.
    """

    values: Mapping[str, Mapping[str, float | None]]
    n_requests: int
    n_ok: int
    reasoning_first: int
    ttft_first_token: Mapping[str, float | None]
    has_slo: bool


def definitions_table(
    timings: Sequence[sm.RequestTiming], slo: sm.Slo | None = None
) -> DefinitionsTable:
    """Recompute ``timings`` under all four definition sets, one row per figure."""
    side = sm.by_definition(timings, slo=slo)
    values: dict[str, dict[str, float | None]] = {}
    for key, _label, _unit in DEFINITION_ROWS:
        row: dict[str, float | None] = {}
        for name in sm.DEFINITIONS:
            figures = side[name]
            if ":" in key:
                metric, pct = key.split(":")
                row[name] = figures[metric].get(pct)
            else:
                row[name] = figures.get(key)
        values[key] = row
    ours = sm.aggregate(timings, "openbench", slo=slo)
    first = ours["metrics"]["ttft_first_token_ms"]
    return DefinitionsTable(
        values=values,
        n_requests=ours["n_requests"],
        n_ok=ours["n_ok"],
        reasoning_first=int(ours.get("reasoning_first") or 0),
        ttft_first_token={k: first.get(k) for k in sm.PERCENTILE_KEYS},
        has_slo=slo is not None and slo.any,
    )


# --------------------------------------------------------------------------------------
# Throughput against latency, latency CDFs


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One step of a run on a throughput-vs-latency curve."""

    step: int
    label: str
    x: float
    y: float
    y_low: float | None
    y_high: float | None
    offered_rate: float | None
    client_limited: bool


def curve_points(
    speed: Mapping[str, Any], x_key: str, metric: str, pct: str
) -> list[CurvePoint]:
    """The run's steps in order of offered load as (achieved throughput, latency) points.

    Values are the stored summary's (the run's chosen definitions, with the bootstrap
    interval of that percentile). Steps without either figure are left out.
    """
    if x_key not in CURVE_X:
        raise ValueError(f"unknown throughput axis {x_key!r}")
    if metric not in LATENCY_METRICS:
        raise ValueError(f"unknown latency metric {metric!r}")
    points = []
    for step in speed.get("steps") or ():
        x = step.get(x_key)
        dist = (step.get("metrics") or {}).get(metric) or {}
        y = dist.get(pct)
        if x is None or y is None:
            continue
        ci = (dist.get("ci") or {}).get(pct)
        low, high = (ci[0], ci[1]) if ci else (None, None)
        points.append(
            CurvePoint(
                step=int(step["step"]),
                label=str(step.get("label") or step["step"]),
                x=float(x),
                y=float(y),
                y_low=low,
                y_high=high,
                offered_rate=step.get("offered_rate"),
                client_limited=bool(step.get("client_limited")),
            )
        )
    return points


def cdf(
    timings: Iterable[sm.RequestTiming], metric: str, definitions: str = "openbench"
) -> tuple[list[float], list[float]]:
    """The empirical CDF of a per-request latency: sorted values and ``(i + 1) / n``.

    One point per successful request that has the figure (TTFT and E2E: every successful
    request; ITL and TPOT need two tokens). ITL is the request's own ITL (its mean gap
    under openbench), so every request weighs the same.
    """
    if metric not in CDF_METRICS:
        raise ValueError(f"unknown latency metric {metric!r}")
    values = sorted(
        v
        for t in timings
        if t.ok
        for v in (getattr(sm.request_metrics(t, definitions), metric),)
        if v is not None
    )
    n = len(values)
    return values, [(i + 1) / n for i in range(n)]
