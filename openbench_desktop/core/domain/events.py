"""Events the engine emits through its callback. Plain frozen data: safe across threads."""

from __future__ import annotations

from dataclasses import dataclass

from openbench_desktop.core.domain.run import RunSpec, RunSummary
from openbench_desktop.core.domain.sample import SampleResult


@dataclass(frozen=True, slots=True)
class RunStarted:
    run_id: str
    spec: RunSpec
    n_total: int


@dataclass(frozen=True, slots=True)
class SamplesFinished:
    """One or more samples finished (the engine may batch them)."""

    run_id: str
    results: tuple[SampleResult, ...]


@dataclass(frozen=True, slots=True)
class Progress:
    run_id: str
    n_done: int
    n_total: int
    n_ok: int
    n_failed: int
    n_correct: int
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class RunFinished:
    run_id: str
    summary: RunSummary


@dataclass(frozen=True, slots=True)
class RunFailed:
    run_id: str
    message: str
    summary: RunSummary | None = None


@dataclass(frozen=True, slots=True)
class RunCancelled:
    run_id: str
    summary: RunSummary


EngineEvent = RunStarted | SamplesFinished | Progress | RunFinished | RunFailed | RunCancelled
