"""Extra export columns of speech runs, so anyone can recompute the corpus WER from a file.

``core/export/samples.py`` appends these to every row of an ``asr`` or ``tts`` run. The
corpus WER is ``(Σ substitutions + Σ deletions + Σ insertions) / Σ ref_words`` over the rows
with ``status == "ok"``, or ``jiwer.wer`` over their ``reference_normalized`` and
``hypothesis_normalized`` columns — the same number.
"""

from __future__ import annotations

from typing import Any

from openbench_desktop.core.audio import AUDIO_BENCHMARKS
from openbench_desktop.core.domain import SampleResult

__all__ = [
    "AUDIO_EXPORT_COLUMNS",
    "AUDIO_EXPORT_FLOATS",
    "AUDIO_EXPORT_INTS",
    "AUDIO_EXPORT_TEXTS",
    "audio_export_fields",
    "is_audio_run",
]

AUDIO_EXPORT_COLUMNS: tuple[str, ...] = (
    "reference",
    "hypothesis",
    "reference_normalized",
    "hypothesis_normalized",
    "normalizer",
    "hits",
    "substitutions",
    "deletions",
    "insertions",
    "ref_words",
    "wer",
    "ref_chars",
    "char_errors",
    "cer",
    "audio_s",
    "processing_s",
    "synthesis_s",
    "first_audio_s",
    "health_issues",
    "audio_path",
    "failure",
)
AUDIO_EXPORT_FLOATS = frozenset(
    {"wer", "cer", "audio_s", "processing_s", "synthesis_s", "first_audio_s"}
)
#: Read back as "" (not missing) from an empty CSV cell: a model may hear nothing.
AUDIO_EXPORT_TEXTS = frozenset(
    {"reference", "hypothesis", "reference_normalized", "hypothesis_normalized"}
)
AUDIO_EXPORT_INTS = frozenset(
    {"hits", "substitutions", "deletions", "insertions", "ref_words", "ref_chars", "char_errors"}
)


def is_audio_run(benchmark: str | None) -> bool:
    return (benchmark or "").strip().lower() in AUDIO_BENCHMARKS


def audio_export_fields(result: SampleResult) -> dict[str, Any]:
    """The speech columns of one sample (None where a failed sample has no value)."""
    from openbench_desktop.core.audio.runner import audio_details

    d = audio_details(result) or {}
    char_errors = None
    if "char_substitutions" in d:
        char_errors = d["char_substitutions"] + d["char_deletions"] + d["char_insertions"]
    issues = d.get("issues")
    return {
        "reference": result.expected,
        "hypothesis": result.output if result.ok else None,
        "reference_normalized": d.get("reference_normalized"),
        "hypothesis_normalized": d.get("hypothesis_normalized"),
        "normalizer": d.get("normalizer"),
        "hits": d.get("hits"),
        "substitutions": d.get("substitutions"),
        "deletions": d.get("deletions"),
        "insertions": d.get("insertions"),
        "ref_words": d.get("ref_words"),
        "wer": d.get("wer"),
        "ref_chars": d.get("ref_chars"),
        "char_errors": char_errors,
        "cer": d.get("cer"),
        "audio_s": d.get("audio_s"),
        "processing_s": d.get("processing_s"),
        "synthesis_s": d.get("synthesis_s"),
        "first_audio_s": d.get("first_audio_s"),
        "health_issues": " ".join(issues) if isinstance(issues, list) else None,
        "audio_path": d.get("audio_path"),
        "failure": d.get("failure"),
    }
