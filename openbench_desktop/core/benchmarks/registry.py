"""The benchmarks the app offers, by name (CLI ``--benchmark`` and the GUI's list)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from openbench_desktop.core.benchmarks.base import Benchmark
from openbench_desktop.core.errors import ConfigError

__all__ = ["BENCHMARKS", "BenchmarkInfo", "get_benchmark"]


@dataclass(frozen=True, slots=True)
class BenchmarkInfo:
    name: str
    title: str
    description: str
    kind: str  # "quality" (chat models); speed and audio kinds arrive with their issues
    needs_dataset: bool
    builtin_dataset: bool = False


BENCHMARKS: dict[str, BenchmarkInfo] = {
    "gsm8k": BenchmarkInfo(
        "gsm8k",
        "GSM8K (grade-school math)",
        "Word problems; the final number must match exactly. Published file "
        "(test.jsonl), Hub id openai/gsm8k, or the built-in 20-problem demo.",
        "quality",
        needs_dataset=False,
        builtin_dataset=True,
    ),
    "mmlu": BenchmarkInfo(
        "mmlu",
        "MMLU-style multiple choice",
        "question + options A-D (original headerless CSV, or question/choices/answer "
        "JSONL or Parquet, e.g. cais/mmlu); the answer letter is extracted from the reply.",
        "quality",
        needs_dataset=True,
    ),
    "custom": BenchmarkInfo(
        "custom",
        "Custom dataset",
        "Your JSONL/CSV/Parquet with prompt and expected fields, scored by exact, "
        "includes, regex or numeric match.",
        "quality",
        needs_dataset=True,
    ),
}


def get_benchmark(
    name: str,
    *,
    scorer: str | None = None,
    scorer_arg: str | None = None,
    hub_cache: Path | None = None,
) -> Benchmark:
    """A benchmark instance; raises ConfigError naming the choices for an unknown name."""
    key = (name or "").strip().lower()
    if key == "gsm8k":
        from openbench_desktop.core.benchmarks.gsm8k import Gsm8kBenchmark

        return Gsm8kBenchmark(hub_cache=hub_cache)
    if key in ("mmlu", "multiple_choice", "mc"):
        from openbench_desktop.core.benchmarks.multiple_choice import MultipleChoiceBenchmark

        return MultipleChoiceBenchmark(hub_cache=hub_cache)
    if key == "custom":
        from openbench_desktop.core.benchmarks.custom import CustomBenchmark

        return CustomBenchmark(scorer=scorer or "exact", scorer_arg=scorer_arg, hub_cache=hub_cache)
    raise ConfigError(f"Unknown benchmark '{name}'. Choose one of: {', '.join(BENCHMARKS)}.")
