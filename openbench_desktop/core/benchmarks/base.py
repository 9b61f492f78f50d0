"""The interface of a quality benchmark: load samples, then score one answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from openbench_desktop.core.domain import DatasetRef, Sample


@dataclass(frozen=True, slots=True)
class Score:
    extracted: str | None  # what the scorer read out of the output (None: nothing found)
    score: float  # 1.0 correct, 0.0 wrong (fractions allowed for graded scorers)


@dataclass(frozen=True, slots=True)
class LoadedDataset:
    samples: list[Sample]
    sha256: str | None  # content hash of the source bytes (manifest; reproducibility)
    description: str


class Benchmark(Protocol):
    name: str
    title: str

    def load(self, ref: DatasetRef) -> LoadedDataset:
        """Load and validate every sample; raise DatasetError naming file, line and field."""
        ...

    def score(self, sample: Sample, output: str) -> Score: ...
