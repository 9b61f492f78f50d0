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
    kind: str  # "quality" (chat models), "audio" (speech models), "speed" (load tests)
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
    # Speech benchmarks run through openbench_desktop.core.audio.runner, not get_benchmark.
    "asr": BenchmarkInfo(
        "asr",
        "Speech recognition (WER, RTFx)",
        "Audio files with reference transcripts (a folder with transcripts.tsv/csv/jsonl, "
        "Hugging Face audiofolder metadata.csv, or LibriSpeech *.trans.txt), or the bundled "
        "10-clip demo; scored by word error rate after a Whisper-style normalizer.",
        "audio",
        needs_dataset=False,
        builtin_dataset=True,
    ),
    "tts": BenchmarkInfo(
        "tts",
        "Speech synthesis (round-trip WER, health)",
        "Texts (a .txt file, one per line, or a speech dataset's transcripts, or the demo "
        "sentences) synthesised, checked for clipping, silence and duration, then "
        "recognised again to score intelligibility by WER.",
        "audio",
        needs_dataset=False,
        builtin_dataset=True,
    ),
    # Speed runs go through openbench_desktop.core.speed.runner, not get_benchmark.
    "speed": BenchmarkInfo(
        "speed",
        "Speed (latency and throughput under load)",
        "Synthetic prompts of a chosen length (or a file's prompts) sent under a load "
        "profile (synchronous, concurrency, constant rate, Poisson, sweep); TTFT, ITL, "
        "TPOT, end-to-end latency and throughput with bootstrap intervals, under this "
        "app's, vLLM's, GuideLLM's and LLMPerf's definitions.",
        "speed",
        needs_dataset=False,
        builtin_dataset=True,
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
    if key in ("asr", "tts"):
        raise ConfigError(
            f"'{key}' is a speech benchmark: it runs with a speech provider (pocketsphinx, "
            "faster-whisper, espeak, openai-audio), not a chat model; resuming or retrying "
            "a speech run is not supported yet."
        )
    if key == "speed":
        raise ConfigError(
            "'speed' measures latency and throughput, not answers: it runs through the speed "
            "runner (openbench-desktop run --benchmark speed); resuming or retrying a speed "
            "run is not supported (start a new one)."
        )
    raise ConfigError(f"Unknown benchmark '{name}'. Choose one of: {', '.join(BENCHMARKS)}.")
