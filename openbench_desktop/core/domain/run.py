"""A run: what was asked (spec), with what (manifest), and what came out (summary)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Any


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


def to_plain(value: Any) -> Any:
    """Dataclasses, mappings, tuples and enums as JSON-ready dicts, lists and values.

    Not ``dataclasses.asdict``: its deep copy fails on the read-only ``MappingProxyType``
    mappings the domain types hold.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    return value


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the process running it died (found at next start)

    @property
    def terminal(self) -> bool:
        return self not in (RunStatus.PENDING, RunStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class DatasetRef:
    """Where the samples come from.

    Exactly one of ``path`` (a local file) or ``hub_id`` (a Hugging Face dataset id such as
    ``openai/gsm8k``) is set, or neither for a benchmark's built-in data.
    """

    path: str | None = None
    hub_id: str | None = None
    hub_config: str | None = None
    split: str | None = None
    format: str | None = None  # "jsonl" | "csv" | "parquet"; None: from the file suffix
    # Custom datasets: which columns hold the prompt and the expected answer.
    prompt_field: str | None = None
    expected_field: str | None = None

    def describe(self) -> str:
        if self.path:
            return self.path
        if self.hub_id:
            parts = [self.hub_id]
            if self.hub_config:
                parts.append(self.hub_config)
            if self.split:
                parts.append(self.split)
            return ":".join(parts)
        return "built-in"


@dataclass(frozen=True, slots=True)
class GenerationParams:
    temperature: float = 0.0
    max_tokens: int = 512
    top_p: float | None = None
    stream: bool = True
    system_prompt: str | None = None
    timeout_s: float = 120.0


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Everything needed to run (and re-run) a benchmark. Contains no secret.

    ``api_key_name`` names an entry in the secret store; the key itself never lives here.
    """

    provider: str  # "openai" (any OpenAI-compatible server) | "anthropic"
    base_url: str
    model: str
    benchmark: str  # "gsm8k" | "mmlu" | "custom" | ...
    dataset: DatasetRef = field(default_factory=DatasetRef)
    params: GenerationParams = field(default_factory=GenerationParams)
    seed: int | None = None
    limit: int | None = None
    concurrency: int = 8
    scorer: str | None = None  # custom benchmarks: "exact" | "includes" | "regex" | "numeric"
    scorer_arg: str | None = None  # the pattern for the regex scorer
    api_key_name: str | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=_empty)  # benchmark-specific extras

    def to_dict(self) -> dict[str, Any]:
        data = to_plain(self)
        data["tags"] = list(self.tags)
        data["options"] = dict(self.options)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        data = dict(data)
        dataset = DatasetRef(**data.pop("dataset", None) or {})
        params = GenerationParams(**data.pop("params", None) or {})
        tags = tuple(data.pop("tags", None) or ())
        options = MappingProxyType(dict(data.pop("options", None) or {}))
        return cls(dataset=dataset, params=params, tags=tags, options=options, **data)


@dataclass(frozen=True, slots=True)
class RunManifest:
    """What is needed to reproduce a run: versions, dataset hash, full config minus secrets."""

    app_version: str
    python_version: str
    platform: str
    package_versions: Mapping[str, str]
    dataset_sha256: str | None
    dataset_description: str
    n_dataset_samples: int
    config: Mapping[str, Any]
    created_at: str  # ISO 8601, UTC

    def to_dict(self) -> dict[str, Any]:
        data = to_plain(self)
        data["package_versions"] = dict(self.package_versions)
        data["config"] = dict(self.config)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunManifest:
        return cls(**dict(data))


Percentiles = Mapping[str, float | None]  # keys "p50", "p90", "p95", "p99" (and "mean")


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The figures a run ends with (also the CLI's ``--json`` object).

    ``accuracy`` is the share of *answered* samples scored correct; failed samples are
    counted in ``n_failed`` and in ``accuracy_all`` (which scores them as wrong). The
    interval is a 95% Wilson score interval (``accuracy_ci_method``).
    """

    run_id: str
    status: RunStatus
    benchmark: str
    model: str
    n_samples: int
    n_ok: int
    n_failed: int
    n_correct: int
    accuracy: float | None
    accuracy_ci: tuple[float, float] | None
    accuracy_all: float | None
    ttft_ms: Percentiles
    itl_ms: Percentiles
    e2e_ms: Percentiles
    output_tokens_per_s: float | None
    input_tokens: int | None
    output_tokens: int | None
    usage_complete: bool
    duration_s: float | None
    error_counts: Mapping[str, int] = field(default_factory=_empty)
    accuracy_ci_method: str = "wilson"
    message: str | None = None  # why a run failed or was cancelled
    # Speech runs (benchmark "asr"/"tts"): WER, CER, their interval, RTFx, resources…
    # as plain JSON values; see openbench_desktop.core.audio.runner.audio_summary.
    audio: Mapping[str, Any] | None = None
    # Speed runs (benchmark "speed"): the load profile, per-step results under the chosen
    # metric definitions (and all of them side by side), client-limited flags, why the
    # run stopped, as plain JSON values; see openbench_desktop.core.speed.runner.
    speed: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = to_plain(self)
        data["status"] = str(self.status)
        data["accuracy_ci"] = list(self.accuracy_ci) if self.accuracy_ci else None
        for key in ("ttft_ms", "itl_ms", "e2e_ms", "error_counts"):
            data[key] = dict(getattr(self, key))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        data = dict(data)
        data["status"] = RunStatus(data["status"])
        ci = data.get("accuracy_ci")
        data["accuracy_ci"] = (float(ci[0]), float(ci[1])) if ci else None
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run as stored: one row of the history."""

    run_id: str
    created_at: str
    status: RunStatus
    benchmark: str
    model: str
    provider: str
    base_url: str
    name: str | None
    tags: tuple[str, ...]
    n_total: int
    n_ok: int
    n_failed: int
    accuracy: float | None
    duration_s: float | None
    cost_usd: float | None
    spec: RunSpec
    manifest: RunManifest | None
    summary: RunSummary | None
    message: str | None = None
    finished_at: str | None = None
