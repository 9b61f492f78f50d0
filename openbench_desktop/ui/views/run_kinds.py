"""The three kinds of run the views tell apart: quality (chat), speed (load test), speech.

A run's kind follows from its benchmark name alone, so a view can decide how to show a
stored run from its record without loading samples.
"""

from __future__ import annotations

from openbench_desktop.core.benchmarks.registry import BENCHMARKS

KIND_QUALITY, KIND_SPEED, KIND_SPEECH = "quality", "speed", "speech"

KIND_LABELS = {
    KIND_QUALITY: "Quality (chat model)",
    KIND_SPEED: "Speed (load test)",
    KIND_SPEECH: "Speech (ASR / TTS)",
}
KIND_TIPS = {
    KIND_QUALITY: "Accuracy of a chat model on GSM8K, multiple choice or your own data",
    KIND_SPEED: "TTFT, inter-token latency and throughput of an endpoint under load",
    KIND_SPEECH: "Word error rate and speed of a local or hosted speech model",
}
#: The title of the run's own tab in Run detail.
KIND_TAB_TITLES = {KIND_SPEED: "Load test", KIND_SPEECH: "Utterances"}


def run_kind(benchmark: str | None) -> str:
    """``quality``, ``speed`` or ``speech`` for a run of ``benchmark``."""
    info = BENCHMARKS.get((benchmark or "").strip().lower())
    if info is not None and info.kind == "speed":
        return KIND_SPEED
    if info is not None and info.kind == "audio":
        return KIND_SPEECH
    return KIND_QUALITY
