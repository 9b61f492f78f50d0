"""Short, telling names for runs in legends, tables and exports.

A run the user named is shown by its name. Otherwise the model alone says too little once
speech and load-test runs are compared (two PocketSphinx runs differ by their normalizer,
two load tests by their profile), so the label adds what sets such runs apart. Labels that
are still equal within one comparison get the run's short id (:func:`distinct_labels`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from openbench_desktop.core.domain import RunSpec

SHORT_ID = 6


def _speed_profile(options: Mapping[str, Any], concurrency: int) -> str:
    profile = str(options.get("profile") or "concurrency")
    rate = options.get("rate")
    if profile == "concurrency":
        return f"concurrency {concurrency}"
    if profile in ("rate", "poisson") and rate:
        return f"{'Poisson ' if profile == 'poisson' else ''}{float(rate):g} req/s"
    if profile == "sweep":
        return f"sweep ×{options.get('steps') or 8}"
    return profile


def spec_label(spec: RunSpec) -> str:
    """The name of the run, or its model with what distinguishes runs of its kind."""
    if spec.name:
        return spec.name
    benchmark = spec.benchmark.strip().lower()
    options = spec.options or {}
    model = spec.model or spec.provider
    if benchmark == "asr":
        return f"{model} · {options.get('normalizer') or 'whisper'}"
    if benchmark == "tts":
        return f"{model} → {options.get('asr_provider') or 'pocketsphinx'}"
    if benchmark == "speed":
        return f"{model} · {_speed_profile(options, spec.concurrency)}"
    return model


def distinct_labels(labels: Sequence[str], run_ids: Sequence[str]) -> list[str]:
    """``labels`` with the short run id added to each that would otherwise repeat."""
    counts = Counter(labels)
    return [
        f"{label} ·{run_id[:SHORT_ID]}" if counts[label] > 1 else label
        for label, run_id in zip(labels, run_ids, strict=True)
    ]
